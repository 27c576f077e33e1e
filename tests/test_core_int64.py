"""int64 (and uint8) tensors in the core against NumPy: NumPy interchange, casts between
every pair of dtypes, promotion, element-wise arithmetic with wrap-around and ONNX's
integer division and modulo, comparisons, reductions, cumulative sums, shape ops and the
index ops with int64 indices. Values past 2^53 show that nothing goes through a float."""
import numpy as np
import pytest

from singa import singa_wrap as sw

BIG = 2**62 + 12345  # not representable in float64: a float detour changes it
I64_MIN, I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max

# (core dtype, NumPy dtype) for every dtype NumPy can hold
NP_DTYPES = [(sw.kFloat32, np.float32), (sw.kDouble, np.float64), (sw.kFloat16, np.float16),
             (sw.kInt, np.int32), (sw.kInt64, np.int64), (sw.kChar, np.int8),
             (sw.kUChar, np.uint8), (sw.kBool, np.bool_)]


def T(a, dtype=None):
    a = np.array(a, dtype=dtype)
    return sw.from_numpy(a)


def N(t):
    return np.array(sw.to_numpy(t))


def i64(a):
    return T(a, np.int64)


def assert_exact(t, want, dtype=None):
    got = N(t)
    want = np.asarray(want)
    assert got.dtype == (dtype or want.dtype), (got.dtype, dtype or want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# ---- NumPy interchange -------------------------------------------------------------------

@pytest.mark.parametrize("np_dtype,code", [(np.int64, sw.kInt64), (np.uint8, sw.kUChar)])
def test_from_numpy_keeps_dtype_and_shares_memory(np_dtype, code):
    a = np.array([[1, 2, 3], [4, 5, 6]], dtype=np_dtype)
    t = sw.from_numpy(a)
    assert t.data_type() == code and t.shape() == (2, 3)
    a[0, 0] = 99  # zero-copy: the tensor sees the change
    assert N(t)[0, 0] == 99
    back = sw.to_numpy(t)
    assert back.dtype == np_dtype
    back[1, 2] = 7  # and to_numpy is a view
    assert a[1, 2] == 7


def test_from_numpy_of_a_non_contiguous_int64_array_copies():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2] * BIG
    t = sw.from_numpy(a)
    assert_exact(t, a)


def test_sizes_and_names():
    assert (sw.SizeOf(sw.kInt64), sw.SizeOf(sw.kUChar), sw.SizeOf(sw.kBool)) == (8, 1, 1)
    assert (sw.kUChar, sw.kInt64, sw.kBool) == (5, 7, 8)
    assert "dtype=int64" in repr(i64([1]))
    assert "dtype=uint8" in repr(T([1], np.uint8))
    assert sw.Tensor([2, 3], None, sw.kInt64).MemSize() == 48


def test_big_int64_values_round_trip_exactly():
    vals = [BIG, -BIG, I64_MAX, I64_MIN, 0, 1]
    assert_exact(i64(vals).Clone(), np.array(vals, np.int64))


def test_set_value_on_int64_and_uint8():
    t = sw.Tensor([3], None, sw.kInt64)
    t.SetValue(-7)
    assert_exact(t, np.full(3, -7, np.int64))
    u = sw.Tensor([2], None, sw.kUChar)
    u.SetValue(200)
    assert_exact(u, np.full(2, 200, np.uint8))


# ---- casts -------------------------------------------------------------------------------

SMALL = [0, 1, 2, 7, 100, 120]  # values every dtype holds exactly


@pytest.mark.parametrize("src", NP_DTYPES, ids=lambda d: np.dtype(d[1]).name)
@pytest.mark.parametrize("dst", NP_DTYPES, ids=lambda d: np.dtype(d[1]).name)
def test_cast_between_every_pair_of_dtypes(src, dst):
    a = np.array(SMALL, dtype=src[1])
    assert_exact(T(a).AsType(dst[0]), a.astype(dst[1]))


@pytest.mark.parametrize("src", NP_DTYPES, ids=lambda d: np.dtype(d[1]).name)
def test_cast_to_and_from_bfloat16(src):
    a = np.array(SMALL, dtype=src[1])
    t = T(a).AsType(sw.kBFloat16)
    assert t.data_type() == sw.kBFloat16
    assert_exact(t.AsType(src[0]), a)


