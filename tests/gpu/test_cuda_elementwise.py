"""The CUDA element-wise kernels (src/cuda/elementwise.cu) through singa_wrap: every unary
and binary op of the op tables (float32; float64 and int32/int64 where the op takes them)
against the reference (``ref``) and the CPU device, broadcasting, non-contiguous views
(transposes, strided and reversed slices), converting copies between every pair of dtypes
(float16 and bfloat16 included, bool stored as 0/1), fills, Where and Axpy.

With SINGA_GPU_TEST_DEVICE=test they run on the host-memory test device (the CPU kernels),
which checks the tests themselves."""
import math

import numpy as np
import pytest

from singa import singa_wrap as sw


from _gpu import tolerance

cpu = sw.GetDefaultDevice()


def on(d, a):
    """A tensor on device d holding a copy of `a`."""
    return sw.from_numpy(np.array(a, copy=True, order="C"), d)


def N(t):
    return np.array(sw.to_numpy(t))


def rand(shape, lo=-2.0, hi=2.0, dtype=np.float32, seed=0):
    return np.asarray(np.random.default_rng(seed).uniform(lo, hi, size=shape)).astype(dtype)


def close(got, want, dtype):
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def real_gpu(gpu):
    return gpu.lang() == sw.kCuda


_erf = np.vectorize(math.erf, otypes=[np.float64])


# name, reference fn(xp, x) (None: compared with the CPU device only), input domain
UNARY = [
    ("Abs", lambda xp, x: xp.abs(x), (-2, 2)),
    ("Ceil", lambda xp, x: xp.ceil(x), (-3, 3)),
    ("Floor", lambda xp, x: xp.floor(x), (-3, 3)),
    ("Round", lambda xp, x: xp.sign(x) * xp.floor(xp.abs(x) + 0.5), (-3, 3)),
    ("RoundE", lambda xp, x: xp.rint(x), (-3, 3)),
    ("Exp", lambda xp, x: xp.exp(x), (-10, 10)),
    ("Erf", None, (-2, 2)),
    ("Log", lambda xp, x: xp.log(x), (0.05, 5)),
    ("ReLU", lambda xp, x: xp.maximum(x, 0), (-2, 2)),
    ("Sigmoid", lambda xp, x: 1 / (1 + xp.exp(-x)), (-8, 8)),
    ("Sign", lambda xp, x: xp.sign(x), (-2, 2)),
    ("Sqrt", lambda xp, x: xp.sqrt(x), (0, 4)),
    ("Square", lambda xp, x: xp.square(x), (-2, 2)),
    ("Cos", lambda xp, x: xp.cos(x), (-3, 3)),
    ("Cosh", lambda xp, x: xp.cosh(x), (-3, 3)),
    ("Acos", lambda xp, x: xp.arccos(x), (-0.95, 0.95)),
    ("Acosh", lambda xp, x: xp.arccosh(x), (1.05, 4)),
    ("Sin", lambda xp, x: xp.sin(x), (-3, 3)),
    ("Sinh", lambda xp, x: xp.sinh(x), (-3, 3)),
    ("Asin", lambda xp, x: xp.arcsin(x), (-0.95, 0.95)),
    ("Asinh", lambda xp, x: xp.arcsinh(x), (-3, 3)),
    ("Tan", lambda xp, x: xp.tan(x), (-1.2, 1.2)),
    ("Tanh", lambda xp, x: xp.tanh(x), (-3, 3)),
    ("Atan", lambda xp, x: xp.arctan(x), (-3, 3)),
    ("Atanh", lambda xp, x: xp.arctanh(x), (-0.95, 0.95)),
    ("Neg", lambda xp, x: xp.negative(x), (-2, 2)),
    ("Reciprocal", lambda xp, x: xp.reciprocal(x), (0.2, 3)),
    ("SoftPlus", lambda xp, x: xp.logaddexp(0, x), (-30, 30)),
    ("SoftSign", lambda xp, x: x / (1 + xp.abs(x)), (-3, 3)),
    ("Not", lambda xp, x: (x == 0).astype(x.dtype), (-1, 1)),
    ("Mish", lambda xp, x: x * xp.tanh(xp.logaddexp(0, x)), (-12, 12)),
]
INT_CLOSED = {"Abs", "Neg", "Sign", "ReLU", "Square", "Not", "Ceil", "Floor", "Round", "RoundE"}


