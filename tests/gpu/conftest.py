"""GPU tests: collected on every machine, run where a CUDA GPU is usable.

Each test takes the ``gpu`` fixture: the CUDA device 0, or a skip that says why there is
none (a CPU-only build, no driver, zero devices). ``SINGA_GPU_TEST_DEVICE=test`` runs them
against a host-memory test device whose memory the core treats as a GPU's
(``device.create_test_device(host_memory=False)``): that checks the tests themselves, and
the device-agnostic entry points, on a machine without a GPU.

References come from ``xp`` (the ``ref`` fixture): CuPy on a real GPU when it imports (a
second GPU implementation to agree with; TF32 stays off, CuPy's default), NumPy otherwise.
"""

import os

import numpy as np
import pytest

from singa import device
from singa import singa_wrap as sw


def _usable_gpu():
    """(device, None) or (None, why there is none)."""
    if os.environ.get("SINGA_GPU_TEST_DEVICE") == "test":
        return device.create_test_device(host_memory=False), None
    if not sw.USE_CUDA:
        return None, "singa was built without CUDA (singa_wrap.USE_CUDA is False)"
    why = sw.Platform.GpuUnavailableReason()
    if why:
        return None, "no CUDA GPU: " + why
    return device.create_cuda_gpu(), None


_GPU, _WHY = None, None


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(scope="session")
def gpu():
    global _GPU, _WHY
    if _GPU is None and _WHY is None:
        _GPU, _WHY = _usable_gpu()
    if _GPU is None:
        pytest.skip(_WHY)
    return _GPU


class Reference:
    """Computes references with CuPy on a real GPU, else NumPy; results come back as NumPy."""

    def __init__(self, real_gpu):
        self.xp = np
        if real_gpu:
            try:
                import cupy
                self.xp = cupy
            except ImportError:
                pass

    @property
    def name(self):
        return self.xp.__name__

    def asarray(self, a):
        return self.xp.asarray(a)

    def numpy(self, a):
        return a.get() if hasattr(a, "get") else np.asarray(a)


@pytest.fixture(scope="session")
def ref(gpu):
    return Reference(real_gpu=gpu.lang() == sw.kCuda)
