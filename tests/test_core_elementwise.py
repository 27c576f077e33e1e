"""Element-wise kernels of singa_wrap against NumPy: unary, binary with broadcasting,
scalar/WithRet forms, module-level and class operators, in-place updates, views, dtypes."""
import math

import numpy as np
import pytest

from singa import singa_wrap as sw


def T(a):
    a = np.asarray(a)  # np.ascontiguousarray would turn 0-d arrays into 1-d ones
    return sw.from_numpy(a if a.flags.c_contiguous else a.copy())


def N(t):
    return np.array(sw.to_numpy(t))


def rand(rng, shape, lo=-2.0, hi=2.0, dtype=np.float32):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# name, NumPy reference, input domain (lo, hi)
UNARY = [
    ("Abs", np.abs, (-2, 2)),
    ("Ceil", np.ceil, (-3, 3)),
    ("Floor", np.floor, (-3, 3)),
    ("Round", _round_half_away, (-3, 3)),
    ("RoundE", np.rint, (-3, 3)),
    ("Exp", np.exp, (-10, 10)),
    ("Erf", _erf, (-2, 2)),
    ("Log", np.log, (0.05, 5)),
    ("ReLU", lambda x: np.maximum(x, 0), (-2, 2)),
    ("Sigmoid", lambda x: 1 / (1 + np.exp(-x)), (-8, 8)),
    ("Sign", np.sign, (-2, 2)),
    ("Sqrt", np.sqrt, (0, 4)),
    ("Square", np.square, (-2, 2)),
    ("Cos", np.cos, (-3, 3)),
    ("Cosh", np.cosh, (-3, 3)),
    ("Acos", np.arccos, (-0.95, 0.95)),
    ("Acosh", np.arccosh, (1.05, 4)),
    ("Sin", np.sin, (-3, 3)),
    ("Sinh", np.sinh, (-3, 3)),
    ("Asin", np.arcsin, (-0.95, 0.95)),
    ("Asinh", np.arcsinh, (-3, 3)),
    ("Tan", np.tan, (-1.2, 1.2)),
    ("Tanh", np.tanh, (-3, 3)),
    ("Atan", np.arctan, (-3, 3)),
    ("Atanh", np.arctanh, (-0.95, 0.95)),
    ("Neg", np.negative, (-2, 2)),
    ("Reciprocal", np.reciprocal, (0.2, 3)),
    ("SoftPlus", lambda x: np.logaddexp(0, x), (-30, 30)),
    ("SoftSign", lambda x: x / (1 + np.abs(x)), (-3, 3)),
    ("Not", lambda x: (x == 0).astype(x.dtype), (-1, 1)),
    # the worked example of docs/contributing.md: one op-table line and its functor
    ("Mish", lambda x: x * np.tanh(np.logaddexp(0, x)), (-12, 12)),
]
UNARY_IDS = [u[0] for u in UNARY]
INT_CLOSED = {"Abs", "Neg", "Sign", "ReLU", "Square", "Not", "Ceil", "Floor", "Round", "RoundE"}


def _unary_input(rng, shape, lo, hi, dtype):
    x = rng.uniform(lo, hi, size=shape)
    if shape and np.prod(shape) >= 4:
        # exact half-way points and zeros exercise rounding and sign rules
        flat = x.reshape(-1)
        cands = [v for v in (-2.5, -0.5, 0.5, 1.5, 0.0) if lo <= v <= hi]
        flat[: len(cands)] = cands
    return x.astype(dtype)


def _tol(dtype):
    return {np.float32: (2e-6, 1e-5), np.float64: (1e-12, 1e-12)}[dtype]


