"""Helpers shared by test_tensor.py and test_tensor_functions.py."""

import numpy as np

from singa import tensor

# (singa dtype, NumPy dtype) for every dtype a Tensor can hold
DTYPES = [(tensor.float32, np.float32), (tensor.float64, np.float64),
          (tensor.int32, np.int32), (tensor.float16, np.float16)]

A23 = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
A234 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def tensor_of(a, dtype=np.float32):
    """A Tensor holding array-like ``a`` converted to ``dtype``."""
    return tensor.from_numpy(np.array(a, dtype=dtype))


def values(t):
    return tensor.to_numpy(t)


def assert_values(t, want, rtol=1e-5, atol=1e-6):
    """Asserts Tensor ``t`` has ``want``'s shape and values."""
    got = values(t)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def shares(x, y):
    return x.data.shares_memory(y.data)
