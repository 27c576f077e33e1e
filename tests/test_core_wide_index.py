"""Index and size arithmetic past 32 (and 63) bits, shown on small tensors: 0-copy views
with huge strides, huge slice steps, wrapping offsets, index values past 2^31, and the
narrow-dtype ops that work piece by piece just above their piece size. The tensors past
2^31 elements themselves are in tests/test_big_tensors.py (slow)."""
import numpy as np
import pytest

from singa import singa_wrap as sw

from _core import N, gemm_backends

PIECE = 1 << 24  # math/pieces.h: kConvertPiece


def T(a):
    return sw.from_numpy(np.ascontiguousarray(a))


@pytest.fixture(params=gemm_backends())
def backend(request):
    old = sw.get_gemm_backend()
    sw.set_gemm_backend(request.param)
    yield request.param
    sw.set_gemm_backend(old)


# ---- GEMM operands whose leading dimension does not fit 32 bits ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_single_row_view_with_a_row_stride_past_2_to_32(backend, dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    w = np.arange(8, dtype=dtype).reshape(4, 2)
    row = T(x).Slice(0, 0, 3, 2**31)  # one row, row stride 4 * 2^31 elements
    assert row.shape() == (1, 4) and row.stride()[0] == 4 * 2**31
    np.testing.assert_array_equal(N(sw.Mult(row, T(w))), x[:1] @ w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_outer_product_with_a_huge_stride_single_row_right_operand(backend, dtype):
    a = np.arange(3, dtype=dtype).reshape(3, 1)
    y = np.arange(6, dtype=dtype).reshape(3, 2)
    b = T(y).Slice(0, 0, 3, 2**40)  # (1, 2) with row stride 2^41
    np.testing.assert_array_equal(N(sw.Mult(T(a), b)), a @ y[:1])


def test_matmul_vector_times_huge_stride_row_batched(backend):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    w = np.ones((4, 5), np.float32)
    rows = T(x).Slice(1, 0, 3, 2**35)  # (2, 1, 4): each matrix one row
    np.testing.assert_array_equal(N(sw.Mult(rows, T(w))), x[:, :1] @ w)


# ---- slice steps whose product with the stride passes 2^63 ----
@pytest.mark.parametrize("step", [2**62, 2**63 - 1, 2**40 + 3])
def test_slice_with_a_step_past_the_stride_range_keeps_one_element(step):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = T(x).Slice(0, 0, 3, step)
    assert v.shape() == (1, 4)
    np.testing.assert_array_equal(N(v), x[::step])
    np.testing.assert_array_equal(N(sw.Abs(v)), x[::step])  # a kernel reads through it


@pytest.mark.parametrize("step", [-(2**62), -(2**63 - 1)])
def test_slice_with_a_huge_negative_step(step):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = T(x).Slice(1, None, None, step)
    assert v.shape() == (3, 1)
    np.testing.assert_array_equal(N(v), x[:, ::step])


def test_slice_step_count_does_not_wrap():
    x = np.arange(10, dtype=np.float32)
    for start, step in [(3, 2**63 - 1), (0, 2**63 - 2), (9, 2**62)]:
        np.testing.assert_array_equal(N(T(x).Slice(0, start, None, step)), x[start::step])


def test_broadcast_view_of_a_huge_shape_is_not_contiguous_and_copies_refuse():
    s = T(np.float32(2.0).reshape(1, 1))
    v = s.Broadcast([2**40, 2**40])  # 2^80 elements: a view only
    with pytest.raises(ValueError, match="2\\^64 or more elements"):
        v.Clone()


# ---- offset + count checks that could wrap around 2^64 ----
def test_copy_data_to_from_with_a_count_that_wraps_the_offset():
    dst, src = T(np.zeros(4, np.float32)), T(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="CopyDataToFrom"):
        sw.CopyDataToFrom(dst, src, 2**64 - 1, 1, 0)
    with pytest.raises(ValueError, match="CopyDataToFrom"):
        sw.CopyDataToFrom(dst, src, 2, 0, 2**64 - 1)


def test_copy_from_host_with_an_offset_that_wraps():
    t = T(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="CopyDataFromHostPtr"):
        t.CopyDataFromHostPtr(np.ones(2, np.float32), 2, 2**64 - 1)


# ---- index values past 2^31 (float index tensors are not squeezed into int32) ----
@pytest.mark.parametrize("bad", [3e9, -3e9, 1e30, float("nan"), float("inf")])
def test_take_refuses_float_indices_past_int32(bad):
    t = T(np.arange(5, dtype=np.float32))
    with pytest.raises(IndexError, match="Gather: index"):
        sw.Take(t, T(np.array([1.0, bad], np.float32)), 0)


def test_take_float_indices_truncate_and_wrap_as_before():
    t = T(np.arange(5, dtype=np.float32))
    got = N(sw.Take(t, T(np.array([1.7, -1.0, -0.5, 4.0], np.float32)), 0))
    np.testing.assert_array_equal(got, [1, 4, 0, 4])


def test_take_index_message_prints_whole_numbers():
    t = T(np.arange(5, dtype=np.float32))
    with pytest.raises(IndexError, match="index 3000000000 is out of bounds for an axis of size 5"):
        sw.Take(t, T(np.array([3e9], np.float64)), 0)


# ---- narrow dtypes just past the piece size: piecewise results equal the whole ----
@pytest.fixture(scope="module")
def half_big():
    rng = np.random.default_rng(7)
    return rng.standard_normal(PIECE + 37).astype(np.float16)


def test_piecewise_unary_on_float16_equals_float32_rounded(half_big):
    got = N(sw.Abs(T(half_big)))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, np.abs(half_big))
    sq = N(sw.Sqrt(T(np.abs(half_big))))
    np.testing.assert_array_equal(sq, np.sqrt(np.abs(half_big).astype(np.float32)).astype(np.float16))


