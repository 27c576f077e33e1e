"""Shape, indexing and reduction autograd operations: forward against NumPy (float32)
and gradient checks in float64."""

import numpy as np
import pytest

from singa import autograd, tensor, testing
from singa.testing import tensor_from as _t


def check_forward(fn, ref, arrays, rtol=1e-5, atol=1e-6):
    testing.check_forward(fn, ref, arrays, rtol, atol)


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _check(fn, ref, shape, seed=0):
    x = _x(shape, seed)
    check_forward(fn, ref, [x])
    assert testing.gradcheck(fn, [x])


def _d2s_ref(x, b, mode):
    n, c, h, w = x.shape
    if mode == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // (b * b), h * b, w * b)


def _s2d_ref(x, b, mode):
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b)
    y = y.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else y.transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)


def _pad_ref(x, mode, pads, constant=0.0):
    nd = x.ndim
    pairs = [(pads[i], pads[i + nd]) for i in range(nd)]
    if mode == "constant":
        return np.pad(x, pairs, mode="constant", constant_values=constant)
    return np.pad(x, pairs, mode=mode)


# (id, functional op, NumPy reference, input shape)
SHAPE_OPS = [
    ("reshape", lambda x: autograd.reshape(x, (4, 3)), lambda x: x.reshape(4, 3), (3, 4)),
    ("reshape_infer", lambda x: autograd.reshape(x, [2, -1]), lambda x: x.reshape(2, -1),
     (2, 3, 2)),
    ("reshape_zero", lambda x: autograd.reshape(x, [0, -1]), lambda x: x.reshape(2, -1), (2, 3, 2)),
    ("reshape_1", lambda x: autograd.reshape(x, [1]), lambda x: x.reshape(1), (1, 1)),
    ("flatten", autograd.flatten, lambda x: x.reshape(2, -1), (2, 3, 4)),
    ("flatten_0", lambda x: autograd.flatten(x, 0), lambda x: x.reshape(1, -1), (2, 3, 4)),
    ("flatten_2", lambda x: autograd.flatten(x, 2), lambda x: x.reshape(6, 4), (2, 3, 4)),
    ("flatten_neg", lambda x: autograd.flatten(x, -1), lambda x: x.reshape(6, 4), (2, 3, 4)),
    ("transpose", autograd.transpose, lambda x: x.T, (2, 3, 4)),
    ("transpose_perm", lambda x: autograd.transpose(x, (1, 2, 0)),
     lambda x: x.transpose(1, 2, 0), (2, 3, 4)),
    ("transpose_2d", lambda x: autograd.transpose(x, (1, 0)), lambda x: x.T, (1, 5)),
    ("unsqueeze", lambda x: autograd.unsqueeze(x, 0), lambda x: x[None], (3, 4)),
    ("unsqueeze_list", lambda x: autograd.unsqueeze(x, [0, 3]), lambda x: x[None, :, :, None],
     (3, 4)),
    ("unsqueeze_neg", lambda x: autograd.unsqueeze(x, -1), lambda x: x[..., None], (3, 4)),
    ("squeeze_all", autograd.squeeze, np.squeeze, (1, 3, 1, 4)),
    ("squeeze_axis", lambda x: autograd.squeeze(x, 2), lambda x: x.squeeze(2), (1, 3, 1, 4)),
    ("squeeze_list", lambda x: autograd.squeeze(x, [0, -2]), lambda x: x.squeeze((0, 2)),
     (1, 3, 1, 4)),
    ("expand", lambda x: autograd.expand(x, (3, 4)), lambda x: np.broadcast_to(x, (3, 4)), (3, 1)),
    ("expand_rank", lambda x: autograd.expand(x, (2, 3, 4)),
     lambda x: np.broadcast_to(x, (2, 3, 4)), (1, 4)),
    ("expand_onnx", lambda x: autograd.expand(x, (2, 1, 1)),  # ONNX: result is the broadcast
     lambda x: x * np.ones((2, 1, 1)), (3, 1)),
    ("expand_1", lambda x: autograd.expand(x, (2, 2)), lambda x: np.broadcast_to(x, (2, 2)), (1,)),
    ("tile", lambda x: autograd.tile(x, [2, 3]), lambda x: np.tile(x, (2, 3)), (2, 3)),
    ("tile_int", lambda x: autograd.tile(x, 2), lambda x: np.tile(x, 2), (2, 3)),
    ("tile_rank", lambda x: autograd.tile(x, [2, 1, 2]), lambda x: np.tile(x, (2, 1, 2)), (2, 3)),
    ("tile_1", lambda x: autograd.tile(x, [3]), lambda x: np.tile(x, 3), (1,)),
    ("slice", lambda x: autograd.slice(x, [1, 0], [3, 4]), lambda x: x[1:3, 0:4], (4, 5)),
    ("slice_axes", lambda x: autograd.slice(x, [1], [-1], [1]), lambda x: x[:, 1:-1], (4, 5)),
    ("slice_steps", lambda x: autograd.slice(x, [0, 4], [4, 0], [0, 1], [2, -2]),
     lambda x: x[0:4:2, 4:0:-2], (4, 5)),
    ("slice_big_end", lambda x: autograd.slice(x, [2], [1000], [0]), lambda x: x[2:], (4, 5)),
    ("gather0", lambda x: autograd.gather(x, 0, [2, 0, 2]), lambda x: x[[2, 0, 2]], (3, 4)),
    ("gather1", lambda x: autograd.gather(x, 1, [[1, 3], [0, 1]]),
     lambda x: np.take(x, [[1, 3], [0, 1]], axis=1), (3, 4)),
    ("gather_neg", lambda x: autograd.gather(x, -1, [-1, 0]),
     lambda x: np.take(x, [-1, 0], axis=-1), (2, 3, 4)),
    ("pad_constant", lambda x: autograd.pad(x, "constant", [1, 0, 0, 2]),
     lambda x: _pad_ref(x, "constant", [1, 0, 0, 2]), (3, 4)),
    ("pad_value", lambda x: autograd.pad(x, "constant", [0, 1, 1, 1], 2.5),
     lambda x: _pad_ref(x, "constant", [0, 1, 1, 1], 2.5), (3, 4)),
    ("pad_edge", lambda x: autograd.pad(x, "edge", [2, 1, 1, 2]),
     lambda x: _pad_ref(x, "edge", [2, 1, 1, 2]), (3, 4)),
    ("pad_reflect", lambda x: autograd.pad(x, "reflect", [2, 1, 1, 2]),
     lambda x: _pad_ref(x, "reflect", [2, 1, 1, 2]), (3, 4)),
    ("pad_4d", lambda x: autograd.pad(x, "constant", [0, 0, 1, 1, 0, 0, 1, 2]),
     lambda x: _pad_ref(x, "constant", [0, 0, 1, 1, 0, 0, 1, 2]), (2, 2, 3, 3)),
    ("upsample", lambda x: autograd.upsample(x, "nearest", [1, 1, 2, 3]),
     lambda x: x.repeat(2, axis=2).repeat(3, axis=3), (2, 3, 2, 2)),
    ("upsample_1", lambda x: autograd.upsample(x, "nearest", [2, 1]),
     lambda x: x.repeat(2, axis=0), (1, 3)),
    ("depth_to_space_dcr", lambda x: autograd.depth_to_space(x, 2),
     lambda x: _d2s_ref(x, 2, "DCR"), (2, 8, 2, 3)),
    ("depth_to_space_crd", lambda x: autograd.depth_to_space(x, 2, "CRD"),
     lambda x: _d2s_ref(x, 2, "CRD"), (1, 8, 3, 2)),
    ("space_to_depth_dcr", lambda x: autograd.space_to_depth(x, 2),
     lambda x: _s2d_ref(x, 2, "DCR"), (2, 2, 4, 6)),
    ("space_to_depth_crd", lambda x: autograd.space_to_depth(x, 2, "CRD"),
     lambda x: _s2d_ref(x, 2, "CRD"), (1, 3, 2, 4)),
    ("reduce_sum", autograd.reduce_sum, lambda x: x.sum(keepdims=True), (3, 4)),
    ("reduce_sum_axes", lambda x: autograd.reduce_sum(x, [0, 2]),
     lambda x: x.sum((0, 2), keepdims=True), (2, 3, 4)),
    ("reduce_sum_nokeep", lambda x: autograd.reduce_sum(x, [1], 0), lambda x: x.sum(1), (2, 3, 4)),
    ("reduce_sum_neg", lambda x: autograd.reduce_sum(x, -1, 0), lambda x: x.sum(-1), (3, 4)),
    ("reduce_sum_1", lambda x: autograd.reduce_sum(x, [0]), lambda x: x.sum(0, keepdims=True),
     (1,)),
    ("reduce_mean", autograd.reduce_mean, lambda x: x.mean(keepdims=True), (3, 4)),
    ("reduce_mean_axes", lambda x: autograd.reduce_mean(x, [0, 2]),
     lambda x: x.mean((0, 2), keepdims=True), (2, 3, 4)),
    ("reduce_mean_nokeep", lambda x: autograd.reduce_mean(x, [1], 0), lambda x: x.mean(1),
     (2, 3, 4)),
    ("globalaveragepool", autograd.globalaveragepool,
     lambda x: x.mean((2, 3), keepdims=True), (2, 3, 4, 5)),
    ("globalaveragepool_1x1", autograd.globalaveragepool,
     lambda x: x.mean((2, 3), keepdims=True), (1, 2, 1, 1)),
    ("globalaveragepool_3d", autograd.globalaveragepool,
     lambda x: x.mean(2, keepdims=True), (2, 3, 4)),
    ("globalaveragepool_last", lambda x: autograd.globalaveragepool(x, "channels_last"),
     lambda x: x.mean((1, 2), keepdims=True), (2, 4, 5, 3)),
]


