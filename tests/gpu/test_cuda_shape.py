"""The CUDA index kernels (src/cuda/shape.cu) through the public APIs: take,
gather_elements and scatter_elements (plain and add), against the reference (CuPy on a
real GPU, NumPy otherwise; scatter's references are NumPy's, whose duplicate rules the
CPU defines) and the CPU device.

Index lists of up to 256 entries travel by value in the kernel's arguments, longer ones
through pinned memory and a device buffer: each test has both sizes. take copies rows in
the widest word that divides them (16, 8, 4, 2 or 1 bytes): the row sizes vary so that
each is used. A plain scatter with repeated destinations keeps the last update (in flat
order), as the CPU does.
"""
import numpy as np
import pytest

from singa import autograd, tensor
from singa import singa_wrap as sw

from _gpu import N, check_on, on

cpu = sw.GetDefaultDevice()


def values(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else -100
        return rng.integers(lo, 100, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


DTYPES = [np.float32, np.float64, np.int32, np.int64, np.float16, np.int8, np.uint8, np.bool_]


# (shape, axis, number of indices): rows of 1 .. 16+ bytes, inline and staged lists
TAKE_CASES = [((5, 3), 0, 4), ((5, 3), 1, 7), ((2, 3, 4), 2, 3), ((40, 8), 0, 300),
              ((300, 5, 3), 0, 1000), ((6, 50, 4), 1, 257), ((7,), 0, 2), ((3, 1000), 1, 2000),
              ((1000, 2), 0, 256)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,k", TAKE_CASES)
def test_take(gpu, ref, rng, dtype, shape, axis, k):
    a = values(rng, shape, dtype)
    idx = rng.integers(-shape[axis], shape[axis], size=k).astype(np.int32)  # negatives, repeats
    got = check_on(gpu, sw.Take(on(gpu, a), on(gpu, idx), axis))
    want = ref.numpy(ref.xp.take(ref.asarray(a), ref.asarray(idx % shape[axis]), axis=axis))
    assert got.dtype == a.dtype
    np.testing.assert_array_equal(got, want)


def test_take_index_shapes_views_and_float_indices(gpu, ref, rng):
    a = values(rng, (6, 9, 5), np.float32)
    idx = rng.integers(0, 9, size=(4, 70)).astype(np.int64)  # 280 indices, 2-D
    got = check_on(gpu, sw.Take(on(gpu, a), on(gpu, idx), 1))
    np.testing.assert_array_equal(got, np.take(a, idx, axis=1))
    got = check_on(gpu, sw.Take(on(gpu, a), on(gpu, idx.astype(np.float32)), 1))
    np.testing.assert_array_equal(got, np.take(a, idx, axis=1))
    # a non-contiguous source is made contiguous by the entry point
    view = sw.Transpose(on(gpu, a), [2, 0, 1])
    got = check_on(gpu, sw.Take(view, on(gpu, idx[:1, :5]), 2))
    np.testing.assert_array_equal(got, np.take(a.transpose(2, 0, 1), idx[:1, :5], axis=2))
    empty = check_on(gpu, sw.Take(on(gpu, a), on(gpu, np.zeros(0, np.int32)), 0))
    assert empty.shape == (0, 9, 5)


def test_take_through_autograd_gather(gpu, rng):
    x = rng.standard_normal((10, 4)).astype(np.float32)
    t = tensor.from_numpy(x, gpu)
    y = autograd.gather(t, 0, [3, 1, 3, 9])
    np.testing.assert_array_equal(tensor.to_numpy(y), x[[3, 1, 3, 9]])


def _along(idx, axis):
    grid = list(np.indices(idx.shape))
    grid[axis] = idx
    return tuple(grid)


# (data shape, index shape, axis): index shapes smaller than the data's off the axis,
# longer on it, size-1 axes, inline and staged lists
ELEM_CASES = [((3, 4), (2, 3), 0), ((3, 4), (2, 3), 1), ((3, 4), (3, 9), 1),
              ((5, 6, 7), (5, 6, 7), 2), ((5, 6, 7), (4, 12, 3), 1), ((5, 6, 7), (9, 1, 7), 0),
              ((40, 30), (40, 30), 0), ((2, 300), (2, 700), 1), ((1, 8, 1, 9), (1, 20, 1, 9), 1),
              ((100000, 2), (5, 2), 0)]  # a long axis: the duplicate marking's hash map


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ishape,axis", ELEM_CASES)
def test_gather_elements(gpu, ref, rng, dtype, shape, ishape, axis):
    a = values(rng, shape, dtype)
    idx = rng.integers(-shape[axis], shape[axis], size=ishape).astype(np.int64)
    got = check_on(gpu, sw.GatherElements(on(gpu, a), on(gpu, idx), axis))
    want = a[_along(idx % shape[axis], axis)]
    assert got.dtype == a.dtype
    np.testing.assert_array_equal(got, want)
    if ishape == shape:
        r = ref.xp.take_along_axis(ref.asarray(a), ref.asarray(idx % shape[axis]), axis=axis)
        np.testing.assert_array_equal(got, ref.numpy(r))


def _last_wins(a, idx, upd, axis):
    """The CPU's plain scatter: updates written in flat order, the last one staying."""
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        dst = list(pos)
        dst[axis] = idx[pos]
        out[tuple(dst)] = upd[pos]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ishape,axis", ELEM_CASES)
def test_scatter_elements_plain_last_update_wins(gpu, rng, dtype, shape, ishape, axis):
    a = values(rng, shape, dtype)
    # few distinct indices: many updates share a destination
    idx = rng.integers(0, min(3, shape[axis]), size=ishape).astype(np.int32)
    upd = values(rng, ishape, dtype)
    got = check_on(gpu, sw.ScatterElements(on(gpu, a), on(gpu, idx), on(gpu, upd), axis))
    assert got.dtype == a.dtype
    want = _last_wins(a, idx, upd, axis)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, N(sw.ScatterElements(on(cpu, a), on(cpu, idx), on(cpu, upd), axis)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,ishape,axis", ELEM_CASES)
def test_scatter_elements_add(gpu, rng, dtype, shape, ishape, axis):
    a = values(rng, shape, dtype)
    idx = rng.integers(0, min(3, shape[axis]), size=ishape).astype(np.int64)
    upd = values(rng, ishape, dtype)
    got = check_on(gpu, sw.ScatterElements(on(gpu, a), on(gpu, idx), on(gpu, upd), axis, True))
    want = a.astype(np.float64) if a.dtype.kind == "f" else a.copy()
    np.add.at(want, _along(idx, axis), upd)
    assert got.dtype == a.dtype
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(got, want)
    else:
        # repeated destinations are summed by atomics in no fixed order
        per = max(1, int(np.ceil(ishape[axis] / min(3, shape[axis]))))
        tol = {np.float32: 2e-6, np.float64: 1e-12}[dtype] * 4 * max(1.0, np.sqrt(per)) * 10
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_scatter_add_int64_wraps_and_other_dtypes_compute_wide(gpu, rng):
    a = np.full((2, 3), 2**62, np.int64)
    idx = np.zeros((4, 3), np.int64)
    upd = np.full((4, 3), 2**62, np.int64)
    got = check_on(gpu, sw.ScatterElements(on(gpu, a), on(gpu, idx), on(gpu, upd), 0, True))
    np.testing.assert_array_equal(got, N(sw.ScatterElements(on(cpu, a), on(cpu, idx), on(cpu, upd), 0, True)))
    # float16 and int8 add in float32 / int64 (the entry point) and come back in their dtype
    for dtype in (np.float16, np.int8, np.uint8, np.bool_):
        x = values(rng, (4, 5), dtype)
        i = rng.integers(0, 4, size=(6, 5)).astype(np.int32)
        u = values(rng, (6, 5), dtype)
        got = check_on(gpu, sw.ScatterElements(on(gpu, x), on(gpu, i), on(gpu, u), 0, True))
        want = N(sw.ScatterElements(on(cpu, x), on(cpu, i), on(cpu, u), 0, True))
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-3, atol=1e-3)


def test_scatter_large_unique_matches_numpy_put(gpu, rng):
    a = values(rng, (64, 500), np.float32)
    idx = np.argsort(rng.random((64, 500)), axis=1)[:, :300].astype(np.int64)  # 19200 indices
    upd = values(rng, (64, 300), np.float32)
    got = check_on(gpu, sw.ScatterElements(on(gpu, a), on(gpu, idx), on(gpu, upd), 1))
    want = a.copy()
    np.put_along_axis(want, idx, upd, axis=1)
    np.testing.assert_array_equal(got, want)
    got = check_on(gpu, sw.ScatterElements(on(gpu, a), on(gpu, idx), on(gpu, upd), 1, True))
    want = a.copy()
    np.add.at(want, _along(idx, 1), upd)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_many_staged_calls_in_a_row(gpu, rng):
    """Pinned staging buffers are reused only after their copy ran: every result right."""
    a = values(rng, (500, 3), np.float32)
    outs, wants = [], []
    for i in range(40):
        idx = rng.integers(0, 500, size=300 + 37 * i).astype(np.int64)
        outs.append(sw.Take(on(gpu, a), on(gpu, idx), 0))
        wants.append(a[idx])
    for o, w in zip(outs, wants):
        np.testing.assert_array_equal(check_on(gpu, o), w)
