"""Helpers the GPU tests share (the fixtures are in conftest.py)."""

import numpy as np

from singa import singa_wrap as sw


def tolerance(dtype, reduced=1):
    """(rtol, atol) for a result of `dtype` that sums `reduced` terms per element: float32
    rounding grows about with the square root of the reduction length."""
    base = {np.float64: 1e-12, np.float32: 2e-6, np.float16: 2e-3}.get(np.dtype(dtype).type, 2e-2)
    scale = max(1.0, float(np.sqrt(reduced)))
    return base * scale * 4, base * scale * 4


# A core tensor of `a` on `dev`; a core tensor's values; a result's values, checked to be
# on the GPU.
def on(dev, a):
    return sw.from_numpy(np.array(a, copy=True, order="C"), dev)


def N(t):
    return np.array(sw.to_numpy(t))


def check_on(gpu, t):
    assert t.device() == gpu, "the result left the GPU"
    return N(t)
