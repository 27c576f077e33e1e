"""singa.tensor's module functions against NumPy: conversions, creation, shape helpers,
element-wise math, reductions, softmax, the arithmetic functions with ``ret``, matrix
products and helpers, tensordot, einsum and the size helpers. The Tensor class itself is
tested in test_tensor.py.
"""

import numpy as np
import pytest

from _tensors import A23, A234, DTYPES, assert_values, shares, tensor_of, values
from singa import tensor


def test_from_numpy_shares_memory_and_converts_dtypes():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tensor.from_numpy(a)
    assert t.data.data_ptr() == a.ctypes.data and t.requires_grad
    for arr, dtype in [(np.array([1, 2], np.int64), tensor.int32),
                       (np.array([1, 65535], np.uint16), tensor.int32),
                       (np.array([True, False]), tensor.float32),
                       (np.array([1.5], np.float64), tensor.float64),
                       (np.array([1.5], np.float16), tensor.float16),
                       (np.arange(6.0).reshape(2, 3).T, tensor.float64),
                       ([1.0, 2.0], tensor.float64), (np.float32(2.0), tensor.float32)]:
        t = tensor.from_numpy(arr)
        assert t.dtype == dtype
        np.testing.assert_array_equal(values(t), np.asarray(arr))
    with pytest.raises(ValueError, match="int32"):
        tensor.from_numpy(np.array([2 ** 40]))
    with pytest.raises(TypeError, match="complex128"):
        tensor.from_numpy(np.array([1j]))


@pytest.mark.parametrize("dtype,np_dtype", DTYPES)
def test_zeros_ones_and_likes(dtype, np_dtype):
    for fn, fill in ((tensor.zeros, 0), (tensor.ones, 1)):
        t = fn((2, 3), dtype=dtype)
        assert t.dtype == dtype
        np.testing.assert_array_equal(values(t), np.full((2, 3), fill, np_dtype))
    assert tensor.zeros(4).shape == (4,)
    src = tensor.Tensor((3, 1), dtype=dtype).set_value(5)
    for fn, fill in ((tensor.zeros_like, 0), (tensor.ones_like, 1)):
        t = fn(src)
        assert t.shape == (3, 1) and t.dtype == dtype and not shares(t, src)
        np.testing.assert_array_equal(values(t), np.full((3, 1), fill, np_dtype))


def test_shape_functions():
    np.testing.assert_array_equal(values(tensor.reshape(tensor_of(A23), (3, 2))), A23.reshape(3, 2))
    np.testing.assert_array_equal(values(tensor.transpose(tensor_of(A23))), A23.T)
    np.testing.assert_array_equal(values(tensor.transpose(tensor_of(A234), (1, 2, 0))),
                                  A234.transpose(1, 2, 0))
    np.testing.assert_array_equal(values(tensor.contiguous(tensor_of(A23).T())), A23.T)
    np.testing.assert_array_equal(values(tensor.repeat(tensor_of(A23), 2)), np.repeat(A23, 2))
    np.testing.assert_array_equal(values(tensor.repeat(tensor_of(A23), [2, 1], 0)),
                                  np.repeat(A23, [2, 1], 0))
    for axis in (0, 1, -1):
        parts = [A23, A23 * 2, A23 + 1]
        joined = tensor.concatenate([tensor_of(p) for p in parts], axis)
        np.testing.assert_array_equal(values(joined), np.concatenate(parts, axis))
    with pytest.raises(ValueError, match="ConcatOn"):
        tensor.concatenate([tensor_of(A23), tensor_of(np.zeros((2, 2)))], 0)