def test_the_tables_are_covered():
    bound = {name for name in dir(sw) if not name.startswith("_")}
    assert {u[0] for u in UNARY} <= bound
    assert len(UNARY) == 31  # every op of SINGA_UNARY_OPS (math/op_tables.h)


def _unary_input(shape, lo, hi, dtype, seed=0):
    x = np.random.default_rng(seed).uniform(lo, hi, size=shape)
    flat = x.reshape(-1)
    cands = [v for v in (-2.5, -0.5, 0.5, 1.5, 0.0) if lo <= v <= hi]
    flat[: len(cands)] = cands  # half-way points and zeros: rounding and sign rules
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,dom", UNARY, ids=[u[0] for u in UNARY])
def test_unary(gpu, ref, name, fn, dom, dtype):
    x = _unary_input((37, 129), *dom, dtype)  # not a multiple of a block
    got = N(getattr(sw, name)(on(gpu, x)))
    assert got.dtype == dtype
    close(got, N(getattr(sw, name)(on(cpu, x))), dtype)
    if fn is None:
        want = _erf(x.astype(np.float64))
    else:
        want = ref.numpy(fn(ref.xp, ref.asarray(x)))
    close(got, want.astype(dtype), dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("name", sorted(INT_CLOSED))
def test_unary_integers(gpu, name, dtype):
    x = np.arange(-300, 300, 7).astype(dtype)
    if name == "Abs" or name == "Neg":
        x[0] = np.iinfo(dtype).min  # wraps around, as NumPy's
    got = N(getattr(sw, name)(on(gpu, x)))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, N(getattr(sw, name)(on(cpu, x))))


def test_unary_strided_views(gpu):
    x = rand((6, 8, 10))
    t = on(gpu, x)
    np.testing.assert_allclose(N(sw.Tanh(sw.Transpose(t, [2, 0, 1]))),
                               np.tanh(x.transpose(2, 0, 1)), rtol=1e-5, atol=1e-6)
    v = t.Slice(2, None, None, -3)  # reversed, every third
    np.testing.assert_allclose(N(sw.Exp(v)), np.exp(x[:, :, ::-3]), rtol=1e-5)
    np.testing.assert_allclose(N(sw.Abs(t.Slice(1, 1, 7, 2))), np.abs(x[:, 1:7:2]))


# name, NumPy reference (None: the CPU device only), a's domain, b's domain
BINARY = [
    ("Add", np.add, (-2, 2), (-2, 2)),
    ("Sub", np.subtract, (-2, 2), (-2, 2)),
    ("EltwiseMult", np.multiply, (-2, 2), (-2, 2)),
    ("Div", np.divide, (-2, 2), (0.5, 2)),
    ("Pow", np.power, (0.5, 2), (-2, 2)),
    ("LT", np.less, (-1, 1), (-1, 1)),
    ("LE", np.less_equal, (-1, 1), (-1, 1)),
    ("GT", np.greater, (-1, 1), (-1, 1)),
    ("GE", np.greater_equal, (-1, 1), (-1, 1)),
    ("EQ", np.equal, (-1, 1), (-1, 1)),
    ("And", np.logical_and, (-1, 1), (-1, 1)),
    ("Or", np.logical_or, (-1, 1), (-1, 1)),
    ("Xor", np.logical_xor, (-1, 1), (-1, 1)),
    ("EltwiseMin", np.minimum, (-2, 2), (-2, 2)),
    ("EltwiseMax", np.maximum, (-2, 2), (-2, 2)),
    ("Mod", np.mod, (-5, 5), (0.5, 2)),
    ("FMod", np.fmod, (-5, 5), (0.5, 2)),
    ("ReLUBackward", lambda dy, x: np.where(x > 0, dy, 0), (-2, 2), (-2, 2)),
]


def _binary_inputs(shape_a, shape_b, da, db, dtype):
    a = rand(shape_a, *da, dtype=np.float64, seed=1)
    b = rand(shape_b, *db, dtype=np.float64, seed=2)
    if dtype in (np.int32, np.int64):
        a, b = np.round(a * 3), np.round(b * 3)
    a, b = a.astype(dtype), b.astype(dtype)
    if a.size >= 4 and b.size >= 4 and a.shape == b.shape:
        a.reshape(-1)[:2] = b.reshape(-1)[:2]  # equal pairs for the comparisons
    return a, b