@pytest.mark.parametrize("code,np_dtype", [(sw.kInt64, np.int64), (sw.kInt, np.int32),
                                           (sw.kChar, np.int8), (sw.kUChar, np.uint8)])
@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_float_to_integer_truncates_toward_zero(code, np_dtype, float_dtype):
    a = np.array([2.9, -2.9, 0.5, -0.5, 1.0, -1.0, 100.99], dtype=float_dtype)
    want = np.trunc(a).astype(np.int64).astype(np_dtype)  # uint8 keeps the low byte of -2
    assert_exact(T(a).AsType(code), want)


def test_float_nan_and_out_of_range_to_integers_are_defined():
    a = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], dtype=np.float32)
    assert_exact(T(a).AsType(sw.kInt64), np.array([0, I64_MAX, I64_MIN, I64_MAX, I64_MIN]))
    i32 = np.iinfo(np.int32)
    assert_exact(T(a).AsType(sw.kInt), np.array([0, i32.max, i32.min, i32.max, i32.min], np.int32))


def test_int64_to_narrower_integers_keeps_the_low_bits():
    a = np.array([2**40 + 5, -1, 300, BIG], dtype=np.int64)
    assert_exact(i64(a).AsType(sw.kInt), a.astype(np.int32))
    assert_exact(i64(a).AsType(sw.kUChar), a.astype(np.uint8))
    assert_exact(i64(a).AsType(sw.kChar), a.astype(np.int8))


def test_cast_of_strided_views():
    a = np.arange(24, dtype=np.int64).reshape(4, 6) * BIG
    v = i64(a).Transpose([1, 0]).Slice(0, 1, None, 2)
    assert_exact(v.AsType(sw.kInt64), a.T[1::2])
    assert_exact(v.AsType(sw.kBool), a.T[1::2].astype(bool))


# ---- promotion ---------------------------------------------------------------------------

PROMOTION = [  # (a, b, result) - the rules of ResultDType (core/common.h)
    (sw.kInt64, sw.kInt64, sw.kInt64), (sw.kInt, sw.kInt64, sw.kInt64),
    (sw.kInt64, sw.kInt, sw.kInt64), (sw.kUChar, sw.kInt, sw.kInt),
    (sw.kUChar, sw.kInt64, sw.kInt64), (sw.kUChar, sw.kUChar, sw.kUChar),
    (sw.kBool, sw.kInt64, sw.kInt64), (sw.kUChar, sw.kBool, sw.kUChar),
    (sw.kBool, sw.kFloat64, sw.kDouble), (sw.kInt64, sw.kFloat32, sw.kFloat32),
    (sw.kInt64, sw.kDouble, sw.kFloat32), (sw.kChar, sw.kInt64, sw.kFloat32),
    (sw.kInt, sw.kInt, sw.kInt),
]


@pytest.mark.parametrize("da,db,want", PROMOTION)
def test_promotion_rules(da, db, want):
    a = sw.Tensor([3], None, da)
    a.SetValue(1)
    b = sw.Tensor([3], None, db)
    b.SetValue(1)
    r = sw.Add(a, b)
    assert r.data_type() == want
    assert N(r.AsType(sw.kDouble)).tolist() == [2.0, 2.0, 2.0]


def test_int32_with_int64_keeps_big_values():
    r = sw.Add(T([1, 2], np.int32), i64([BIG, -BIG]))
    assert_exact(r, np.array([BIG + 1, -BIG + 2], np.int64))


def test_int64_scalar_forms():
    a = i64([BIG, -3])
    assert_exact(sw.AddFloat(a, 1), np.array([BIG + 1, -2], np.int64))
    r = sw.AddFloat(a, 0.5)  # a fractional scalar computes in float32
    assert r.data_type() == sw.kFloat32
    assert_exact(sw.MultFloat(T([100], np.uint8), 3), np.array([44], np.uint8))  # wraps
    r = sw.AddFloat(T([200], np.uint8), 300)  # a scalar past uint8's range promotes
    assert_exact(r, np.array([500], np.int64))
    assert_exact(sw.LTFloat(T([0, 1], np.uint8), -1), np.array([0, 0], np.int64))
    assert_exact(sw.AddFloat(T([5], np.int32), 2**40), np.array([5 + 2**40], np.int64))


# ---- element-wise ------------------------------------------------------------------------

rng = np.random.default_rng(7)
A = rng.integers(-(2**40), 2**40, size=(3, 4)).astype(np.int64)
B = rng.integers(1, 1000, size=(4,)).astype(np.int64) * rng.choice([-1, 1], size=4)


