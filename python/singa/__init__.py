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

__all__ = ["singa_wrap", "__version__"]