def _call_binary(name, a, b):
    if name == "ReLUBackward":
        return sw.ReLUBackward(a, b)
    return getattr(sw, name)(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,da,db", BINARY, ids=[b[0] for b in BINARY])
def test_binary(gpu, name, fn, da, db, dtype):
    a, b = _binary_inputs((33, 70), (33, 70), da, db, dtype)
    got = N(_call_binary(name, on(gpu, a), on(gpu, b)))
    close(got, N(_call_binary(name, on(cpu, a), on(cpu, b))), dtype)
    with np.errstate(invalid="ignore"):  # Pow of a negative base: NaN on every side
        want = fn(a, b)
    close(got, want.astype(got.dtype), dtype)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("name", [b[0] for b in BINARY])
def test_binary_integers(gpu, name, dtype):
    a, b = _binary_inputs((9, 31), (9, 31), (-5, 5), (-3, 3), dtype)
    if name == "Pow":
        b = np.abs(b)
    got = N(_call_binary(name, on(gpu, a), on(gpu, b)))
    np.testing.assert_array_equal(got, N(_call_binary(name, on(cpu, a), on(cpu, b))))


def test_integer_division_edge_cases(gpu):
    for dtype in (np.int32, np.int64):
        lo = np.iinfo(dtype).min
        a = np.array([7, -7, 7, -7, lo, lo, 5, 0], dtype)
        b = np.array([2, 2, -2, -2, -1, 1, 0, 0], dtype)
        for name in ("Div", "Mod", "FMod"):
            np.testing.assert_array_equal(N(getattr(sw, name)(on(gpu, a), on(gpu, b))),
                                          N(getattr(sw, name)(on(cpu, a), on(cpu, b))))


BROADCASTS = [((3, 1, 5), (4, 1)), ((1,), (7, 9)), ((2, 3, 4, 5), (5,)), ((6, 1), (1, 6)),
              ((4, 1, 3, 1), (1, 5, 1, 2)), ((), (3, 3))]


@pytest.mark.parametrize("sa,sb", BROADCASTS, ids=[f"{a}x{b}" for a, b in BROADCASTS])
@pytest.mark.parametrize("name,fn", [("Add", np.add), ("EltwiseMult", np.multiply),
                                     ("Sub", np.subtract), ("EltwiseMax", np.maximum)])
def test_broadcasting(gpu, name, fn, sa, sb):
    a = np.asarray(rand(sa, seed=3), np.float32)
    b = np.asarray(rand(sb, seed=4), np.float32)
    got = N(getattr(sw, name)(on(gpu, a), on(gpu, b)))
    np.testing.assert_allclose(got, fn(a, b), rtol=1e-6, atol=1e-7)


def test_binary_views_and_in_place(gpu):
    x = rand((8, 12), seed=5)
    y = rand((12, 8), seed=6)
    tx, ty = on(gpu, x), on(gpu, y)
    # transposed against contiguous, a reversed slice against a strided one
    np.testing.assert_allclose(N(sw.Add(sw.Transpose(tx), ty)), x.T + y, rtol=1e-6)
    got = N(sw.EltwiseMult(tx.Slice(1, None, None, -2), tx.Slice(1, 0, 12, 2)))
    np.testing.assert_allclose(got, x[:, ::-2] * x[:, 0:12:2], rtol=1e-6)
    # in place, with a broadcast operand
    row = rand((12,), seed=7)
    tx += on(gpu, row)
    np.testing.assert_allclose(N(tx), x + row, rtol=1e-6)
    tx *= 2.0
    np.testing.assert_allclose(N(tx), (x + row) * 2, rtol=1e-6)
    # scalar forms
    np.testing.assert_allclose(N(sw.PowFloat(sw.Abs(ty), 1.5)), np.abs(y) ** 1.5, rtol=1e-5)
    np.testing.assert_allclose(N(sw.MultFloat(ty, 3.0)), y * 3, rtol=1e-6)


def test_large_flat_and_strided(gpu):
    # more elements than one grid covers in one pass (65535 blocks of 256 threads)
    n = 65535 * 256 + 12345
    x = np.linspace(-3, 3, n, dtype=np.float32)
    t = on(gpu, x)
    got = N(sw.Add(t, t))
    np.testing.assert_array_equal(got, x + x)
    v = t.Slice(0, None, None, -1)
    got = N(sw.Neg(v))
    np.testing.assert_array_equal(got, -x[::-1])


def test_more_axes_than_the_kernels_take_is_a_value_error(gpu):
    if not real_gpu(gpu):
        pytest.skip("the CPU kernels have no axis limit (cuda/strided.cuh: 12 merged axes)")
    x = np.zeros((2,) * 13, np.float32)
    t = sw.Transpose(on(gpu, x))  # reversed axes: none of them merge
    with pytest.raises(ValueError, match="axes"):
        sw.Exp(t)
    # contiguous tensors of many axes merge into one and run
    np.testing.assert_array_equal(N(sw.Exp(on(gpu, x))), np.ones_like(x))


# ---- copies and fills ----

NP_DTYPES = {sw.kFloat32: np.float32, sw.kDouble: np.float64, sw.kInt: np.int32,
             sw.kFloat16: np.float16, sw.kChar: np.int8, sw.kUChar: np.uint8,
             sw.kInt64: np.int64, sw.kBool: np.bool_, sw.kBFloat16: None}
DTYPES = list(NP_DTYPES)
DTYPE_IDS = {sw.kFloat32: "f32", sw.kDouble: "f64", sw.kInt: "i32", sw.kFloat16: "f16",
             sw.kChar: "i8", sw.kUChar: "u8", sw.kInt64: "i64", sw.kBool: "bool",
             sw.kBFloat16: "bf16"}


def _source(dtype):
    """A small array of `dtype` with values every conversion must get right: zeros,
    halves, negatives, values past int8's range (bfloat16 starts as float32)."""
    base = np.array([0, 1, -1, 2.5, -2.5, 0.5, 127, -128, 200, 3.75, -0.0, 1000], np.float64)
    base = np.concatenate([base, np.linspace(-50, 50, 28)])
    npd = NP_DTYPES[dtype]
    if npd is None:
        return base.astype(np.float32).reshape(5, 8), sw.kFloat32
    if npd in (np.int8, np.uint8):
        info = np.iinfo(npd)
        base = np.clip(base, info.min, info.max)
    if npd == np.bool_:
        return (base.reshape(5, 8) != 0), None
    return base.astype(npd).reshape(5, 8), None


def _make(d, dtype):
    a, via = _source(dtype)
    t = on(d, a)
    return t.AsType(dtype) if via is not None else t


@pytest.mark.parametrize("dst", DTYPES, ids=[DTYPE_IDS[d] for d in DTYPES])
@pytest.mark.parametrize("src", DTYPES, ids=[DTYPE_IDS[d] for d in DTYPES])
def test_copy_between_dtypes(gpu, src, dst):
    want = N(_make(cpu, src).AsType(dst))
    t = _make(gpu, src)
    got = N(t.AsType(dst))
    np.testing.assert_array_equal(got, want)
    # a transposed (strided) source converts the same values
    np.testing.assert_array_equal(N(sw.Transpose(t).AsType(dst)), want.T)


@pytest.mark.parametrize("dst", [sw.kFloat32, sw.kFloat16, sw.kBFloat16, sw.kInt, sw.kBool],
                         ids=["f32", "f16", "bf16", "i32", "bool"])
def test_copy_into_strided_destination(gpu, dst):
    x = rand((6, 10), -3, 3, seed=8)
    base_cpu = on(cpu, np.zeros((10, 6), np.float32)).AsType(dst)
    base = on(gpu, np.zeros((10, 6), np.float32)).AsType(dst)
    view_cpu, view = sw.Transpose(base_cpu), sw.Transpose(base)
    view_cpu.CopyData(on(cpu, x))
    view.CopyData(on(gpu, x))
    np.testing.assert_array_equal(N(base), N(base_cpu))


def test_half_conversions_round_to_nearest_even(gpu):
    # float32 values half-way between float16 / bfloat16 neighbours, subnormals, overflow
    x = np.array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 65520.0,
                  65504.0, -1e-8, np.inf, -np.inf, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.0e38],
                 np.float32)
    t = on(gpu, x)
    with np.errstate(over="ignore"):
        x16 = x.astype(np.float16)  # 3e38 and 65520 overflow to inf
    np.testing.assert_array_equal(N(t.AsType(sw.kFloat16)), x16)
    np.testing.assert_array_equal(N(t.AsType(sw.kBFloat16)), N(on(cpu, x).AsType(sw.kBFloat16)))
    nan = N(on(gpu, np.array([np.nan], np.float32)).AsType(sw.kBFloat16))
    assert np.isnan(nan).all()
    h = N(on(gpu, x16).AsType(sw.kFloat32))
    np.testing.assert_array_equal(h, x16.astype(np.float32))


