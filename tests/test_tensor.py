"""singa.tensor (SINGA's Python Tensor API) against NumPy.

The Tensor class: construction, attributes, views and copies, dtype conversion, random
fills, every operator (with broadcasting and the core's dtype rules) and basic indexing
(the module functions are in test_tensor_functions.py).
"""

import operator

import numpy as np
import pytest

from _tensors import A23, A234, DTYPES, assert_values, shares, tensor_of, values
from singa import autograd, device, tensor


# ------------------------------------------------------------------- construction

@pytest.mark.parametrize("dtype,np_dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (4,), (1, 1, 5), ()])
def test_constructor_shape_dtype_and_zero_fill(shape, dtype, np_dtype):
    t = tensor.Tensor(shape, dtype=dtype)
    assert t.shape == shape and t.dtype == dtype
    np.testing.assert_array_equal(values(t), np.zeros(shape, np_dtype))
    assert values(t).dtype == np_dtype


@pytest.mark.parametrize("n", [6, 1 << 16])
def test_new_tensor_never_shows_freed_memory(n):
    # The allocator hands a freed block straight back for the same size; before the fix
    # Tensor(shape) showed the previous tensor's values.
    for _ in range(3):
        old = tensor.Tensor((n,)).set_value(7.0)
        del old
        assert not np.any(values(tensor.Tensor((n,))))
    assert not np.any(values(tensor.Tensor((2, 3))))


def test_constructor_defaults_and_flags():
    t = tensor.Tensor()
    assert t.shape == () and t.dtype == tensor.float32
    assert t.requires_grad and not t.stores_grad and t.name is None
    assert isinstance(t.creator, autograd.Dummy)
    assert t.device.id() == device.get_default_device().id() == -1
    w = tensor.Tensor([3, 2], device.create_cpu_device(), requires_grad=False,
                      stores_grad=True, name="W")
    assert w.shape == (3, 2) and not w.requires_grad and w.stores_grad and w.name == "W"
    assert tensor.Tensor(4).shape == (4,)


def test_constructor_from_data():
    a = np.arange(6, dtype=np.float64).reshape(2, 3) + 0.5
    t = tensor.Tensor(data=a)
    assert t.dtype == tensor.float32  # the dtype argument wins over the array's
    assert_values(t, a)
    a[0, 0] = 100.0
    assert values(t)[0, 0] == 0.5  # copied, not shared
    t64 = tensor.Tensor(data=a, dtype=tensor.float64)
    assert t64.dtype == tensor.float64 and values(t64)[0, 0] == 100.0
    ti = tensor.Tensor(data=np.array([1.7, -2.2]), dtype=tensor.int32)
    np.testing.assert_array_equal(values(ti), [1, -2])
    core = t.data
    assert tensor.Tensor(data=core).data is core


@pytest.mark.parametrize("kwargs,exc,words", [
    ({"data": [1.0, 2.0]}, TypeError, "data must be"),
    ({"shape": (2,), "dtype": 99}, TypeError, "unsupported dtype"),
    ({"shape": (2,), "dtype": "float32"}, TypeError, "unsupported dtype"),
])
def test_constructor_rejects_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        tensor.Tensor(**kwargs)


@pytest.mark.parametrize("dtype,np_dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (5,), (2, 1, 4), (0, 3)])
def test_attributes(shape, dtype, np_dtype):
    t = tensor.Tensor(shape, dtype=dtype)
    n = int(np.prod(shape))
    assert t.shape == shape and t.ndim() == len(shape) and t.size() == n
    assert t.memsize() == n * np.dtype(np_dtype).itemsize
    assert t.is_empty() == (n == 0)
    assert not t.is_transpose()
    assert tensor.sizeof(dtype) == np.dtype(np_dtype).itemsize


def test_len_and_repr():
    t = tensor_of(np.arange(6).reshape(2, 3))
    assert len(t) == 2
    with pytest.raises(TypeError, match="0-d"):
        len(tensor.Tensor(()))
    r = repr(t)
    assert "shape=(2, 3)" in r and "float32" in r and "cpu" in r and "[[0. 1. 2.]" in r


def test_l1_l2_follow_singa_definitions():
    a = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    assert tensor_of(a).l1() == pytest.approx(np.abs(a).sum() / a.size)
    assert tensor_of(a).l2() == pytest.approx(np.sqrt((a.astype(np.float64) ** 2).sum()) / a.size)


# ------------------------------------------------------------ shapes and views

SHAPE_METHODS = [
    ("reshape", lambda t: t.reshape((3, 2)), lambda a: a.reshape(3, 2), A23),
    ("reshape-1", lambda t: t.reshape((-1,)), lambda a: a.reshape(-1), A23),
    ("reshape-int", lambda t: t.reshape(6), lambda a: a.reshape(6), A23),
    ("reshape-3d", lambda t: t.reshape([4, -1, 2]), lambda a: a.reshape(4, 3, 2), A234),
    ("transpose", lambda t: t.transpose(), lambda a: a.T, A234),
    ("transpose-axes", lambda t: t.transpose((2, 0, 1)), lambda a: a.transpose(2, 0, 1), A234),
    ("T", lambda t: t.T(), lambda a: a.T, A23),
    ("contiguous", lambda t: t.T().contiguous(), lambda a: a.T, A23),
    ("reshape-of-transposed", lambda t: t.T().reshape((6,)), lambda a: a.T.reshape(6), A23),
    ("repeat-axis1", lambda t: t.repeat(2, 1), lambda a: np.repeat(a, 2, 1), A23),
    ("repeat-axis0", lambda t: t.repeat(3, 0), lambda a: np.repeat(a, 3, 0), A23),
    ("repeat-flat", lambda t: t.repeat(2, None), lambda a: np.repeat(a, 2), A23),
    ("repeat-counts", lambda t: t.repeat([1, 0, 2], 1), lambda a: np.repeat(a, [1, 0, 2], 1), A23),
]


@pytest.mark.parametrize("name,fn,ref,a", SHAPE_METHODS, ids=[s[0] for s in SHAPE_METHODS])
def test_shape_methods(name, fn, ref, a):
    np.testing.assert_array_equal(values(fn(tensor_of(a))), ref(a))


def test_views_share_memory_and_contiguous_copies_only_when_needed():
    t = tensor_of(A23)
    assert shares(t.reshape((6,)), t) and shares(t.T(), t) and shares(t.copy(), t)
    assert t.T().is_transpose() and not t.T().data.IsContiguous()
    assert t.contiguous().data is t.data or shares(t.contiguous(), t)
    c = t.T().contiguous()
    assert c.data.IsContiguous() and not shares(c, t)


@pytest.mark.parametrize("fn,exc,words", [
    (lambda t: t.reshape((4, 2)), ValueError, "cannot reshape"),
    (lambda t: t.transpose((0, 0)), ValueError, "permutation"),
    (lambda t: t.repeat(2, 5), IndexError, "axis 5"),
    (lambda t: t.repeat([1, 2], 1), ValueError, "repeat counts"),
    (lambda t: t.as_type(np.float32), TypeError, "unsupported dtype"),
    (lambda t: t.to_type(9), TypeError, "unsupported dtype"),
])
def test_method_errors(fn, exc, words):
    with pytest.raises(exc, match=words):
        fn(tensor_of(A23))


# ---------------------------------------------------------------- types, copies

@pytest.mark.parametrize("dst,np_dst", DTYPES)
@pytest.mark.parametrize("src,np_src", DTYPES[:3])
def test_as_type_and_to_type(src, np_src, dst, np_dst):
    a = np.array([[0.0, 1.5, -2.5], [3.25, -4.75, 6.0]]).astype(np_src)
    t = tensor_of(a, np_src)
    c = t.as_type(dst)
    assert c.dtype == dst and t.dtype == src
    if dst != src:  # the same dtype gives a view, as SINGA's core AsType does
        assert not shares(c, t)
    want = a.astype(np_dst)
    np.testing.assert_array_equal(values(c), want)  # float -> int truncates, as astype does
    assert t.to_type(dst) is t and t.dtype == dst
    np.testing.assert_array_equal(values(t), want)


@pytest.mark.parametrize("dtype,np_dtype", DTYPES[:3])
def test_set_value(dtype, np_dtype):
    t = tensor.Tensor((2, 3), dtype=dtype)
    assert t.set_value(3) is t
    np.testing.assert_array_equal(values(t), np.full((2, 3), 3, np_dtype))
    other = t.set_value(-1.5, inplace=False)
    assert other is not t and not shares(other, t)
    np.testing.assert_array_equal(values(t), np.full((2, 3), 3, np_dtype))
    np.testing.assert_array_equal(values(other), np.full((2, 3), -1.5).astype(np_dtype))


def test_copy_from_numpy():
    t = tensor.Tensor((2, 3))
    t.copy_from_numpy(np.arange(6, dtype=np.float64))  # converted to the tensor's dtype
    np.testing.assert_array_equal(values(t), np.arange(6).reshape(2, 3))
    t.copy_from_numpy(np.array([9, 8]), offset=3)
    np.testing.assert_array_equal(values(t).reshape(-1), [0, 1, 2, 9, 8, 5])
    with pytest.raises(ValueError, match="do not fit"):
        t.copy_from_numpy(np.ones(5), offset=3)


def test_copy_from_copy_data_and_copy_data_to_from():
    dst = tensor.Tensor((6,))
    dst.copy_from(tensor_of([1, 2]), 3)
    np.testing.assert_array_equal(values(dst), [0, 0, 0, 1, 2, 0])
    m = tensor.Tensor((2, 3))
    m.copy_data(tensor_of(A23))
    np.testing.assert_array_equal(values(m), A23)
    with pytest.raises(ValueError, match="CopyData"):
        tensor.Tensor((2,)).copy_data(tensor_of(A23))
    d = tensor.zeros((5,))
    tensor.copy_data_to_from(d, tensor_of(A23), 3, 1, 2)
    np.testing.assert_array_equal(values(d), [0, 0, 1, 2, 0])
    with pytest.raises(ValueError, match="CopyDataToFrom"):
        tensor.copy_data_to_from(tensor.zeros((2,)), tensor_of(A23), 3)


def test_clone_copy_deepcopy_to_host():
    t = tensor_of(A23)
    shallow, deep, cloned = t.copy(), t.deepcopy(), t.clone()
    t += 10
    np.testing.assert_array_equal(values(shallow), A23 + 10)
    np.testing.assert_array_equal(values(deep), A23)
    np.testing.assert_array_equal(values(cloned), A23)
    assert isinstance(cloned.creator, autograd.Dummy) and cloned.creator is not t.creator
    host = tensor.to_host(t)
    assert not shares(host, t) and host.device.id() == -1
    np.testing.assert_array_equal(values(host), A23 + 10)


def test_to_numpy_is_a_snapshot_and_to_numpy_view_shares_memory():
    t = tensor_of(A23)
    snap, view, method_view = tensor.to_numpy(t), tensor.to_numpy_view(t), t.numpy()
    t += 1  # an optimizer step updates parameters like this
    np.testing.assert_array_equal(snap, A23)
    np.testing.assert_array_equal(view, A23 + 1)
    np.testing.assert_array_equal(method_view, A23 + 1)
    assert not np.shares_memory(tensor.to_numpy(t), tensor.to_numpy_view(t))
    np.testing.assert_array_equal(tensor.to_numpy(t.T()), (A23 + 1).T)
    np.testing.assert_array_equal(np.array(t), A23 + 1)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


# ------------------------------------------------------------------ random fills

@pytest.mark.parametrize("fill", [
    lambda t: t.uniform(-1.0, 3.0), lambda t: t.gaussian(2.0, 0.5), lambda t: t.bernoulli(0.3),
    lambda t: tensor.uniform(-1.0, 3.0, t), lambda t: tensor.gaussian(2.0, 0.5, t),
    lambda t: tensor.bernoulli(0.3, t)])
def test_random_fills_are_reproducible_with_a_seed(fill):
    dev = device.get_default_device()
    runs = []
    for seed in (11, 11, 12):
        dev.SetRandSeed(seed)
        t = tensor.Tensor((200,))
        assert fill(t) is t
        runs.append(values(t))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


@pytest.mark.parametrize("dtype,np_dtype", DTYPES[:2])
def test_random_fill_ranges_and_moments(dtype, np_dtype):
    device.get_default_device().SetRandSeed(3)
    n = 20000
    u = values(tensor.Tensor((n,), dtype=dtype).uniform(-1.0, 3.0))
    assert u.dtype == np_dtype and u.min() >= -1.0 and u.max() < 3.0
    assert u.mean() == pytest.approx(1.0, abs=0.05) and u.min() < -0.99 and u.max() > 2.99
    g = values(tensor.Tensor((n,), dtype=dtype).gaussian(2.0, 0.5))
    assert g.mean() == pytest.approx(2.0, abs=0.02) and g.std() == pytest.approx(0.5, abs=0.02)
    b = values(tensor.Tensor((n,), dtype=dtype).bernoulli(0.3))
    assert set(np.unique(b)) == {0.0, 1.0} and b.mean() == pytest.approx(0.3, abs=0.02)
    r = values(tensor.random((n,)))
    assert r.dtype == np.float32 and r.min() >= 0.0 and r.max() < 1.0
    assert r.mean() == pytest.approx(0.5, abs=0.02)


# --------------------------------------------------------------------- operators

def _operands(rng, op_name, sa, sb):
    """Operands in each operator's safe domain: positive bases for **, divisors away
    from zero, and small integers for // (quotients far from rounding boundaries)."""
    if op_name == "**":
        return rng.uniform(0.5, 2.0, sa), rng.uniform(-2.0, 2.0, sb)
    if op_name == "//":
        return (rng.integers(-6, 7, sa).astype(np.float64),
                rng.choice([-4.0, -2.5, -1.5, 1.5, 2.0, 2.5, 4.0], sb))
    if op_name == "/":
        return rng.uniform(-3, 3, sa), rng.choice([-1, 1], sb) * rng.uniform(0.5, 3, sb)
    return rng.uniform(-3, 3, sa), rng.uniform(-3, 3, sb)


ARITH = [("+", operator.add), ("-", operator.sub), ("*", operator.mul),
         ("/", operator.truediv), ("//", operator.floordiv), ("**", operator.pow)]
COMPARE = [("<", operator.lt), ("<=", operator.le), (">", operator.gt), (">=", operator.ge),
           ("==", operator.eq)]
BROADCAST = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 1), (1, 3)),
             ((4, 1, 3), (2, 1)), ((3,), (2, 3)), ((1,), (2, 2)), ((2, 3), ())]


