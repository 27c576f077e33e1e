"""bool tensors in the core against NumPy: interchange, casts, logic ops, comparisons
giving bool for every input dtype, Where with a bool condition for every value dtype,
NumPy's rules for bools in arithmetic, and reductions."""
import numpy as np
import pytest

from singa import singa_wrap as sw

P = np.array([True, False, True, False])
Q = np.array([True, True, False, False])

# (core dtype, NumPy dtype) of every dtype; bfloat16 has no NumPy dtype (None)
ALL_DTYPES = [(sw.kFloat32, np.float32), (sw.kDouble, np.float64), (sw.kFloat16, np.float16),
              (sw.kBFloat16, None), (sw.kInt, np.int32), (sw.kInt64, np.int64),
              (sw.kChar, np.int8), (sw.kUChar, np.uint8), (sw.kBool, np.bool_)]


def T(a, dtype=None):
    return sw.from_numpy(np.array(a, dtype=dtype))


def N(t):
    return np.array(sw.to_numpy(t))


def of_dtype(values, code):
    """A core tensor of dtype `code` holding `values` (small whole numbers)."""
    return T(np.array(values, np.float32)).AsType(code)


def assert_exact(t, want):
    got, want = N(t), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_bool_round_trips_and_shares_memory():
    a = P.copy()
    t = sw.from_numpy(a)
    assert t.data_type() == sw.kBool and "dtype=bool" in repr(t)
    a[1] = True
    assert N(t).tolist() == [True, True, True, False]
    assert sw.to_numpy(t).dtype == np.bool_


def test_bool_bytes_other_than_0_and_1_read_as_true():
    raw = np.array([0, 1, 2, 255], np.uint8)
    t = sw.from_numpy(raw.view(np.bool_))
    assert_exact(t.AsType(sw.kInt64), np.array([0, 1, 1, 1], np.int64))
    assert_exact(sw.Not(t), np.array([True, False, False, False]))


@pytest.mark.parametrize("code,np_dtype", [d for d in ALL_DTYPES if d[1] is not None])
def test_cast_to_bool_is_not_zero(code, np_dtype):
    vals = [0, 1, 2, 0, 100]
    assert_exact(T(vals, np_dtype).AsType(sw.kBool), np.array(vals, np_dtype).astype(bool))


def test_float_specials_to_bool():
    a = np.array([np.nan, -0.0, 0.0, np.inf, -1e-30], np.float32)
    assert_exact(T(a).AsType(sw.kBool), a.astype(bool))
    assert_exact(T(a).AsType(sw.kBFloat16).AsType(sw.kBool), np.array([1, 0, 0, 1, 1], bool))


@pytest.mark.parametrize("code,np_dtype", [d for d in ALL_DTYPES if d[1] is not None])
def test_cast_from_bool(code, np_dtype):
    assert_exact(T(P).AsType(code), P.astype(np_dtype))


@pytest.mark.parametrize("name,ref", [("And", np.logical_and), ("Or", np.logical_or),
                                      ("Xor", np.logical_xor)])
def test_logic_ops_on_bool(name, ref):
    assert_exact(getattr(sw, name)(T(P), T(Q)), ref(P, Q))
    # broadcast
    assert_exact(getattr(sw, name)(T(P.reshape(4, 1)), T(Q)), ref(P.reshape(4, 1), Q))
    assert_exact(getattr(sw, name + "Bool")(T(P.astype(np.float32)), T(Q.astype(np.float32))),
                 ref(P, Q))


def test_not_on_bool_and_on_float():
    assert_exact(sw.Not(T(P)), ~P)
    assert_exact(sw.Not(T([0.0, 2.0], np.float32)), np.array([1.0, 0.0], np.float32))  # SINGA's


CMP = [("LT", np.less), ("LE", np.less_equal), ("GT", np.greater), ("GE", np.greater_equal),
       ("EQ", np.equal)]


@pytest.mark.parametrize("code,np_dtype", ALL_DTYPES, ids=lambda d: str(d))
@pytest.mark.parametrize("name,ref", CMP, ids=[c[0] for c in CMP])
def test_comparisons_give_bool_for_every_dtype(code, np_dtype, name, ref):
    a = [0, 1, 2, 1, 0] if code == sw.kBool else [0, 3, 2, 7, 5]
    b = [1, 1, 0, 0, 0] if code == sw.kBool else [1, 3, 5, 2, 5]
    x, y = of_dtype(a, code), of_dtype(b, code)
    want = ref(np.array(a).astype(bool) if code == sw.kBool else np.array(a),
               np.array(b).astype(bool) if code == sw.kBool else np.array(b))
    assert_exact(getattr(sw, name + "Bool")(x, y), want)


def test_comparisons_of_mixed_dtypes_give_bool():
    r = sw.LTBool(T([1, 5], np.int64), T([1.5, 4.5], np.float32))
    assert_exact(r, np.array([True, False]))


def test_singa_comparisons_keep_their_float_result():
    r = sw.LT(T([1.0, 3.0], np.float32), T([2.0, 2.0], np.float32))
    assert_exact(r, np.array([1.0, 0.0], np.float32))
    assert_exact(sw.LT(T(P), T(Q)), P < Q)  # bool operands: bool