@pytest.mark.parametrize("name,ref,dom", UNARY, ids=UNARY_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 0, 3), (40000,)])
def test_unary_float(name, ref, dom, dtype, shape, rng):
    x = _unary_input(rng, shape, *dom, dtype)
    y = getattr(sw, name)(T(x))
    out = N(y)
    assert out.dtype == dtype and out.shape == x.shape
    atol, rtol = _tol(dtype)
    np.testing.assert_allclose(out, ref(x.astype(np.float64)), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,ref,dom", UNARY, ids=UNARY_IDS)
def test_unary_noncontiguous(name, ref, dom, rng):
    base = _unary_input(rng, (6, 8), *dom, np.float32)
    views = [
        (sw.Transpose(T(base)), base.T),
        (T(base).Slice(1, 1, 8, 3), base[:, 1:8:3]),
        (T(base[:1]).Broadcast([4, 8]), np.broadcast_to(base[:1], (4, 8))),
        (T(base).Slice(0, 5, None, -2), base[5::-2]),
        (T(base).Slice(1, -1, 0, -3), base[:, -1:0:-3]),
    ]
    for v, ref_in in views:
        np.testing.assert_allclose(N(getattr(sw, name)(v)), ref(ref_in.astype(np.float64)),
                                   rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name,ref,dom", UNARY, ids=UNARY_IDS)
def test_unary_int32(name, ref, dom, rng):
    lo, hi = dom
    x = rng.integers(math.ceil(lo), math.floor(hi) + 1, size=(4, 5)).astype(np.int32)
    if name in ("Acosh", "Atanh", "Log", "Reciprocal"):
        x = np.clip(x, 1 if name != "Atanh" else 0, None).astype(np.int32)
    out = N(getattr(sw, name)(T(x)))
    if name in INT_CLOSED:
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref(x.astype(np.float64)).astype(np.int32))
    else:
        assert out.dtype == np.float32  # non-integer results compute in float32
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(out, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref,dom", UNARY, ids=UNARY_IDS)
def test_unary_float16(name, ref, dom, rng):
    x = _unary_input(rng, (3, 7), *dom, np.float32).astype(np.float16)
    h = T(x.astype(np.float32)).AsType(sw.kFloat16)
    assert h.data_type() == sw.kFloat16
    y = getattr(sw, name)(h)
    assert y.data_type() == sw.kFloat16
    out = N(y)
    assert out.dtype == np.float16
    want = ref(x.astype(np.float64))
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=2e-3, atol=2e-3)


def test_exp_extremes():
    x = np.array([-200, -104, -100, -87, 0, 1e-8, 88, 88.7, 89, 200, np.inf, -np.inf, np.nan],
                 dtype=np.float32)
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(N(sw.Exp(T(x))), want, rtol=1e-5, atol=1e-44)


def test_relu_backward(rng):
    dy, x = rand(rng, (4, 5)), rand(rng, (4, 5))
    np.testing.assert_array_equal(N(sw.ReLUBackward(T(dy), T(x))), np.where(x > 0, dy, 0))


# ---- binary ops ----

def _bool(f):
    return lambda a, b: f(a, b).astype(np.result_type(a, b))


BINARY = [
    ("Add", "__add__", "AddFloat", np.add),
    ("Sub", "__sub__", "SubFloat", np.subtract),
    ("EltwiseMult", "__mul__", "MultFloat", np.multiply),
    ("Div", "__div__", "DivFloat", np.divide),
    ("Pow", "__pow__", "PowFloat", np.power),
    ("LT", "__lt__", "LTFloat", _bool(np.less)),
    ("LE", "__le__", "LEFloat", _bool(np.less_equal)),
    ("GT", "__gt__", "GTFloat", _bool(np.greater)),
    ("GE", "__ge__", "GEFloat", _bool(np.greater_equal)),
    ("EQ", "__eq__", "EQFloat", _bool(np.equal)),
    ("And", "__and__", "AndFloat", _bool(np.logical_and)),
    ("Or", "__or__", "OrFloat", _bool(np.logical_or)),
    ("Xor", "__xor__", "XorFloat", _bool(np.logical_xor)),
    ("EltwiseMin", "__min__", "MinFloat", np.minimum),
    ("EltwiseMax", "__max__", "MaxFloat", np.maximum),
]
BINARY_IDS = [b[0] for b in BINARY]

SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((5, 1, 3), (1, 4, 1)),
    ((), (3,)),
    ((2, 3), ()),
    ((), ()),
    ((2, 0, 3), (1, 3)),
    ((0,), (1,)),
    ((1, 1), (1,)),
    ((300, 257), (257,)),
]