@pytest.mark.parametrize("sa,sb", BROADCAST)
@pytest.mark.parametrize("name,op", ARITH, ids=[a[0] for a in ARITH])
def test_arithmetic_tensor_tensor(name, op, sa, sb, rng):
    a, b = _operands(rng, name, sa, sb)
    out = op(tensor_of(a), tensor_of(b))
    assert out.dtype == tensor.float32
    assert_values(out, op(a.astype(np.float32), b.astype(np.float32)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scalar", [2, -1.5, 0.25])
@pytest.mark.parametrize("name,op", ARITH, ids=[a[0] for a in ARITH])
def test_arithmetic_tensor_scalar(name, op, scalar, rng):
    a, _ = _operands(rng, name, (3, 4), ())
    assert_values(op(tensor_of(a), scalar), op(a.astype(np.float32), np.float32(scalar)), atol=1e-5)


REFLECTED = [r for r in ARITH if r[0] != "//"]


@pytest.mark.parametrize("scalar", [2, 1.5, 0.25])
@pytest.mark.parametrize("name,op", REFLECTED, ids=[a[0] for a in REFLECTED])
def test_reflected_arithmetic(name, op, scalar, rng):
    a = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4))
    if name == "**":
        a = np.abs(a)
    assert_values(op(scalar, tensor_of(a)), op(np.float32(scalar), a.astype(np.float32)), atol=1e-5)