@pytest.mark.parametrize("code,np_dtype", ALL_DTYPES, ids=lambda d: str(d))
def test_where_with_a_bool_condition_for_every_value_dtype(code, np_dtype):
    a, b = of_dtype([1, 2, 3, 4], code), of_dtype([0, 0, 7, 0], code)
    r = sw.Where(T(P), a, b)
    assert r.data_type() == code
    want = np.where(P, [1, 2, 3, 4], [0, 0, 7, 0])
    if code == sw.kBool:
        want = want.astype(bool)
    np.testing.assert_array_equal(N(r.AsType(sw.kDouble)), want.astype(np.float64))


def test_where_broadcasts_condition_and_values():
    c = np.array([[True], [False]])
    a = np.arange(6, dtype=np.int64).reshape(2, 3) + 2**62
    assert_exact(sw.Where(T(c), T(a), T(np.int64(-1))), np.where(c, a, -1))


def test_where_with_a_float_condition_still_works():
    r = sw.Where(T([0.0, np.nan, 2.0], np.float32), T([1, 2, 3], np.int64), T([9, 9, 9], np.int64))
    assert_exact(r, np.array([9, 2, 3], np.int64))


def test_bool_arithmetic_follows_numpy():
    assert_exact(sw.Add(T(P), T(Q)), P + Q)  # or
    assert_exact(sw.EltwiseMult(T(P), T(Q)), P * Q)  # and
    assert_exact(sw.EltwiseMax(T(P), T(Q)), np.maximum(P, Q))
    assert_exact(sw.EltwiseMin(T(P), T(Q)), np.minimum(P, Q))
    r = sw.Div(T(P), T(Q))  # true division
    assert r.data_type() == sw.kFloat32
    with np.errstate(divide="ignore", invalid="ignore"):
        want = (P / Q).astype(np.float32)
    np.testing.assert_array_equal(N(r)[Q], want[Q])
    with pytest.raises(TypeError, match="Sub: cannot subtract bool tensors"):
        sw.Sub(T(P), T(Q))
    assert_exact(sw.Pow(T(P), T(Q)), (P.astype(np.int64) ** Q.astype(np.int64)))


def test_bool_with_numbers_takes_their_dtype():
    assert_exact(sw.Add(T(P), T([10, 20, 30, 40], np.int32)), P + np.array([10, 20, 30, 40], np.int32))
    assert_exact(sw.Add(T(P), T([2**40] * 4, np.int64)), P + np.int64(2**40))
    r = sw.EltwiseMult(T(P), T([1.5] * 4, np.float64))
    assert_exact(r, P * np.float64(1.5))
    # a whole-number scalar makes an integer (NumPy's bool + 1), a fraction a float32
    assert_exact(sw.AddFloat(T(P), 1), P + 1)
    assert sw.MultFloat(T(P), 0.5).data_type() == sw.kFloat32


def test_unary_closed_ops_on_bool_keep_bool_and_others_give_float32():
    assert_exact(sw.Abs(T(P)), np.abs(P))
    assert_exact(sw.Sign(T(P)), P)
    r = sw.Exp(T(P))
    assert r.data_type() == sw.kFloat32
    np.testing.assert_allclose(N(r), np.exp(P.astype(np.float32)), rtol=1e-6)
    with pytest.raises(TypeError, match="Neg: cannot negate a bool tensor"):
        sw.Neg(T(P))


def test_reductions_of_bool():
    m = np.array([[True, False, True], [True, True, True]])
    assert_exact(sw.ReduceSum(T(m), [1]), m.sum(axis=1))  # int64 counts
    assert_exact(sw.ReduceSum(T(m)), np.int64(m.sum()))
    assert_exact(sw.ReduceMax(T(m), [1]), m.max(axis=1))
    assert_exact(sw.ReduceMin(T(m), [1]), m.min(axis=1))
    assert_exact(sw.ReduceProd(T(m), [0]), m.prod(axis=0))
    assert_exact(sw.ArgMax(T(m), 1), np.argmax(m, axis=1).astype(np.int32))
    assert_exact(sw.ArgMin(T(m), 1), np.argmin(m, axis=1).astype(np.int32))


def test_bool_shape_ops():
    m = np.array([[True, False, True], [False, False, True]])
    t = T(m)
    assert_exact(t.Transpose([1, 0]).Contiguous(), m.T)
    assert_exact(sw.ConcatOn([t, t], 0), np.concatenate([m, m]))
    assert_exact(sw.Tile(t, [1, 2]), np.tile(m, (1, 2)))
    assert_exact(sw.Pad(t, [(1, 0), (0, 1)], 0, 1.0), np.pad(m, [(1, 0), (0, 1)], constant_values=True))
    assert_exact(sw.Take(t, T([2, 0], np.int64), 1), m[:, [2, 0]])
    assert_exact(sw.SliceOn(t, 1, 3, 1), m[:, 1:3])


def test_set_value_on_bool():
    t = sw.Tensor([3], None, sw.kBool)
    t.SetValue(0.5)
    assert_exact(t, np.array([True] * 3))
    t.SetValue(0)
    assert_exact(t, np.array([False] * 3))


def test_bool_l1_and_sum_all():
    t = T(P)
    assert sw.SumAll(t) == 2
    assert t.L1() == 0.5
