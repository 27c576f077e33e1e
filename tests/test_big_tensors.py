"""Tensors past 2^31 elements: every offset, count and loop index is 64-bit. Each test
holds at most two big buffers (int8: 2 GiB each, float16: 4 GiB), so the run peaks
under ~10 GB; the narrow-dtype ops convert piece by piece (math/pieces.h), not whole.

Slow (seconds to a minute a test): skipped unless SINGA_SLOW_TESTS=1, and not in the
sanitizer stage of .ci/run. Small versions of the same index arithmetic are in
tests/test_core_wide_index.py."""
import gc
import os

import numpy as np
import pytest

from singa import singa_wrap as sw

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SINGA_SLOW_TESTS") != "1",
                       reason="tensors past 2^31 elements: set SINGA_SLOW_TESTS=1"),
]

BIG = 2**31 + 8
TAIL = np.arange(1, 9)  # the 8 values past 2^31, written after the fill


def N(t):
    return np.array(sw.to_numpy(t))


def _big(dtype_code, fill):
    t = sw.Tensor([BIG], None, dtype_code)
    t.SetValue(fill)
    return t


def _tail(t):
    return t.Slice(0, 2**31, None, 1)


@pytest.fixture(autouse=True)
def _free_between_tests():
    yield
    gc.collect()  # the big buffers go before the next test allocates its own


@pytest.fixture(params=[sw.kChar, sw.kFloat16], ids=["int8", "float16"])
def big(request):
    """A BIG-element tensor of zeros whose last 8 elements are 1..8."""
    t = _big(request.param, 0)
    _tail(t).CopyDataFromHostPtr(TAIL.astype(np.int8 if request.param == sw.kChar else np.float16))
    yield t
    del t


def test_fill_reaches_the_far_end():
    t = _big(sw.kChar, 3)
    ends = N(t.Slice(0, BIG - 4, None, 1))
    np.testing.assert_array_equal(ends, [3, 3, 3, 3])
    t.Slice(0, BIG - 2, None, 1).SetValue(-5)  # a fill through a view at an offset past 2^31
    np.testing.assert_array_equal(N(t.Slice(0, BIG - 4, None, 1)), [3, 3, -5, -5])
    assert N(t.Slice(0, 0, 2, 1)).tolist() == [3, 3]


def test_tail_view_to_numpy_shares_the_far_end(big):
    tail = _tail(big)
    assert tail.shape() == (8,)
    view = sw.to_numpy(tail)
    np.testing.assert_array_equal(view, TAIL)
    assert N(big.Slice(0, 2**31 - 2, 2**31 + 1, 1)).tolist() == [0, 0, 1]


def test_copy_and_clone_keep_the_far_end(big):
    # A whole copy of the int8 tensor; of the float16 one, its second half (2 GiB), which
    # still reads from past 2^31.
    src = big if big.data_type() == sw.kChar else big.Slice(0, 2**30, None, 1)
    c = src.Clone()
    last8 = c.Slice(0, c.shape()[0] - 8, None, 1)
    np.testing.assert_array_equal(N(last8), TAIL)
    c.SetValue(0)
    c.CopyData(src)  # element-wise copy kernel, one flat loop past 2^30 or 2^31
    np.testing.assert_array_equal(N(last8), TAIL)
    assert N(c.Slice(0, 0, 4, 1)).tolist() == [0, 0, 0, 0]
    del c, last8
    # A converting copy (to float32) of the last 2^28 + 8 elements.
    wide = big.Slice(0, 2**31 - 2**28, None, 1).AsType(sw.kFloat32)
    np.testing.assert_array_equal(N(wide.Slice(0, 2**28, None, 1)), TAIL)


def test_in_place_element_wise_reaches_the_far_end(big):
    big += 2.0  # scalar, computed piece by piece in float32
    np.testing.assert_array_equal(N(_tail(big)), TAIL + 2)
    big *= big  # tensor with itself (same layout)
    np.testing.assert_array_equal(N(_tail(big)), (TAIL + 2) ** 2)
    assert N(big.Slice(0, 0, 2, 1)).tolist() == [4, 4]