@pytest.mark.parametrize("name,fn,ref,shape", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_op(name, fn, ref, shape):
    _check(fn, ref, shape)


def test_reduce_sum_gradient_is_not_scaled():
    """SINGA scales ReduceSum's gradient like a mean's; ours is all ones."""
    autograd.training = True
    x = _t(_x((3, 4)).astype(np.float32), stores_grad=True)
    g = autograd.gradients(autograd.reduce_sum(x, [1], 0), _t(np.ones(3, np.float32)))[id(x)]
    np.testing.assert_array_equal(tensor.to_numpy(g), np.ones((3, 4)))


# ------------------------------------------------------------ split, cat


@pytest.mark.parametrize("shape,axis,parts,num", [((3, 5), 1, [2, 3], None), ((4, 2), 0, None, 2),
                                                  ((2, 3, 4), -1, [1, 1, 2], None),
                                                  ((1, 3), 1, [3], None)])
def test_split(shape, axis, parts, num):
    x = _x(shape)
    idx = np.cumsum(parts)[:-1] if parts is not None else num
    expected = np.split(x, idx, axis=axis)
    autograd.training = True
    ys = autograd.split(_t(x.astype(np.float32)), axis, parts, num)
    assert isinstance(ys, tuple) and len(ys) == len(expected)
    for y, e in zip(ys, expected):
        np.testing.assert_allclose(tensor.to_numpy(y), e, rtol=1e-6)
    # Gradient through every piece (weighted differently) and through one piece only.
    assert testing.gradcheck(
        lambda t: autograd.sum(*[autograd.reduce_sum(autograd.mul(p, _t(np.full((1,), i + 1.0))))
                                 for i, p in enumerate(autograd.split(t, axis, parts, num))]),
        [x])
    assert testing.gradcheck(lambda t: autograd.split(t, axis, parts, num)[-1], [x])


def test_split_bad_parts():
    with pytest.raises(ValueError):
        autograd.split(_t(np.zeros((3, 4), np.float32)), 1, [1, 2])


@pytest.mark.parametrize("shapes,axis", [([(2, 3), (4, 3)], 0), ([(2, 1), (2, 3), (2, 2)], 1),
                                         ([(1, 2, 3)], 0), ([(2, 2, 1), (2, 2, 2)], -1)])
def test_cat(shapes, axis):
    arrays = [_x(s, i) for i, s in enumerate(shapes)]
    check_forward(lambda *ts: autograd.cat(list(ts), axis), lambda *xs: np.concatenate(xs, axis),
                  arrays)
    assert testing.gradcheck(lambda *ts: autograd.cat(list(ts), axis), arrays)


# --------------------------------------------------- scatter, where, cast


@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements(axis):
    x = _x((3, 4))
    upd = _x((2, 4) if axis == 0 else (3, 2), 1)
    # Distinct targets per column/row, so "last write wins" is not in play.
    idx = (np.array([[1, 0, 2, 1], [2, 2, 0, 0]]) if axis == 0
           else np.array([[3, 0], [1, 2], [0, 1]]))

    def ref(a, u):
        out = a.copy()
        for i in np.ndindex(idx.shape):
            j = list(i)
            j[axis] = idx[i]
            out[tuple(j)] = u[i]
        return out
    fn = lambda a, u: autograd.scatter_elements(a, idx, u, axis)  # noqa: E731
    check_forward(fn, ref, [x, upd])
    assert testing.gradcheck(fn, [x, upd])


@pytest.mark.parametrize("sx,sy,sc", [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 4)),
                                      ((3, 1), (1, 4), (3, 4)), ((3, 4), (3, 4), (1, 4))], ids=str)