def test_float_to_int_saturates_and_nan_is_zero(gpu):
    x = np.array([np.nan, 3e9, -3e9, 1e20, -1e20, 2.9, -2.9, 300.7, -300.7], np.float32)
    for dst in (sw.kInt, sw.kInt64, sw.kChar, sw.kUChar, sw.kBool):
        np.testing.assert_array_equal(N(on(gpu, x).AsType(dst)), N(on(cpu, x).AsType(dst)))


def test_bool_is_stored_as_0_or_1(gpu):
    x = np.array([0.0, 2.0, -0.5, 0.0, np.nan], np.float32)
    b = on(gpu, x).AsType(sw.kBool)
    np.testing.assert_array_equal(N(b.AsType(sw.kUChar)), [0, 1, 1, 0, 1])


@pytest.mark.parametrize("dtype", DTYPES, ids=[DTYPE_IDS[d] for d in DTYPES])
@pytest.mark.parametrize("value", [0.0, 3.5, -2.0, 300.25])
def test_fill(gpu, dtype, value):
    t = sw.Tensor([7, 9], gpu, dtype)
    c = sw.Tensor([7, 9], cpu, dtype)
    t.SetValue(value)
    c.SetValue(value)
    np.testing.assert_array_equal(N(t), N(c))


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble, sw.kFloat16, sw.kInt64, sw.kBool],
                         ids=["f32", "f64", "f16", "i64", "bool"])