@pytest.mark.parametrize("name,ref", [("Add", np.add), ("Sub", np.subtract),
                                      ("EltwiseMult", np.multiply), ("EltwiseMin", np.minimum),
                                      ("EltwiseMax", np.maximum)])
def test_binary_arithmetic_broadcast(name, ref):
    assert_exact(getattr(sw, name)(i64(A), i64(B)), ref(A, B))
    assert_exact(getattr(sw, name)(i64(B), i64(A)), ref(B, A))


def test_add_sub_mul_wrap_around_like_numpy():
    a = np.array([I64_MAX, I64_MIN, BIG, -BIG], np.int64)
    b = np.array([1, -1, 4, 4], np.int64)
    with np.errstate(over="ignore"):
        assert_exact(sw.Add(i64(a), i64(b)), a + b)
        assert_exact(sw.Sub(i64(a), i64(b)), a - b)
        assert_exact(sw.EltwiseMult(i64(a), i64(b)), a * b)
    u = np.array([200, 10, 0], np.uint8)
    v = np.array([100, 20, 1], np.uint8)
    assert_exact(sw.Add(T(u), T(v)), u + v)
    assert_exact(sw.Sub(T(u), T(v)), u - v)
    assert_exact(sw.EltwiseMult(T(u), T(v)), u * v)


def _trunc_div(a, b):
    q = a // b
    return q + ((a % b != 0) & ((a < 0) != (b < 0)))