def test_where(sx, sy, sc):
    rng = np.random.default_rng(3)
    cond = rng.integers(0, 2, sc).astype(np.float32)
    a, b = _x(sx, 1), _x(sy, 2)
    fn = lambda p, q: autograd.where(p, q, _t(cond))  # noqa: E731
    check_forward(fn, lambda p, q: np.where(cond != 0, p, q), [a, b])
    assert testing.gradcheck(fn, [a, b])


def test_cast():
    x = _x((3, 4))
    check_forward(lambda t: autograd.cast(t, tensor.int32), lambda a: a.astype(np.int32), [x * 3])
    autograd.training = True
    t = _t(x.astype(np.float32), stores_grad=True)
    y = autograd.cast(t, tensor.float64)
    assert y.dtype == tensor.float64
    g = autograd.gradients(y, _t(np.full((3, 4), 2.0)))[id(t)]
    assert g.dtype == tensor.float32  # converted back to the input's dtype
    np.testing.assert_array_equal(tensor.to_numpy(g), np.full((3, 4), 2.0))
    assert testing.gradcheck(lambda a: autograd.cast(a, tensor.float64), [x])


# ------------------------------------------ non-differentiable shape ops


def _no_grad_for(fn, x):
    autograd.training = True
    t = _t(np.asarray(x), stores_grad=True)
    y = fn(t)
    grads = autograd.gradients(y, _t(np.ones(y.shape, tensor.to_numpy(y).dtype)))
    assert id(t) not in grads
    return y