def test_piecewise_binary_and_scalar_on_float16(half_big):
    a, b = T(half_big), T(half_big[::-1])
    want = (half_big.astype(np.float32) * half_big[::-1].astype(np.float32)).astype(np.float16)
    got = N(sw.EltwiseMult(a, b))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        N(sw.AddFloat(a, 0.25)), (half_big.astype(np.float32) + 0.25).astype(np.float16))


def test_piecewise_in_place_broadcast_on_a_two_axis_int8_tensor():
    # (2, PIECE + 1): one index of the first axis is over the piece size, so pieces are
    # cut along the second axis too; the row broadcasts with stride 0.
    x = (np.arange(2 * (PIECE + 1)) % 100).astype(np.int8).reshape(2, PIECE + 1)
    row = (np.arange(PIECE + 1) % 7).astype(np.int8)
    want = (x.astype(np.int32) + row).astype(np.int8)
    t = T(x.copy())
    t += T(row)
    np.testing.assert_array_equal(N(t), want)


def test_piecewise_sums_of_narrow_dtypes_along_each_axis():
    x = (np.arange(3 * (PIECE // 2 + 5)) % 11).astype(np.int8).reshape(3, PIECE // 2 + 5)
    t = T(x)
    assert sw.SumAll(t) == float(x.astype(np.int64).sum())
    # Summed exactly (float64), rounded once to float32.
    exact = x.astype(np.int64)
    np.testing.assert_array_equal(N(sw.ReduceSum(t, [0], False)), exact.sum(axis=0).astype(np.float32))
    np.testing.assert_array_equal(N(sw.ReduceSum(t, [1], True)),
                                  exact.sum(axis=1, keepdims=True).astype(np.float32))
    h = (x % 3).astype(np.float16)
    got = N(sw.ReduceSum(T(h), [0], False))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, h.astype(np.float64).sum(axis=0).astype(np.float16))
    mean = N(sw.ReduceMean(T(h), [1], False))
    np.testing.assert_allclose(mean.astype(np.float64), h.astype(np.float64).mean(axis=1), rtol=1e-3)


def test_argmax_refuses_an_axis_past_int32_before_allocating():
    t = T(np.float32(1.0).reshape(1)).Broadcast([2**31 + 8])
    with pytest.raises(ValueError, match="ArgMax: axis 0 .* int32"):
        sw.ArgMax(t, 0)