def test_integer_division_truncates_toward_zero():
    # ONNX Div on integers truncates (C's rule); NumPy's // floors.
    assert_exact(sw.Div(i64(A), i64(B)), _trunc_div(A, B))
    a = np.array([7, -7, 7, -7, BIG, -BIG], np.int64)
    b = np.array([2, 2, -2, -2, 3, 3], np.int64)
    assert_exact(sw.Div(i64(a), i64(b)), np.array([3, -3, -3, 3, BIG // 3, -(BIG // 3)]))


def test_integer_division_edge_cases_never_trap():
    a = np.array([5, I64_MIN, -5], np.int64)
    b = np.array([0, -1, 0], np.int64)
    assert_exact(sw.Div(i64(a), i64(b)), np.array([0, I64_MIN, 0], np.int64))
    assert_exact(sw.Mod(i64(a), i64(b)), np.array([0, 0, 0], np.int64))
    assert_exact(sw.FMod(i64(a), i64(b)), np.array([0, 0, 0], np.int64))


def test_mod_has_the_sign_of_the_divisor_and_fmod_of_the_dividend():
    a = np.array([7, -7, 7, -7, BIG, -BIG, 6], np.int64)
    b = np.array([3, 3, -3, -3, 1000, 1000, -3], np.int64)
    assert_exact(sw.Mod(i64(a), i64(b)), np.mod(a, b))
    assert_exact(sw.FMod(i64(a), i64(b)), np.fmod(a, b))
    assert_exact(sw.Mod(i64(A), i64(B)), np.mod(A, B))
    assert_exact(sw.FMod(i64(A), i64(B)), np.fmod(A, B))


def test_float_mod_and_fmod():
    a = np.array([5.5, -5.5, 5.5, -5.5, 3.0], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 1.5], np.float32)
    np.testing.assert_allclose(N(sw.Mod(T(a), T(b))), np.mod(a, b))
    np.testing.assert_allclose(N(sw.FMod(T(a), T(b))), np.fmod(a, b))
    np.testing.assert_allclose(N(sw.ModFloat(T(a), 2.0)), np.mod(a, np.float32(2)))


def test_mod_operator_on_core_tensors():
    assert_exact(i64([-7, 7]) % i64([3, 3]), np.array([2, 1], np.int64))


def test_pow_int64_is_exact():
    a = np.array([3, -3, 2, 7, 0, 1, -1, -1, 5], np.int64)
    b = np.array([39, 39, 62, 0, 5, -4, -3, -2, -1], np.int64)
    want = np.array([3**39, (-3)**39, 2**62, 1, 0, 1, -1, 1, 0], np.int64)
    assert_exact(sw.Pow(i64(a), i64(b)), want)
    with np.errstate(over="ignore"):
        assert_exact(sw.Pow(i64([3]), i64([41])), np.array([3], np.int64) ** 41)  # wraps


@pytest.mark.parametrize("name,ref", [("Neg", np.negative), ("Abs", np.abs), ("Sign", np.sign),
                                      ("Square", np.square), ("Ceil", lambda a: a),
                                      ("Floor", lambda a: a), ("Round", lambda a: a),
                                      ("ReLU", lambda a: np.maximum(a, 0))])
def test_unary_closed_on_int64_keep_the_dtype(name, ref):
    a = np.array([BIG, -BIG, 0, 5, -5], np.int64)
    with np.errstate(over="ignore"):
        assert_exact(getattr(sw, name)(i64(a)), ref(a))


def test_neg_and_abs_of_int64_min_wrap():
    assert_exact(sw.Neg(i64([I64_MIN])), np.array([I64_MIN], np.int64))
    assert_exact(sw.Abs(i64([I64_MIN])), np.array([I64_MIN], np.int64))


def test_unary_on_uint8_wraps_like_numpy():
    u = np.array([0, 1, 200], np.uint8)
    assert_exact(sw.Neg(T(u)), np.negative(u))
    assert_exact(sw.Square(T(u)), np.square(u))
    assert_exact(sw.Abs(T(u)), u)


def test_unary_not_closed_on_integers_computes_in_float32():
    r = sw.Exp(i64([0, 1]))
    assert r.data_type() == sw.kFloat32
    np.testing.assert_allclose(N(r), np.exp([0.0, 1.0]).astype(np.float32), rtol=1e-6)
    assert sw.Sqrt(T([4], np.uint8)).data_type() == sw.kFloat32


def test_clip_int64():
    a = np.array([BIG, -BIG, 3, -3], np.int64)
    assert_exact(sw.Clip(i64(a), -5, 2**40), np.clip(a, -5, 2**40))


def test_comparisons_of_int64_are_exact():
    a = np.array([BIG, BIG, BIG + 1, -BIG], np.int64)
    b = np.array([BIG + 1, BIG, BIG, -BIG - 1], np.int64)
    for name, ref in [("LT", np.less), ("LE", np.less_equal), ("GT", np.greater),
                      ("GE", np.greater_equal), ("EQ", np.equal)]:
        # SINGA's form gives 0/1 in the operands' dtype; the Bool form a bool tensor
        assert_exact(getattr(sw, name)(i64(a), i64(b)), ref(a, b).astype(np.int64))
        assert_exact(getattr(sw, name + "Bool")(i64(a), i64(b)), ref(a, b))


def test_comparison_into_a_bool_output():
    out = sw.Tensor([3], None, sw.kBool)
    sw.LTWithRet(i64([1, 5, BIG]), i64([2, 2, BIG + 1]), out)
    assert_exact(out, np.array([True, False, True]))


def test_where_with_int64_values():
    c = T([True, False, True])
    assert_exact(sw.Where(c, i64([BIG, 1, 2]), i64([3, -BIG, 5])), np.array([BIG, -BIG, 2]))
    r = sw.Where(c, i64([1, 2, 3]), T([7, 8, 9], np.int32))
    assert_exact(r, np.array([1, 8, 3], np.int64))


def test_in_place_int64_updates():
    a = i64([BIG // 4, 1])
    a += i64([1, 1])
    a *= 2.0
    assert_exact(a, np.array([(BIG // 4 + 1) * 2, 4], np.int64))


# ---- reductions --------------------------------------------------------------------------

R = rng.integers(-(2**30), 2**30, size=(3, 4, 5)).astype(np.int64)


@pytest.mark.parametrize("axes", [None, [0], [1], [2], [0, 2], [-1]])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_max_min_prod_over_axes(axes, keepdims):
    ax = None if axes is None else tuple(axes)
    for name, ref in [("ReduceSum", np.sum), ("ReduceMax", np.max), ("ReduceMin", np.min)]:
        assert_exact(getattr(sw, name)(i64(R), axes, keepdims), ref(R, axis=ax, keepdims=keepdims))
    small = R % 5 - 2
    with np.errstate(over="ignore"):
        assert_exact(sw.ReduceProd(i64(small), axes, keepdims), np.prod(small, axis=ax, keepdims=keepdims))


def test_sum_of_big_int64_is_exact_and_wraps():
    assert_exact(sw.ReduceSum(i64([BIG, 1, -5])), np.int64(BIG - 4))
    with np.errstate(over="ignore"):
        assert_exact(sw.ReduceSum(i64([I64_MAX, 1])), np.array([I64_MAX, 1]).sum())


def test_reduce_prod_float():
    a = rng.uniform(0.5, 1.5, size=(4, 6)).astype(np.float32)
    np.testing.assert_allclose(N(sw.ReduceProd(T(a), [1])), a.prod(axis=1), rtol=1e-5)


def test_sum_of_uint8_counts_in_int64():
    u = np.full(1000, 255, np.uint8)
    assert_exact(sw.ReduceSum(T(u)), np.int64(255 * 1000))
    assert_exact(sw.ReduceMax(T(u)), np.uint8(255))


def test_mean_of_int64_is_float32():
    r = sw.ReduceMean(i64([[1, 2], [3, 5]]), [1])
    assert r.data_type() == sw.kFloat32
    np.testing.assert_allclose(N(r), [1.5, 4.0])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_argmax_argmin_int64(axis):
    assert_exact(sw.ArgMax(i64(R), axis), np.argmax(R, axis=axis).astype(np.int32))
    assert_exact(sw.ArgMin(i64(R), axis), np.argmin(R, axis=axis).astype(np.int32))


def test_argmax_tells_values_a_float_would_merge():
    assert_exact(sw.ArgMax(i64([BIG, BIG + 1, BIG]), 0), np.int32(1))
    assert_exact(sw.ArgMin(i64([BIG + 1, BIG, BIG]), 0), np.int32(1))
    # first index on ties, as NumPy
    assert_exact(sw.ArgMin(T([3.0, 1.0, 1.0], np.float32), 0), np.int32(1))


def test_argmin_of_an_empty_axis_is_an_error():
    with pytest.raises(ValueError, match="ArgMin: the reduced axis is empty"):
        sw.ArgMin(sw.Tensor([2, 0], None, sw.kInt64), 1)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum_int64(axis):
    a = R[:, :, 0] * 1000
    assert_exact(sw.CumSum(i64(a), axis), np.cumsum(a, axis=axis))
    rev = np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)
    assert_exact(sw.CumSum(i64(a), axis, reverse=True), rev)
    excl = np.cumsum(a, axis=axis) - a
    assert_exact(sw.CumSum(i64(a), axis, exclusive=True), excl)
    assert_exact(sw.CumSum(i64(a), axis, exclusive=True, reverse=True), rev - a)


def test_cumsum_dtypes():
    f = np.array([[1.5, 2.0], [3.0, -1.0]], np.float32)
    np.testing.assert_allclose(N(sw.CumSum(T(f), 1)), np.cumsum(f, axis=1))
    assert_exact(sw.CumSum(T([True, True, False]), 0), np.array([1, 2, 2], np.int64))
    assert_exact(sw.CumSum(T([200, 200], np.uint8), 0), np.array([200, 400], np.int64))
    assert_exact(sw.CumSum(T([5, 6], np.int32), 0), np.array([5, 11], np.int32))
    with pytest.raises(IndexError, match="CumSum: axis 2"):
        sw.CumSum(i64([[1]]), 2)


# ---- shape ops ---------------------------------------------------------------------------

S = (np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 10) * BIG // 2**40


def test_copy_contiguous_transpose_reshape():
    t = i64(S)
    assert_exact(t.Clone(), S)
    assert_exact(sw.Transpose(t, [2, 0, 1]).Contiguous(), S.transpose(2, 0, 1))
    assert_exact(sw.Reshape(sw.Transpose(t, [1, 0, 2]), [6, -1]), S.transpose(1, 0, 2).reshape(6, 4))
    assert_exact(sw.Broadcast(i64(S[:, :1]), [2, 3, 4]).Contiguous(), np.broadcast_to(S[:, :1], (2, 3, 4)))


def test_concat_slice_tile_pad_repeat():
    t = i64(S)
    assert_exact(sw.ConcatOn([t, t], 1), np.concatenate([S, S], axis=1))
    assert_exact(sw.SliceOn(t, 1, 3, 2), S[:, :, 1:3])
    assert_exact(sw.Tile(t, [2, 1, 1]), np.tile(S, (2, 1, 1)))
    assert_exact(sw.Pad(t, [(1, 0), (0, 2), (1, 1)], 0, -3),
                 np.pad(S, [(1, 0), (0, 2), (1, 1)], constant_values=-3))
    assert_exact(sw.Pad(t, [(1, 1), (0, 0), (2, 1)], 1), np.pad(S, [(1, 1), (0, 0), (2, 1)], mode="edge"))
    assert_exact(sw.Pad(t, [(0, 0), (1, 1), (2, 1)], 2), np.pad(S, [(0, 0), (1, 1), (2, 1)], mode="reflect"))
    assert_exact(sw.Repeat(t, [2], 1), np.repeat(S, 2, axis=1))


def test_concat_promotes_like_the_element_wise_ops():
    r = sw.ConcatOn([i64([BIG]), T([-3], np.int32)], 0)
    assert_exact(r, np.array([BIG, -3], np.int64))
    r = sw.ConcatOn([T([True]), T([7], np.uint8)], 0)
    assert_exact(r, np.array([1, 7], np.uint8))
    assert sw.ConcatOn([i64([1]), T([1.5], np.float32)], 0).data_type() == sw.kFloat32


# ---- index ops ---------------------------------------------------------------------------

def test_take_with_int64_and_negative_indices():
    idx = np.array([[2, -1], [0, -3]], np.int64)
    assert_exact(sw.Take(i64(S), i64(idx), 1), np.take(S, idx, axis=1))
    assert_exact(sw.Take(T(S.astype(np.uint8)), i64(idx), 1), np.take(S.astype(np.uint8), idx, axis=1))


@pytest.mark.parametrize("bad", [3, -4, 2**40, -(2**40)])
def test_take_out_of_range_names_op_index_and_size(bad):
    with pytest.raises(IndexError, match=r"Gather: index {} is out of bounds for an axis of size 3".format(bad)):
        sw.Take(i64(S), i64([0, bad]), 1)


def test_gather_elements_int64():
    idx = np.array([[[0, -1, 1, 2]] * 3] * 2, np.int64)
    want = np.take_along_axis(S, np.where(idx < 0, idx + 3, idx), axis=1)
    assert_exact(sw.GatherElements(i64(S), i64(idx), 1), want)
    with pytest.raises(IndexError, match="GatherElements: index 3 is out of bounds for an axis of size 3"):
        sw.GatherElements(i64(S), i64(np.full((2, 3, 4), 3)), 1)


@pytest.mark.parametrize("add", [False, True])
def test_scatter_elements_int64(add):
    data = np.zeros((3, 3), np.int64) + BIG
    idx = np.array([[1, 0, 2], [0, 2, -2]], np.int64)
    upd = np.array([[1, 2, 3], [4, 5, 6]], np.int64) * 2**40
    want = data.copy()
    for i in range(2):
        for j in range(3):
            k = idx[i, j] % 3
            want[k, j] = want[k, j] + upd[i, j] if add else upd[i, j]
    r = sw.ScatterElements(i64(data), i64(idx), i64(upd), 0, add)
    assert_exact(r, want)


def test_scatter_elements_keeps_bool_and_uint8():
    r = sw.ScatterElements(T([False, False, False]), i64([2]), T([True]), 0)
    assert_exact(r, np.array([False, False, True]))
    r = sw.ScatterElements(T([1, 2], np.uint8), i64([0]), T([250], np.uint8), 0, True)
    assert_exact(r, np.array([251, 2], np.uint8))
    with pytest.raises(IndexError, match="ScatterElements: index 5 is out of bounds for an axis of size 2"):
        sw.ScatterElements(T([1, 2], np.uint8), i64([5]), T([1], np.uint8), 0)


def test_one_hot_with_int64_indices_and_dtypes():
    idx = np.array([0, -1, 2], np.int64)
    want = np.eye(4, dtype=np.int64)[[0, 3, 2]] * 7
    assert_exact(sw.OneHot(i64(idx), 4, 7, 0, sw.kInt64), want)
    assert_exact(sw.OneHot(i64(idx), 4, 1, 0, sw.kBool), want.astype(bool))
    with pytest.raises(IndexError, match="OneHot: index 4 is out of bounds for an axis of size 4"):
        sw.OneHot(i64([4]), 4)


def test_integer_kernels_reject_nothing_silently():
    # Unsupported combinations raise, naming the op
    with pytest.raises(TypeError, match="Neg: cannot negate a bool tensor"):
        sw.Neg(T([True]))
    with pytest.raises(TypeError, match="Sub: cannot subtract bool tensors"):
        sw.Sub(T([True]), T([False]))