def test_shape():
    x = np.zeros((2, 3, 1), np.float32)
    y = _no_grad_for(autograd.shape, x)
    np.testing.assert_array_equal(tensor.to_numpy(y), [2, 3, 1])


@pytest.mark.parametrize("x", [np.array([[0, 1.5], [-2, 0]], np.float32),
                               np.array([0, 0, 3], np.float32), np.zeros((2, 2), np.float32)])
def test_nonzero(x):
    autograd.training = False
    np.testing.assert_array_equal(tensor.to_numpy(autograd.nonzero(_t(x))), np.array(np.nonzero(x)))
    autograd.training = True
    t = _t(x, stores_grad=True)
    autograd.nonzero(t)  # no gradient flows; nothing to check beyond not failing


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_constant_of_shape(value):
    shp = _t(np.array([2, 3], np.int32))
    y = autograd.constant_of_shape(shp, value)
    np.testing.assert_array_equal(tensor.to_numpy(y), np.full((2, 3), value))
    autograd.training = True
    t = _t(np.array([2.0, 1.0], np.float32), stores_grad=True)
    grads = autograd.gradients(autograd.constant_of_shape(t, value),
                               _t(np.ones((2, 1), np.float32)))
    assert id(t) not in grads


@pytest.mark.parametrize("axis,ishape", [(-1, (3,)), (0, (3,)), (1, (2, 3)), (-1, (2, 3))])
def test_onehot(axis, ishape):
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 4, ishape).astype(np.int32)
    eye = np.eye(4)[idx] * (5.0 - 1.0) + 1.0  # values = [off, on] = [1, 5]
    expected = np.moveaxis(eye, -1, axis)
    y = autograd.onehot(axis, _t(idx), 4, [1.0, 5.0])
    np.testing.assert_array_equal(tensor.to_numpy(y), expected)
    y = _no_grad_for(lambda t: autograd.onehot(axis, t, 4, [1.0, 5.0]), idx.astype(np.float32))
    np.testing.assert_array_equal(tensor.to_numpy(y), expected)