def test_reflected_floordiv():
    b = np.array([2.0, -2.0, 1.5, -4.0], np.float32)
    assert_values(7 // tensor_of(b), 7 // b)


def test_int_floordiv_floors_negative_quotients():
    a, b = np.array([7, -7, 7, -7, 6], np.int32), np.array([2, 2, -2, -2, 3], np.int32)
    got = values(tensor_of(a, np.int32) // tensor_of(b, np.int32))
    np.testing.assert_array_equal(got, a // b)
    np.testing.assert_array_equal(values(tensor_of(a, np.int32) // 2), a // 2)


def test_int_true_division_truncates_like_the_core():
    # The core's rule for int32 / int32: the result stays int32, truncated toward zero.
    a, b = np.array([7, -7, 9], np.int32), np.array([2, 2, -4], np.int32)
    out = tensor_of(a, np.int32) / tensor_of(b, np.int32)
    assert out.dtype == tensor.int32
    np.testing.assert_array_equal(values(out), np.trunc(a / b))


@pytest.mark.parametrize("sa,sb", BROADCAST[:6])
@pytest.mark.parametrize("name,op", COMPARE, ids=[c[0] for c in COMPARE])
def test_comparisons(name, op, sa, sb, rng):
    a, b = rng.integers(-2, 3, sa).astype(np.float32), rng.integers(-2, 3, sb).astype(np.float32)
    out = op(tensor_of(a), tensor_of(b))
    assert out.dtype == tensor.float32  # SINGA returns 1.0 / 0.0, not booleans
    np.testing.assert_array_equal(values(out), op(a, b).astype(np.float32))
    np.testing.assert_array_equal(values(op(tensor_of(a), 0)), op(a, 0).astype(np.float32))
    np.testing.assert_array_equal(values(op(0, tensor_of(a))), op(0, a).astype(np.float32))


@pytest.mark.parametrize("fn,op", [(tensor.lt, operator.lt), (tensor.le, operator.le),
                                   (tensor.gt, operator.gt), (tensor.ge, operator.ge),
                                   (tensor.eq, operator.eq)])
def test_comparison_functions(fn, op):
    a, b = np.array([[-1, 0, 2], [3, 0, -2]], np.float32), np.array([0, 0, 2], np.float32)
    np.testing.assert_array_equal(values(fn(tensor_of(a), tensor_of(b))), op(a, b))
    np.testing.assert_array_equal(values(fn(tensor_of(a), 0.0)), op(a, 0.0))


def test_not_equal_is_element_wise():
    a, b = np.array([1, 2, 3], np.float32), np.array([1, 0, 3], np.float32)
    out = tensor_of(a) != tensor_of(b)
    assert isinstance(out, tensor.Tensor), out
    np.testing.assert_array_equal(values(out), (a != b).astype(np.float32))


def test_eq_none_is_false_and_hash_is_identity():
    t = tensor_of([1.0])
    assert t.__eq__(None) is False  # SINGA code compares tensors with None
    assert hash(t) == hash(t) and {t: 1}[t] == 1 and len({t, tensor_of([1.0])}) == 2


@pytest.mark.parametrize("fn,ref", [(operator.neg, np.negative), (abs, np.abs),
                                    (tensor.abs, np.abs)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_unary_operators(fn, ref, dtype):
    a = np.array([[1, -2, 0], [-4, 5, -6]], dtype)
    out = fn(tensor_of(a, dtype))
    assert values(out).dtype == dtype
    np.testing.assert_array_equal(values(out), ref(a))


INPLACE = [("+=", operator.iadd, operator.add), ("-=", operator.isub, operator.sub),
           ("*=", operator.imul, operator.mul), ("/=", operator.itruediv, operator.truediv)]


@pytest.mark.parametrize("rhs_shape", [(2, 3), (3,), (1, 3), (2, 1), None])
@pytest.mark.parametrize("name,iop,op", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_operators(name, iop, op, rhs_shape, rng):
    a = rng.uniform(-3, 3, (2, 3)).astype(np.float32)
    b = 1.5 if rhs_shape is None else rng.uniform(0.5, 2, rhs_shape).astype(np.float32)
    t = tensor_of(a)
    ptr = t.data.data_ptr()
    res = iop(t, tensor_of(b) if rhs_shape is not None else b)
    assert res is t and t.data.data_ptr() == ptr and t.shape == (2, 3)
    assert_values(t, op(a, b))


def test_inplace_on_views_writes_through():
    t = tensor_of(A23)
    v = t[1:, ::2]
    v += 10
    w = t[..., 0]
    w *= 0
    want = A23.copy()
    want[1:, ::2] += 10
    want[..., 0] = 0
    np.testing.assert_array_equal(values(t), want)


def test_broadcast_mismatch_names_operator_and_shapes():
    with pytest.raises(ValueError, match=r"__add__.*\(2, 3\).*\(2,\)"):
        tensor_of(A23) + tensor_of([1.0, 2.0])
    t = tensor_of(np.ones(3))
    with pytest.raises(ValueError, match="__iadd__"):  # in place cannot grow the tensor
        t += tensor_of(np.ones((2, 3)))


DTYPE_RULES = [
    # (left, right, result): equal dtypes are kept; mixed dtypes compute in float32
    (np.float32, np.float32, np.float32), (np.float64, np.float64, np.float64),
    (np.int32, np.int32, np.int32), (np.float16, np.float16, np.float16),
    (np.float64, np.float32, np.float32), (np.float32, np.float64, np.float32),
    (np.int32, np.float64, np.float32), (np.float64, np.int32, np.float32),
    (np.float16, np.float32, np.float32), (np.int32, np.float16, np.float32),
]


@pytest.mark.parametrize("left,right,result", DTYPE_RULES)
@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.lt],
                         ids=["add", "mul", "lt"])
def test_dtype_rules_tensor_tensor(left, right, result, op):
    a, b = np.array([1, 2, 3], left), np.array([3, 2, 1], right)
    out = op(tensor_of(a, left), tensor_of(b, right))
    assert values(out).dtype == result
    np.testing.assert_array_equal(values(out), op(a.astype(np.float64), b).astype(result))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32])
def test_dtype_rules_tensor_scalar(dtype):
    a = np.array([1, 2, 3], dtype)
    t = tensor_of(a, dtype)
    for scalar in (2, 2.0):
        assert values(t + scalar).dtype == dtype and values(t * scalar).dtype == dtype
        assert values(scalar - t).dtype == dtype and values(t < scalar).dtype == dtype
    # an integer tensor meets a non-integer scalar in float32
    want = np.float32 if dtype == np.int32 else dtype
    out = t + 2.5
    assert values(out).dtype == want
    np.testing.assert_array_equal(values(out), (a + 2.5).astype(want))


# ---------------------------------------------------------------------- indexing

GET_KEYS = [0, -1, 1, (0, 1), (-1, -2, -3), (1, 2, 3), slice(1, None), slice(None, 1),
            (slice(None), slice(None, None, 2)), (0, slice(2, 0, -1)),
            (0, 0, slice(None, 0, -1)), (slice(None), slice(1, 3), slice(None, None, 3)),
            (Ellipsis, 0), (0, Ellipsis), (Ellipsis,), (Ellipsis, slice(1, 3)),
            (slice(None), Ellipsis, -1), None, (None, 0), (0, None, 1), (Ellipsis, None),
            (slice(None), None, 0), (0, Ellipsis, None), slice(5, 10), slice(0, 0),
            slice(-100, 100), (1, slice(None), slice(1, 3)), np.int64(1), (np.int32(-1), 0)]


@pytest.mark.parametrize("key", GET_KEYS, ids=[repr(k) for k in GET_KEYS])
def test_getitem_matches_numpy(key):
    t = tensor_of(A234)
    view = t[key]
    want = A234[key]
    got = values(view)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    if view.size():
        assert shares(view, t)


def test_getitem_pins_the_forms_that_used_to_raise():
    # Until the fix every t[...] raised AttributeError (the module's own sum shadowed
    # the builtin inside the indexer).
    t = tensor_of(A23)
    np.testing.assert_array_equal(values(t[0]), A23[0])
    np.testing.assert_array_equal(values(t[1:, ::2]), A23[1:, ::2])
    np.testing.assert_array_equal(values(t[..., 0]), A23[..., 0])
    assert t[0, 1].shape == () and float(values(t[0, 1])) == A23[0, 1]


NEGATIVE_STEP_TO_START = [slice(None, None, -1), (0, slice(None, None, -2)),
                          (0, slice(-1, -4, -1)), (0, 0, slice(3, None, -1)),
                          (slice(None, None, 3), slice(None, None, -2), slice(None, None, -3))]


@pytest.mark.parametrize("key", NEGATIVE_STEP_TO_START,
                         ids=[repr(k) for k in NEGATIVE_STEP_TO_START])
def test_getitem_negative_step_to_the_start(key):
    got, want = values(tensor_of(A234)[key]), A234[key]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("key,words", [
    (2, "index 2 is out of bounds for axis 0 with size 2"),
    (-3, "index -3 is out of bounds for axis 0 with size 2"),
    ((slice(None), 3), "index 3 is out of bounds for axis 1 with size 3"),
    ((slice(None), slice(None), -5), "index -5 is out of bounds for axis 2 with size 4"),
    ((0, 0, 0, 0), "too many indices"),
    ((Ellipsis, Ellipsis), "single ellipsis"),
    (1.5, "got float"),
    ([0, 1], "got list"),
])
def test_getitem_errors(key, words):
    with pytest.raises(IndexError, match=words):
        tensor_of(A234)[key]


@pytest.mark.parametrize("key,axis,size", [((0, 3), 1, 3), ((0, 0, 4), 2, 4), ((1, -4), 1, 3)])
def test_getitem_error_names_the_input_axis(key, axis, size):
    with pytest.raises(IndexError) as err:
        tensor_of(A234)[key]
    assert "for axis {} with size {}".format(axis, size) in str(err.value)


def test_getitem_on_a_0d_tensor():
    t = tensor_of(np.float32(3.0))
    assert t.shape == () and float(values(t[...])) == 3.0
    with pytest.raises(IndexError, match="too many indices"):
        t[0]


SET_CASES = [
    (0, 5.0), (-1, 2), ((slice(None), 1), 7.0), ((Ellipsis, 0), np.array([1.0, 2.0, 3.0])),
    ((0, slice(None, None, 2)), np.arange(8.0).reshape(2, 4)), ((1, 2, 3), -1.0),
    (-1, np.full((3, 4), 9.0, np.float32)), ((0,), np.arange(4, dtype=np.float32)),
    (None, 3.0), ((slice(None), slice(1, None), slice(None, None, 3)), np.array([[1.0, 2.0]])),
    ((1, slice(2, 0, -1)), np.ones((1, 4))),
]


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("key,value", SET_CASES, ids=[repr(k) for k, _ in SET_CASES])
def test_setitem_matches_numpy(key, value, as_tensor):
    want = A234.copy()
    want[key] = value
    t = tensor_of(A234)
    t[key] = tensor_of(value) if as_tensor and isinstance(value, np.ndarray) else value
    np.testing.assert_array_equal(values(t), want)


def test_setitem_errors():
    t = tensor_of(A234)
    with pytest.raises(ValueError, match="Broadcast"):
        t[0] = np.ones(5)
    with pytest.raises(IndexError, match="out of bounds"):
        t[2] = 1.0