def test_broadcast_binary_over_rows_reaches_the_last_row():
    t = _big(sw.kFloat16, 1)
    rows = t.Reshape([BIG // 8, 8])  # BIG is a multiple of 8
    step = sw.from_numpy(np.arange(8, dtype=np.float16))
    rows += step  # the (8,) row broadcast with stride 0 over 2^28 + 1 rows
    np.testing.assert_array_equal(N(rows.Slice(0, BIG // 8 - 1, None, 1)), [np.arange(8) + 1])
    np.testing.assert_array_equal(N(rows.Slice(0, 0, 1, 1)), [np.arange(8) + 1])


def test_sums_count_every_element(big):
    # SumAll is exact in float64; Sum rounds to its dtype (int8: float32), so the tail of
    # 36 over zeros is exact in either.
    assert sw.SumAll(big) == 36.0
    s = sw.ReduceSum(big, None, False)
    assert float(N(s)) == 36.0
    big.SetValue(1)
    assert sw.SumAll(big) == float(BIG)


def test_int8_sum_along_axes_of_a_reshaped_view():
    t = _big(sw.kChar, 1)
    m = t.Reshape([8, BIG // 8])
    m.Slice(0, 7, 8, 1).SetValue(2)  # the last row: offsets from 7/8 of the way to the end
    per_row = N(sw.ReduceSum(m, [1], False))  # exact in float64, then rounded to float32
    np.testing.assert_array_equal(per_row, np.float32([BIG // 8] * 7 + [2 * (BIG // 8)]))
    assert sw.SumAll(m) == 9 * (BIG // 8)
    per_col = N(sw.ReduceSum(m, [0], False))
    assert per_col.shape == (BIG // 8,) and per_col[0] == 9 and per_col[-1] == 9
    assert (per_col == 9).all()


def test_strided_and_transposed_views_past_2_to_31():
    t = _big(sw.kChar, 0)
    _tail(t).CopyDataFromHostPtr(TAIL.astype(np.int8))
    every8 = t.Slice(0, 7, None, 8)  # 2^28 + 1 elements, the last at offset BIG - 1
    assert every8.shape() == (BIG // 8,)
    got = N(every8.Clone().Slice(0, BIG // 8 - 2, None, 1))
    assert got.tolist() == [0, 8]
    cols = t.Reshape([BIG // 8, 8]).Transpose([1, 0])  # (8, 2^28 + 1), strides (1, 8)
    assert cols.stride() == (1, 8)
    last_col = cols.Slice(0, 7, 8, 1).Contiguous()  # strided copy reaching offset BIG - 1
    assert N(last_col.Slice(1, BIG // 8 - 1, None, 1)).tolist() == [[8]]
    back = cols.Slice(1, BIG // 8 - 1, None, 1).Contiguous()
    np.testing.assert_array_equal(N(back), TAIL.reshape(8, 1))


def test_concat_and_slice_of_the_tail():
    t = _big(sw.kFloat16, 0.5)
    _tail(t).CopyDataFromHostPtr(TAIL.astype(np.float16))
    joined = sw.ConcatOn([_tail(t), t.Slice(0, 0, 2, 1)], 0)
    np.testing.assert_array_equal(N(joined), np.concatenate([TAIL, [0.5, 0.5]]))
    rev = t.Slice(0, None, 2**31 - 2, -1)  # backwards from the last element
    assert rev.shape() == (9,)
    np.testing.assert_array_equal(N(rev.Clone()), np.concatenate([TAIL[::-1], [0.5]]))


def test_unary_on_a_tail_view_past_2_to_31():
    t = _big(sw.kFloat16, 0)
    _tail(t).CopyDataFromHostPtr(-TAIL.astype(np.float16))
    np.testing.assert_array_equal(N(sw.Abs(_tail(t))), TAIL)


def test_float16_matmul_with_a_leading_dimension_past_2_to_31():
    t = _big(sw.kFloat16, 0)
    _tail(t).CopyDataFromHostPtr(TAIL.astype(np.float16))  # row 2^28 below is the tail
    t.Slice(0, 0, 8, 1).SetValue(1)  # and row 0 is ones
    rows = t.Reshape([BIG // 8, 8])
    a = rows.Slice(0, 0, BIG // 8, 2**28)  # rows 0 and 2^28: row stride 2^31 elements
    assert a.shape() == (2, 8) and a.stride()[0] == 2**31
    b = np.arange(24, dtype=np.float16).reshape(8, 3)
    got = N(sw.Mult(a, sw.from_numpy(b)))
    want = np.stack([np.ones(8), TAIL]).astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float16).astype(np.float32))


def test_argmax_of_an_axis_past_int32_is_refused():
    t = _big(sw.kChar, 0)
    with pytest.raises(ValueError, match="ArgMax: axis 0 .* int32"):
        sw.ArgMax(t, 0)
