"""Helpers shared by the tests: core-tensor views and GEMM backends (test_core_blas.py,
test_core_wide_index.py), graph leaves (test_autograd_engine.py, test_autograd_overhead.py)."""
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


def leaf(a, requires_grad=True, stores_grad=False):
    """A float32 Tensor of ``a`` as a graph input (requires_grad / stores_grad as given)."""
    from singa import tensor
    t = tensor.from_numpy(np.ascontiguousarray(np.asarray(a, np.float32)))
    t.requires_grad = requires_grad
    t.stores_grad = stores_grad
    return t