def test_fill_strided_view(gpu, dtype):
    t = on(gpu, np.zeros((6, 8), np.float32)).AsType(dtype)
    c = on(cpu, np.zeros((6, 8), np.float32)).AsType(dtype)
    for x in (t, c):
        x.Slice(1, None, None, -3).SetValue(1.0)
        sw.Transpose(x).Slice(0, 2, 4).SetValue(2.0)
    np.testing.assert_array_equal(N(t), N(c))
    assert N(t).astype(np.float64).sum() != 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.float16, np.uint8],
                         ids=["f32", "f64", "i32", "i64", "f16", "u8"])
def test_where(gpu, dtype):
    c = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
    a = np.abs(rand((2, 3), seed=9) * 10).astype(dtype)
    b = np.abs(rand((2, 3), seed=10) * 10).astype(dtype)
    got = N(sw.Where(on(gpu, c), on(gpu, a), on(gpu, b)))
    np.testing.assert_array_equal(got, np.where(c != 0, a, b))
    got = N(sw.Where(on(gpu, c[0]), on(gpu, a), on(gpu, b)))  # a broadcast condition
    np.testing.assert_array_equal(got, np.where(c[0] != 0, a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy(gpu, dtype):
    x = rand((5, 7), seed=11).astype(dtype)
    y = rand((5, 7), seed=12).astype(dtype)
    t = on(gpu, y)
    sw.Axpy(0.75, on(gpu, x), t)
    c = on(cpu, y)
    sw.Axpy(0.75, on(cpu, x), c)
    close(N(t), N(c), dtype)
    close(N(t), 0.75 * x + y, dtype)
    # a transposed x into y
    t2 = on(gpu, y.T.copy())
    sw.Axpy(-2.0, sw.Transpose(on(gpu, x)), t2)
    close(N(t2), y.T - 2 * x.T, dtype)


def test_empty_tensors(gpu):
    e = on(gpu, np.zeros((0, 3), np.float32))
    assert N(sw.Exp(e)).shape == (0, 3)
    assert N(sw.Add(e, e)).shape == (0, 3)
    assert N(e.AsType(sw.kFloat16)).shape == (0, 3)
    e.SetValue(1.0)