def _operands(rng, name, sa, sb, dtype=np.float32):
    if name == "Pow":
        a, b = rand(rng, sa, 0.1, 3, dtype), rand(rng, sb, -2, 2, dtype)
    elif name == "Div":
        a, b = rand(rng, sa, -3, 3, dtype), rand(rng, sb, 0.5, 3, dtype)
    else:
        # small integers make comparisons and logic ops hit ties and zeros
        a = rng.integers(-2, 3, size=sa).astype(dtype)
        b = rng.integers(-2, 3, size=sb).astype(dtype)
    return a, b


@pytest.mark.parametrize("name,dunder,scalar,ref", BINARY, ids=BINARY_IDS)
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_broadcast(name, dunder, scalar, ref, sa, sb, rng):
    a, b = _operands(rng, name, sa, sb)
    want = ref(a.astype(np.float64), b.astype(np.float64))
    for fn in (getattr(sw, name), getattr(sw, dunder)):
        out = N(fn(T(a), T(b)))
        assert out.shape == want.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    # WithRet writes into a preallocated tensor
    ret = sw.Tensor(list(want.shape), None, sw.kFloat32)
    getattr(sw, name + "WithRet")(T(a), T(b), ret)
    np.testing.assert_allclose(N(ret), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,dunder,scalar,ref", BINARY, ids=BINARY_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_binary_dtypes(name, dunder, scalar, ref, dtype, rng):
    a, b = _operands(rng, name, (3, 4), (4,), np.float64)
    if dtype == np.int32:
        a, b = np.round(a).astype(np.int32), np.round(b).astype(np.int32)
        if name == "Pow":
            b = np.abs(b)
        if name == "Div":
            a = np.abs(a)  # integer division truncates; keep it sign-free here
    out = N(getattr(sw, name)(T(a), T(b)))
    assert out.dtype == dtype
    if dtype == np.int32 and name == "Div":
        want = a // b
    else:
        want = ref(a, b)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,dunder,scalar,ref", BINARY, ids=BINARY_IDS)
def test_binary_float16(name, dunder, scalar, ref, rng):
    a, b = _operands(rng, name, (3, 4), (1, 4))
    a16, b16 = a.astype(np.float16), b.astype(np.float16)
    ha, hb = T(a).AsType(sw.kFloat16), T(b).AsType(sw.kFloat16)
    out = N(getattr(sw, name)(ha, hb))
    want = ref(a16.astype(np.float64), b16.astype(np.float64))
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=2e-3, atol=2e-3)


def test_binary_mixed_dtypes_compute_in_float32(rng):
    a, b = rand(rng, (2, 3), dtype=np.float64), np.arange(3, dtype=np.int32)
    for x, y in ((a, b), (b, a), (a.astype(np.float32), a)):
        out = N(sw.Add(T(x), T(y)))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, x.astype(np.float64) + y, rtol=1e-6)


@pytest.mark.parametrize("name,dunder,scalar,ref", BINARY, ids=BINARY_IDS)
@pytest.mark.parametrize("x", [0.0, 1.0, -1.5, 2.0])
def test_binary_scalar(name, dunder, scalar, ref, x, rng):
    a, _ = _operands(rng, name, (3, 5), (1,))
    if name == "Pow":
        a = np.abs(a) + 0.1
    if name == "Div" and x == 0.0:
        x = 4.0
    want = ref(a.astype(np.float64), np.float64(x))
    for fn in (getattr(sw, scalar), getattr(sw, dunder)):
        np.testing.assert_allclose(N(fn(T(a), x)), want, rtol=1e-5, atol=1e-6)
    ret = sw.Tensor([3, 5])
    getattr(sw, scalar + "WithRet")(T(a), x, ret)
    np.testing.assert_allclose(N(ret), want, rtol=1e-5, atol=1e-6)


