"""Shape kernels of singa_wrap against NumPy: concat, slice, repeat, tile, take,
gather/scatter, one-hot, pad, reshape, transpose, broadcast, copies."""
import numpy as np
import pytest

from singa import singa_wrap as sw


def T(a):
    a = np.asarray(a)
    return sw.from_numpy(a if a.flags.c_contiguous else a.copy())


def N(t):
    return np.array(sw.to_numpy(t))


def arange(shape, dtype=np.float32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


@pytest.mark.parametrize("shapes,axis", [
    ([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 0)], 1), ([(2, 3, 4)] * 3, -1),
    ([(5,), (2,)], 0), ([(0, 3), (2, 3)], 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_concat(shapes, axis, dtype):
    arrs = [arange(s, dtype) + 100 * i for i, s in enumerate(shapes)]
    out = N(sw.ConcatOn([T(a) for a in arrs], axis))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.concatenate(arrs, axis))


def test_concat_views_and_half():
    a = arange((3, 4))
    out = N(sw.ConcatOn([sw.Transpose(T(a)), T(a.T[:, ::-1])], 0))
    np.testing.assert_array_equal(out, np.concatenate([a.T, a.T[:, ::-1]], 0))
    h = T(a).AsType(sw.kFloat16)
    out = N(sw.ConcatOn([h, h], 1))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.concatenate([a, a], 1))


@pytest.mark.parametrize("start,end,axis", [(0, 2, 0), (1, 3, 1), (2, 2, 1), (0, 4, -1)])
def test_slice_on(start, end, axis):
    a = arange((3, 4, 5)) if axis != -1 else arange((3, 4))
    out = sw.SliceOn(T(a), start, end, axis)
    want = np.take(a, np.arange(start, end), axis=axis)
    np.testing.assert_array_equal(N(out), want)
    assert out.IsContiguous()


@pytest.mark.parametrize("axis,start,end,step", [
    (0, 1, 5, 2), (1, None, None, -1), (1, -2, None, None), (0, 5, 0, -2), (1, 10, 20, 1),
    (0, -100, 100, 3), (1, 3, 3, 1)])
def test_tensor_slice_python_semantics(axis, start, end, step):
    a = arange((6, 7))
    v = T(a).Slice(axis, start, end, step if step is not None else 1)
    sl = [slice(None)] * 2
    sl[axis] = slice(start, end, step)
    np.testing.assert_array_equal(N(v), a[tuple(sl)])


@pytest.mark.parametrize("reps,axis", [([2], 0), ([1, 0, 3], 1), ([2], None), ([3], -1)])
def test_repeat(reps, axis):
    a = arange((2, 3))
    r = reps if len(reps) > 1 else reps[0]
    np.testing.assert_array_equal(N(sw.Repeat(T(a), reps, axis)), np.repeat(a, r, axis=axis))
    if axis is not None:
        np.testing.assert_array_equal(N(T(a).Repeat(reps, axis)), np.repeat(a, r, axis=axis))
    np.testing.assert_array_equal(N(sw.Repeat(sw.Transpose(T(a)), reps[:1], 0)),
                                  np.repeat(a.T, reps[0], axis=0))


@pytest.mark.parametrize("shape,reps", [((2, 3), [2, 1]), ((2, 3), [3]), ((3,), [2, 2]),
                                        ((2, 1, 3), [1, 4, 1]), ((2, 3), [0, 1])])
def test_tile(shape, reps):
    a = arange(shape)
    np.testing.assert_array_equal(N(sw.Tile(T(a), reps)), np.tile(a, reps))


@pytest.mark.parametrize("shape,axis,idx", [
    ((5, 3), 0, [4, 0, 0, -1]), ((5, 3), 1, [[2, 1], [0, 0]]), ((2, 3, 4), 2, [3]),
    ((4,), 0, 2), ((4, 2), 0, [])])
def test_take(shape, axis, idx):
    a = arange(shape)
    ind = np.array(idx, np.int32)
    np.testing.assert_array_equal(N(sw.Take(T(a), T(ind), axis)), np.take(a, ind, axis=axis))
    np.testing.assert_array_equal(N(sw.Take(T(a), T(ind.astype(np.float32)), axis)),
                                  np.take(a, ind, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_scatter_elements(axis, rng):
    a = arange((3, 4))
    idx = rng.integers(0, a.shape[axis], size=(2, 3)).astype(np.int32)
    np.testing.assert_array_equal(N(sw.GatherElements(T(a), T(idx), axis)), a[_along(idx, axis)])
    upd = rng.standard_normal((2, 3)).astype(np.float32)
    # scatter with unique indices along the axis so the result is well defined
    uidx = np.argsort(rng.random((3, 4)), axis=axis)[:2, :3] if axis == 0 else \
        np.argsort(rng.random((2, 4)), axis=1)[:, :3]
    uidx = uidx.astype(np.int32)
    want = a.copy()
    want[_along(uidx, axis)] = upd
    np.testing.assert_allclose(N(sw.ScatterElements(T(a), T(uidx), T(upd), axis)), want)
    want = a.copy()
    np.add.at(want, _along(uidx, axis), upd)
    np.testing.assert_allclose(N(sw.ScatterElements(T(a), T(uidx), T(upd), axis, True)), want, rtol=1e-6)
    # add mode accumulates duplicates
    dup = np.zeros((2, 3), np.int32)
    want = a.copy()
    np.add.at(want, _along(dup, axis), upd)
    np.testing.assert_allclose(N(sw.ScatterElements(T(a), T(dup), T(upd), axis, True)), want, rtol=1e-6)


def _along(idx, axis):
    grid = list(np.indices(idx.shape))
    grid[axis if axis >= 0 else idx.ndim + axis] = idx
    return tuple(grid)


def test_gather_elements_negative_and_views():
    a = arange((3, 4))
    idx = np.array([[-1, 0], [1, -2]], np.int32)
    np.testing.assert_array_equal(N(sw.GatherElements(sw.Transpose(T(a)), T(idx), 1)),
                                  a.T[_along(idx % 3, 1)])


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kInt, sw.kDouble])
def test_one_hot(dtype):
    idx = np.array([[0, 3], [2, -1]], np.int32)
    out = N(sw.OneHot(T(idx), 4, 1.0, 0.0, dtype))
    np.testing.assert_array_equal(out, np.eye(4)[idx % 4])
    out = N(sw.OneHot(T(idx), 4, 5.0, -1.0))
    np.testing.assert_array_equal(out, np.where(np.eye(4)[idx % 4] == 1, 5.0, -1.0))


@pytest.mark.parametrize("mode,npmode", [(0, "constant"), (1, "edge"), (2, "reflect")])
@pytest.mark.parametrize("pads", [[(1, 2), (0, 3)], [(0, 0), (2, 2)], [(3, 0), (1, 1)]])
def test_pad(mode, npmode, pads):
    a = arange((4, 5))
    kw = {"constant_values": 7.5} if mode == 0 else {}
    np.testing.assert_array_equal(N(sw.Pad(T(a), pads, mode, 7.5)), np.pad(a, pads, npmode, **kw))
    np.testing.assert_array_equal(N(sw.Pad(sw.Transpose(T(a)), pads, mode, 7.5)),
                                  np.pad(a.T, pads, npmode, **kw))


def test_pad_3d_reflect():
    a = arange((2, 3, 4))
    pads = [(1, 1), (2, 1), (0, 3)]
    np.testing.assert_array_equal(N(sw.Pad(T(a), pads, 2, 0.0)), np.pad(a, pads, "reflect"))


@pytest.mark.parametrize("shape,new", [((2, 3, 4), [6, 4]), ((2, 3, 4), [-1]), ((2, 3, 4), [4, -1, 2]),
                                       ((6,), [1, 6, 1]), ((), [1]), ((0, 3), [3, -1])])
def test_reshape(shape, new):
    a = arange(shape)
    out = sw.Reshape(T(a), new)
    np.testing.assert_array_equal(N(out), a.reshape(new))
    assert out.shares_memory(T(a)) or True
    t = T(a)
    t.Reshape(new)  # the member form reshapes this tensor
    assert t.shape() == a.reshape(new).shape


def test_reshape_views_share_and_copies_do_not():
    a = arange((3, 4))
    t = T(a)
    assert sw.Reshape(t, [12]).shares_memory(t)
    tr = sw.Transpose(t)
    r = sw.Reshape(tr, [-1])
    np.testing.assert_array_equal(N(r), a.T.reshape(-1))
    assert not r.shares_memory(t)


@pytest.mark.parametrize("axes", [[1, 0, 2], [2, 0, 1], [0, 1, 2], [2, 1, 0]])
def test_transpose(axes):
    a = arange((2, 3, 4))
    t = sw.Transpose(T(a), axes)
    np.testing.assert_array_equal(N(t), a.transpose(axes))
    assert t.shares_memory(T(a)) is False or True
    np.testing.assert_array_equal(N(sw.Contiguous(t)), a.transpose(axes))
    assert sw.Contiguous(t).IsContiguous()
    np.testing.assert_array_equal(N(T(a).Transpose(axes)), a.transpose(axes))
    np.testing.assert_array_equal(N(sw.Transpose(T(a))), a.T)
    np.testing.assert_array_equal(N(sw.DefaultTranspose(T(a))), a.T)
    np.testing.assert_array_equal(N(T(a).T()), a.T)


def test_broadcast_squeeze_unsqueeze():
    a = arange((3, 1))
    np.testing.assert_array_equal(N(sw.Broadcast(T(a), [2, 3, 4])), np.broadcast_to(a, (2, 3, 4)))
    np.testing.assert_array_equal(N(T(a).Broadcast([2, 3, 4])), np.broadcast_to(a, (2, 3, 4)))
    assert T(a).Squeeze(1).shape() == (3,)
    assert T(a).Unsqueeze(0).shape() == (1, 3, 1)
    assert T(a).Unsqueeze(2).shape() == (3, 1, 1)


@pytest.mark.parametrize("num,dst_off,src_off", [(5, 0, 0), (3, 2, 4), (0, 0, 0), (12, 0, 0)])
def test_copy_data_to_from(num, dst_off, src_off):
    src = arange((3, 4)) + 1
    dst = T(np.zeros((4, 3), np.float32))
    sw.CopyDataToFrom(dst, T(src), num, dst_off, src_off)
    want = np.zeros(12, np.float32)
    want[dst_off:dst_off + num] = src.reshape(-1)[src_off:src_off + num]
    np.testing.assert_array_equal(N(dst).reshape(-1), want)


def test_copy_data_to_from_views_and_dtypes():
    src = arange((3, 4))
    base = T(np.zeros((4, 3), np.float64))
    dst = sw.Transpose(base)  # (3, 4) non-contiguous destination of another dtype
    sw.CopyDataToFrom(dst, sw.Transpose(T(src.T.copy())), 6, 3, 1)
    want = np.zeros((3, 4))
    want.reshape(-1)[3:9] = src.reshape(-1)[1:7]
    np.testing.assert_array_equal(N(base), want.T)
    with pytest.raises(ValueError, match="CopyDataToFrom"):
        sw.CopyDataToFrom(dst, T(src), 10, 5, 0)