UNARY_MATH = [
    ("abs", np.abs, (-3, 3)), ("exp", np.exp, (-3, 3)), ("ceil", np.ceil, (-3, 3)),
    ("floor", np.floor, (-3, 3)), ("log", np.log, (0.1, 5)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-5, 5)), ("sign", np.sign, (-3, 3)),
    ("sqrt", np.sqrt, (0, 5)), ("square", np.square, (-3, 3)), ("tanh", np.tanh, (-3, 3)),
    ("relu", lambda x: np.maximum(x, 0), (-3, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,ref,domain", UNARY_MATH, ids=[u[0] for u in UNARY_MATH])
def test_unary_math_functions(name, ref, domain, dtype, rng):
    a = rng.uniform(*domain, (3, 4)).astype(dtype)
    a[0, 0] = 0.0 if domain[0] <= 0 else a[0, 0]
    out = getattr(tensor, name)(tensor_of(a, dtype))
    assert values(out).dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_values(out, ref(a.astype(np.float64)), rtol=tol, atol=tol)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sum_and_average(axis, rng):
    a = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    s, m = tensor.sum(tensor_of(a), axis), tensor.average(tensor_of(a), axis)
    if axis is None:
        # SINGA's sum gives a (1, 1) Tensor, its average a float.
        assert isinstance(s, tensor.Tensor) and s.shape == (1, 1) and isinstance(m, float)
        assert float(s) == pytest.approx(a.sum(dtype=np.float64), abs=1e-5)
        assert m == pytest.approx(a.mean(dtype=np.float64), abs=1e-6)
    else:
        assert_values(s, a.sum(axis), atol=1e-5)
        assert_values(m, a.mean(axis), atol=1e-6)
        out = tensor.zeros(a.sum(axis).shape)
        assert tensor.sum(tensor_of(a), axis, out=out) is out
        assert_values(out, a.sum(axis), atol=1e-5)


def test_sum_errors():
    with pytest.raises(IndexError, match="axis 2"):
        tensor.sum(tensor_of(A23), 2)
    with pytest.raises(ValueError, match="CopyData"):
        tensor.sum(tensor_of(A23), 0, out=tensor.zeros((2,)))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax(rng):
    a = rng.uniform(-3, 3, (3, 5)).astype(np.float32)
    assert_values(tensor.softmax(tensor_of(a)), _softmax(a, 1))  # axis 1 by default, SINGA's (N, C)
    assert_values(tensor.softmax(tensor_of(a), axis=0), _softmax(a, 0))
    assert_values(tensor.softmax(tensor_of(a[0])), _softmax(a[0], 0))  # 1-D: the only axis
    out = tensor.zeros((3, 5))
    assert tensor.softmax(tensor_of(a), out=out) is out
    assert_values(out, _softmax(a, 1))


def test_pow_function(rng):
    a, b = rng.uniform(0.5, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))
    assert_values(tensor.pow(tensor_of(a), 2), a ** 2, atol=1e-5)
    assert_values(tensor.pow(tensor_of(a), tensor_of(b)), a ** b, rtol=1e-5)
    out = tensor.zeros((2, 3))
    assert tensor.pow(tensor_of(a), 0.5, out=out) is out
    assert_values(out, a ** 0.5)


BINARY_FNS = [(tensor.add, np.add), (tensor.sub, np.subtract), (tensor.eltwise_mult, np.multiply),
              (tensor.div, np.divide)]


@pytest.mark.parametrize("fn,ref", BINARY_FNS, ids=[f.__name__ for f, _ in BINARY_FNS])
def test_binary_functions_with_and_without_ret(fn, ref, rng):
    a, b = rng.uniform(-3, 3, (2, 3)), rng.uniform(0.5, 3, (3,))
    assert_values(fn(tensor_of(a), tensor_of(b)), ref(a, b), rtol=1e-5)
    assert_values(fn(tensor_of(a), 2.0), ref(a, 2.0), rtol=1e-5)
    ret = tensor.zeros((2, 3))
    assert fn(tensor_of(a), tensor_of(b), ret) is ret
    assert_values(ret, ref(a, b), rtol=1e-5)
    with pytest.raises(ValueError, match="CopyData"):
        fn(tensor_of(a), tensor_of(b), tensor.zeros((3,)))


def test_mult(rng):
    a, b = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (3, 4))
    assert_values(tensor.mult(tensor_of(a), tensor_of(b)), a @ b, atol=1e-5)
    assert_values(tensor.mult(tensor_of(a), tensor_of(b[:, 0])), a @ b[:, 0], atol=1e-5)
    batch = rng.uniform(-1, 1, (5, 2, 3))
    assert_values(tensor.mult(tensor_of(batch), tensor_of(b)), batch @ b, atol=1e-5)
    c0 = rng.uniform(-1, 1, (2, 4))
    c = tensor_of(c0)
    assert tensor.mult(tensor_of(a), tensor_of(b), c, alpha=2.0, beta=3.0) is c
    assert_values(c, 2 * a @ b + 3 * c0, atol=1e-5)
    c = tensor_of(c0)
    tensor.mult(tensor_of(a), tensor_of(b), c)  # beta defaults to 0: C is overwritten
    assert_values(c, a @ b, atol=1e-5)
    with pytest.raises(ValueError, match="not aligned"):
        tensor.mult(tensor_of(a), tensor_of(a))