def test_scalar_on_int_tensor():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = N(sw.AddFloat(T(a), 2.0))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, a + 2)
    out = N(sw.MultFloat(T(a), 0.5))  # a fractional scalar promotes to float32
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, a * 0.5)


def test_reversed_scalar_forms(rng):
    a = rand(rng, (4, 3), 0.5, 2)
    np.testing.assert_allclose(N(sw.RSubFloat(3.0, T(a))), 3.0 - a, rtol=1e-6)
    np.testing.assert_allclose(N(sw.RDivFloat(3.0, T(a))), 3.0 / a, rtol=1e-6)
    np.testing.assert_allclose(N(sw.RPowFloat(2.0, T(a))), 2.0 ** a, rtol=1e-6)


@pytest.mark.parametrize("op,ref", [
    ("__add__", np.add), ("__sub__", np.subtract), ("__mul__", np.multiply),
    ("__truediv__", np.divide), ("__pow__", np.power), ("__lt__", np.less),
    ("__le__", np.less_equal), ("__gt__", np.greater), ("__ge__", np.greater_equal)])
def test_class_operators(op, ref, rng):
    a, b = rand(rng, (3, 4), 0.5, 2), rand(rng, (4,), 0.5, 2)
    want = ref(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(N(getattr(T(a), op)(T(b))), want, rtol=1e-5)
    want = ref(a.astype(np.float64), 1.25)
    np.testing.assert_allclose(N(getattr(T(a), op)(1.25)), want, rtol=1e-5)


def test_class_reflected_operators(rng):
    a = rand(rng, (3, 4), 0.5, 2)
    ta = T(a)
    np.testing.assert_allclose(N(2.0 + ta), 2 + a, rtol=1e-6)
    np.testing.assert_allclose(N(2.0 * ta), 2 * a, rtol=1e-6)
    np.testing.assert_allclose(N(2.0 - ta), 2 - a, rtol=1e-6)
    np.testing.assert_allclose(N(2.0 / ta), 2 / a, rtol=1e-6)
    np.testing.assert_allclose(N(-ta), -a)
    np.testing.assert_allclose(N(ta + ta * ta), a + a * a, rtol=1e-6)


INPLACE = [("__iadd__", np.add), ("__isub__", np.subtract),
           ("__imul__", np.multiply), ("__itruediv__", np.divide)]


@pytest.mark.parametrize("op,ref", INPLACE)
@pytest.mark.parametrize("other_shape", [(4, 6), (6,), (4, 1), (), (1, 1)])
def test_inplace_tensor(op, ref, other_shape, rng):
    a, b = rand(rng, (4, 6)), rand(rng, other_shape, 0.5, 2)
    ta = T(a.copy())
    before = ta.data_ptr()
    r = getattr(ta, op)(T(b))
    assert r.data_ptr() == before  # updated in place, same storage
    np.testing.assert_allclose(N(ta), ref(a, b), rtol=1e-6)


@pytest.mark.parametrize("op,ref", INPLACE)
def test_inplace_float_and_python_syntax(op, ref, rng):
    a = rand(rng, (3, 5))
    ta = T(a.copy())
    getattr(ta, op)(1.5)
    np.testing.assert_allclose(N(ta), ref(a, np.float32(1.5)), rtol=1e-6)
    tb = T(a.copy())
    tb += 1.0
    tb *= T(a)
    tb -= 2
    tb /= T(np.float32(4.0).reshape(()))
    np.testing.assert_allclose(N(tb), ((a + 1) * a - 2) / 4, rtol=1e-5)


@pytest.mark.parametrize("op,ref", INPLACE)
def test_inplace_into_noncontiguous_views(op, ref, rng):
    base = rand(rng, (5, 8))
    sb = T(base.copy())
    # a strided, transposed window of the base: shape (3, 2) with strides (2, 8*2)
    view = sb.Slice(0, 0, 4, 2).Slice(1, 1, 7, 2).T()
    other = rand(rng, (3, 1), 0.5, 2)
    getattr(view, op)(T(other))
    want = base.copy()
    win = want[0:4:2, 1:7:2].T
    win[...] = ref(win, other)
    np.testing.assert_allclose(N(sb), want, rtol=1e-6)
    # and a float
    getattr(view, op)(3.0)
    win[...] = ref(win, np.float32(3.0))
    np.testing.assert_allclose(N(sb), want, rtol=1e-6)


def test_inplace_overlapping_operand(rng):
    a = rand(rng, (5, 5))
    ta = T(a.copy())
    ta += sw.Transpose(ta)  # reads the same memory in another layout
    np.testing.assert_allclose(N(ta), a + a.T, rtol=1e-6)
    tb = T(a.copy())
    row = tb.Slice(0, 0, 1)  # row 0 broadcast over every row, including itself
    tb -= row
    np.testing.assert_allclose(N(tb), a - a[:1], rtol=1e-6)


def test_inplace_broadcast_rejects_growing(rng):
    ta = T(rand(rng, (4, 1)))
    with pytest.raises(ValueError, match=r"__iadd__.*\(4, 1\).*\(4, 6\)|__iadd__"):
        ta += T(rand(rng, (4, 6)))


def test_binary_noncontiguous_operands(rng):
    a, b = rand(rng, (6, 9)), rand(rng, (9, 6))
    ta = sw.Transpose(T(a).Slice(0, 0, 6, 2))   # (9, 3): stepped rows, transposed
    tb = T(b).Slice(1, None, None, -2)          # (9, 3): reversed, stepped columns
    got = N(sw.EltwiseMult(ta, tb))
    np.testing.assert_allclose(got, a[0:6:2].T * b[:, ::-2], rtol=1e-6)
    # a broadcast view (stride 0) combined with a transposed view
    row = T(a[:1]).Broadcast([6, 9])
    np.testing.assert_allclose(N(sw.Sub(row, sw.Transpose(T(b)))), a[:1] - b.T, rtol=1e-6)


def test_withret_noncontiguous_output(rng):
    a, b = rand(rng, (3, 4)), rand(rng, (4,))
    base = T(np.zeros((4, 3), np.float32))
    out = sw.Transpose(base)
    sw.AddWithRet(T(a), T(b), out)
    np.testing.assert_allclose(N(base), (a + b).T, rtol=1e-6)


def test_withret_shape_mismatch(rng):
    with pytest.raises(ValueError, match="AddWithRet|Add"):
        sw.AddWithRet(T(rand(rng, (3, 4))), T(rand(rng, (4,))), sw.Tensor([4, 3]))


def test_where_clip(rng):
    c = rng.integers(0, 2, size=(3, 4)).astype(np.float32)
    a, b = rand(rng, (3, 4)), rand(rng, (4,))
    np.testing.assert_allclose(N(sw.Where(T(c), T(a), T(b))), np.where(c != 0, a, b))
    a[0, 0] = np.inf
    np.testing.assert_array_equal(N(sw.Where(T(c[:1]), T(a), T(b))), np.where(c[:1] != 0, a, b))
    x = rand(rng, (5, 6), -3, 3)
    np.testing.assert_allclose(N(sw.Clip(T(x), -1.0, 0.5)), np.clip(x, -1, 0.5))
    np.testing.assert_allclose(N(sw.Clip(sw.Transpose(T(x)), -1.0, 0.5)), np.clip(x.T, -1, 0.5))
    xi = np.arange(-4, 5, dtype=np.int32)
    out = N(sw.Clip(T(xi), -2.0, 3.0))
    np.testing.assert_array_equal(out, np.clip(xi, -2, 3))
