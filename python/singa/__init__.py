"""singa: a define-by-run deep-learning framework with a C++ core.

The public modules follow Apache SINGA's Python API: ``singa.device``,
``singa.tensor``, ``singa.autograd``, ``singa.layer``, ``singa.model``,
``singa.opt`` and ``singa.initializer``.
"""

# Preloads the OpenBLAS shared library the extension links against.
import scipy_openblas32  # noqa: F401


def _preload_dnnl():
    """Load oneDNN (the onednn-cpu-gomp wheel puts libdnnl.so.3 in <sys.prefix>/lib) globally
    before the extension, so it resolves whatever rpath the extension was built with.
    Quietly does nothing when the wheel is absent: the extension then either runs without
    oneDNN or finds it through its rpath."""
    import ctypes
    import os
    import sys

    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        path = os.path.join(prefix, "lib", "libdnnl.so.3")
        if os.path.exists(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                pass


_preload_dnnl()

from . import singa_wrap  # noqa: E402
from . import config  # noqa: E402

# Decaying running averages reach denormal floats, which are many times slower: kernel
# threads flush them to zero unless SINGA_FLUSH_DENORMALS=0.
singa_wrap.SetFlushDenormals(config.flush_denormals())

__version__ = "0.1.0"


def set_deterministic(on=True):
    """Asks for bit-identical results from two runs of the same program at the same
    thread count (with the same ``Device.SetRandSeed`` seed and data order).

    On, oneDNN primitives are built with oneDNN's deterministic attribute where the
    linked oneDNN has one (3.4 and later; primitives are cached per mode). singa's own
    kernels sum in a fixed order at a given thread count either way, random fills and
    dropout masks come from the device's counter-based generator, and oneDNN 3.2's CPU
    primitives repeat their results, so with the oneDNN this package pins the mode
    changes no result: it states the requirement, and keeps it on a newer oneDNN.
    Results still differ between thread counts (``OMP_NUM_THREADS``), since the work
    is split, and partial sums are combined, per thread.

    Args:
        on: True or False (a bool; other values raise TypeError).
    """
    if not isinstance(on, bool):
        raise TypeError("set_deterministic: on must be True or False, got {!r}".format(on))
    singa_wrap.set_deterministic(on)


def is_deterministic():
    """Whether :func:`set_deterministic` switched deterministic mode on (off by default)."""
    return singa_wrap.is_deterministic()


__all__ = ["singa_wrap", "__version__", "set_deterministic", "is_deterministic"]
