"""Helpers shared by the singa_wrap-level tests (test_core_blas.py, test_core_wide_index.py)."""
import numpy as np

from singa import singa_wrap as sw


def N(t):
    """A core tensor's values as a NumPy array of its own."""
    return np.array(sw.to_numpy(t))


def gemm_backends():
    """The float32 GEMM backends this build has ("openblas", and "dnnl" with oneDNN)."""
    old, found = sw.get_gemm_backend(), []
    for name in ("openblas", "dnnl"):
        try:
            sw.set_gemm_backend(name)
            found.append(name)
        except ValueError:  # a build without oneDNN
            pass
    sw.set_gemm_backend(old)
    return found