def test_axpy_and_matrix_helpers(rng):
    x, y0 = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    y = tensor_of(y0)
    assert tensor.axpy(2.5, tensor_of(x), y) is y
    assert_values(y, 2.5 * x + y0)
    col, row = np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    m = tensor_of(y0)
    assert tensor.add_column(2.0, tensor_of(col), 3.0, m) is m
    assert_values(m, 2 * col[:, None] + 3 * y0)
    m = tensor_of(y0)
    assert tensor.add_row(2.0, tensor_of(row), 0.5, m) is m
    assert_values(m, 2 * row[None, :] + 0.5 * y0)
    assert_values(tensor.sum_columns(tensor_of(y0)), y0.sum(1))
    assert_values(tensor.sum_rows(tensor_of(y0)), y0.sum(0))
    for method, ref in (("add_column", y0 + col[:, None]), ("add_row", y0 + row),
                        ("mult_column", y0 * col[:, None]), ("mult_row", y0 * row),
                        ("div_column", y0 / col[:, None]), ("div_row", y0 / row)):
        m = tensor_of(y0)
        vec = col if method.endswith("column") else row
        assert getattr(m, method)(tensor_of(vec)) is m
        assert_values(m, ref)
    with pytest.raises(ValueError, match="AddColumnWithScale"):
        tensor.add_column(1.0, tensor_of(row), 1.0, tensor_of(y0))


TENSORDOT = [((2, 3, 4), (3, 4, 5), 2), ((2, 3, 4), (4, 2), 1), ((2,), (3,), 0),
             ((2, 3, 4), (4, 3, 2), ([1, 2], [1, 0])), ((2, 3, 4), (4, 3, 2), (2, 0)),
             ((2, 3, 4), (4, 3, 2), (-1, 0)), ((2, 3, 4), (3, 4, 5), ([1, 2], [0, 1])),
             ((3, 4), (4, 3), ([0, 1], [1, 0]))]


@pytest.mark.parametrize("sa,sb,axes", TENSORDOT, ids=[str(t) for t in TENSORDOT])
def test_tensordot(sa, sb, axes, rng):
    a, b = rng.uniform(-1, 1, sa), rng.uniform(-1, 1, sb)
    got = tensor.tensordot(tensor_of(a), tensor_of(b), axes)
    assert_values(got, np.tensordot(a, b, axes), atol=1e-5)


def test_tensordot_shape_mismatch():
    a = tensor_of(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"tensordot: shape mismatch.*\(axis 2\).*\(axis 0\)"):
        tensor.tensordot(a, a, 1)


def test_tensordot_axis_lists_of_different_lengths():
    with pytest.raises(ValueError, match="tensordot"):
        tensor.tensordot(tensor_of(np.ones((2, 3, 4))), tensor_of(np.ones((3, 4, 5))),
                         ([1, 2], [0]))


EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]), ("ij->j", [(2, 3)]),
          ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,j->ij", [(3,), (4,)]),
          ("ii->i", [(3, 3)]), ("ijk->kij", [(2, 3, 4)])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("subscripts,shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(subscripts, shapes, dtype, rng):
    arrays = [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]
    out = tensor.einsum(subscripts, *[tensor_of(a, dtype) for a in arrays])
    assert values(out).dtype == dtype
    assert_values(out, np.einsum(subscripts, *arrays), atol=1e-5)


@pytest.mark.parametrize("subscripts,shapes", [("ii", [(3, 3)]), ("i,i->", [(3,), (3,)])])
def test_einsum_to_a_scalar(subscripts, shapes, rng):
    arrays = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    got = tensor.einsum(subscripts, *[tensor_of(a) for a in arrays])
    assert_values(got, np.einsum(subscripts, *arrays))


def test_product():
    assert tensor.product((2, 3, 4)) == 24 and tensor.product(()) == 1
    assert tensor.product([5]) == 5


def test_from_raw_tensors_wraps_core_tensors():
    cores = [tensor_of(A23).data, tensor_of(A234).data]
    ts = tensor.from_raw_tensors(cores)
    assert all(isinstance(t, tensor.Tensor) and t.data is c for t, c in zip(ts, cores))
    assert len(ts) == 2
    assert tensor.from_raw_tensor(cores[0]).data is cores[0]
