"""SINGA's autograd API where it used to differ here (issue 13), and the SINGA defects
we do not copy. Gradients are checked against central differences, never against a
formula written out in the test."""

import math

import numpy as np
import pytest

from singa import autograd, errors, singa_wrap, tensor, testing
from singa.testing import tensor_from as _t


def _f64(a):
    return np.asarray(a, np.float64)


def _np(x):
    return singa_wrap.to_numpy(x.data if isinstance(x, tensor.Tensor) else x).copy()


def _numeric(f, x):
    """d f(x) / dx by central differences, f a function of a float64 array."""
    x = np.array(x, np.float64)
    return testing.numeric_grad(lambda: f(x), x)


def _sum_with(dy):
    """An objective sum(y * dy) for a float64 Tensor y."""
    return lambda y: float((tensor.to_numpy(y) * dy).sum())


# ---------------------------------------------------------------------- gradients()

def test_gradients_are_keyed_by_id():
    autograd.training = True
    w = _t(_f64([1.0, -2.0]), stores_grad=True)
    x = _t(_f64([3.0, 4.0]), requires_grad=False)
    grads = autograd.gradients(autograd.reduce_sum(autograd.mul(w, x)))
    assert list(grads) == [id(w)]
    np.testing.assert_allclose(tensor.to_numpy(grads[id(w)]), [3.0, 4.0])


# ------------------------------------------------------------------ loss operations

RNG = np.random.default_rng(5)
PRED = RNG.uniform(0.1, 0.9, (4, 3))
ONEHOT = np.eye(3)[[0, 2, 1, 2]]
LOGITS = RNG.normal(size=(4, 3))

# (class, functional form, predictions, targets)
LOSSES = [
    ("MeanSquareError", autograd.mse_loss, PRED, RNG.normal(size=(4, 3))),
    ("CrossEntropy", autograd.cross_entropy, PRED, ONEHOT),
    ("BinaryCrossEntropy", autograd.binary_cross_entropy, PRED, RNG.uniform(0, 1, (4, 3))),
    ("SoftMaxCrossEntropy", autograd.softmax_cross_entropy, LOGITS, ONEHOT),
]


@pytest.mark.parametrize("name,fn,x,t", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_takes_the_target_in_the_constructor(name, fn, x, t):
    op = getattr(autograd, name)(_t(_f64(t)))
    y = op(_t(_f64(x)))[0]
    assert y.creator is op and y.shape == (1,)
    np.testing.assert_allclose(tensor.to_numpy(y), tensor.to_numpy(fn(_t(_f64(x)), _t(_f64(t)))))


@pytest.mark.parametrize("name,fn,x,t", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_backward_defaults_to_one_and_returns_one_dx(name, fn, x, t):
    autograd.training = True
    cls = getattr(autograd, name)
    y = cls(_t(_f64(t)))(_t(_f64(x)))[0]
    dx = y.creator.backward()
    assert isinstance(dx, singa_wrap.Tensor)
    want = _numeric(lambda a: float(tensor.to_numpy(cls(_t(_f64(t)))(_t(a))[0])[0]), x)
    np.testing.assert_allclose(_np(dx), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,fn,x,t", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_backward_scales_by_a_number_or_a_tensor(name, fn, x, t):
    autograd.training = True
    cls = getattr(autograd, name)

    def dx(dy):
        return _np(cls(_t(_f64(t)))(_t(_f64(x)))[0].creator.backward(dy))
    one = dx(1.0)
    np.testing.assert_allclose(dx(2.5), 2.5 * one, rtol=1e-12)
    np.testing.assert_allclose(dx(_t(_f64([-3.0])).data), -3.0 * one, rtol=1e-12)


@pytest.mark.parametrize("name", ["MeanSquareError", "CrossEntropy", "BinaryCrossEntropy"])
def test_loss_with_the_target_as_an_input_still_works(name):
    autograd.training = True
    x, t = _f64(PRED), _f64(ONEHOT)
    y = getattr(autograd, name)()(_t(x), _t(t))[0]
    dxs = y.creator.backward()
    assert isinstance(dxs, tuple) and len(dxs) == 2
    ref = getattr(autograd, name)(_t(t))(_t(x))[0]
    np.testing.assert_allclose(tensor.to_numpy(y), tensor.to_numpy(ref))


@pytest.mark.parametrize("name", ["MeanSquareError", "CrossEntropy", "BinaryCrossEntropy"])
def test_loss_target_given_twice_or_never_is_an_error(name):
    cls = getattr(autograd, name)
    x, t = _t(_f64(PRED)), _t(_f64(ONEHOT))
    with pytest.raises(errors.ArgumentError, match="once"):
        cls(t)(x, t)
    with pytest.raises(errors.ArgumentError, match="no target"):
        cls()(x)


def test_mse_loss_gives_a_trainable_target_its_gradient():
    autograd.training = True
    x = _t(_f64(PRED), stores_grad=True)
    data = autograd.mse_loss(x, _t(_f64(ONEHOT)))
    assert isinstance(data.creator.backward(), singa_wrap.Tensor)  # SINGA's one dx
    t = _t(_f64(ONEHOT), stores_grad=True)
    grads = autograd.gradients(autograd.mse_loss(x, t))
    np.testing.assert_allclose(tensor.to_numpy(grads[id(t)]), -tensor.to_numpy(grads[id(x)]))


# ------------------------------------------------------------ single Operations

def _op_gradients(y, dy, n_inputs):
    """y.creator.backward(dy) as a tuple of NumPy arrays, checked to hold one gradient
    per input."""
    dxs = y.creator.backward(_t(dy).data)
    if not isinstance(dxs, tuple):
        dxs = (dxs,)
    assert len(dxs) == n_inputs
    return [_np(d) for d in dxs]


def test_cossim_is_one_operation_with_a_gradient_per_input():
    autograd.training = True
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    y = autograd.cossim(_t(a), _t(b))
    assert type(y.creator) is autograd.CosSim
    dy = rng.normal(size=3)
    da, db = _op_gradients(y, dy, 2)
    np.testing.assert_allclose(da, _numeric(lambda p: _sum_with(dy)(autograd.cossim(_t(p), _t(b))), a),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, _numeric(lambda q: _sum_with(dy)(autograd.cossim(_t(a), _t(q))), b),
                               rtol=1e-6, atol=1e-8)


def test_cossim_needs_equal_shapes():
    with pytest.raises(AssertionError, match="CosSim"):
        autograd.cossim(_t(np.ones((2, 3))), _t(np.ones((2, 4))))


@pytest.mark.parametrize("name,cls", [("max", autograd.Max), ("min", autograd.Min)])
def test_max_min_of_one_input(name, cls):
    autograd.training = True
    x = _f64([[1.0, -2.0], [3.0, 0.5]])
    y = getattr(autograd, name)(_t(x))
    assert type(y.creator) is cls
    np.testing.assert_array_equal(tensor.to_numpy(y), x)
    [dx] = _op_gradients(y, np.full((2, 2), 4.0), 1)
    np.testing.assert_array_equal(dx, np.full((2, 2), 4.0))


@pytest.mark.parametrize("name,ref", [("max", np.maximum), ("min", np.minimum)])
def test_max_min_of_three_inputs_is_one_operation(name, ref):
    autograd.training = True
    rng = np.random.default_rng(3)
    xs = [rng.permutation(6).reshape(2, 3) * 1.0, rng.permutation(3) * 1.0 + 0.5,
          rng.permutation(2).reshape(2, 1) * 2.0 + 0.25]
    y = getattr(autograd, name)(*[_t(x) for x in xs])
    assert isinstance(y.creator, (autograd.Max, autograd.Min))
    np.testing.assert_array_equal(tensor.to_numpy(y), ref(ref(xs[0], xs[1]), xs[2]))
    dy = rng.normal(size=(2, 3))
    got = _op_gradients(y, dy, 3)
    for i in range(3):
        def f(a, i=i):
            args = [_t(a) if j == i else _t(xs[j]) for j in range(3)]
            return _sum_with(dy)(getattr(autograd, name)(*args))
        np.testing.assert_allclose(got[i], _numeric(f, xs[i]), atol=1e-8)


def test_max_ties_send_the_gradient_to_the_first_input():
    autograd.training = True
    a = _f64([1.0, 5.0, 2.0])
    y = autograd.max(_t(a), _t(a), _t(_f64([0.0, 5.0, 3.0])))
    da, db, dc = _op_gradients(y, np.ones(3), 3)
    np.testing.assert_array_equal(da, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(db, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dc, [0.0, 0.0, 1.0])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("name,cls,shape", [("depth_to_space", autograd.DepthToSpace, (2, 8, 2, 3)),
                                            ("space_to_depth", autograd.SpaceToDepth, (2, 2, 4, 6))])
def test_depth_space_are_one_operation(name, cls, shape, mode):
    autograd.training = True
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    y = getattr(autograd, name)(_t(x), 2, mode)
    assert type(y.creator) is cls
    dy = rng.normal(size=y.shape)
    [dx] = _op_gradients(y, dy, 1)
    want = _numeric(lambda a: _sum_with(dy)(getattr(autograd, name)(_t(a), 2, mode)), x)
    np.testing.assert_allclose(dx, want, atol=1e-8)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_space_to_depth_undoes_depth_to_space(mode):
    x = np.arange(2 * 8 * 2 * 3, dtype=np.float64).reshape(2, 8, 2, 3)
    y = autograd.space_to_depth(autograd.depth_to_space(_t(x), 2, mode), 2, mode)
    np.testing.assert_array_equal(tensor.to_numpy(y), x)


def test_depth_to_space_errors():
    with pytest.raises(AssertionError, match="mode"):
        autograd.depth_to_space(_t(np.ones((1, 4, 2, 2))), 2, "XYZ")
    with pytest.raises(AssertionError, match="divisible"):
        autograd.depth_to_space(_t(np.ones((1, 6, 2, 2))), 2)


def test_scatter_elements_with_data_updates_is_one_input():
    autograd.training = True
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    idx = [[1, 0, 2, 0]]
    upd = [[-1.0, -2.0, -3.0, -4.0]]
    for updates in (upd, np.array(upd), _t(_f64(upd))):
        y = autograd.scatter_elements(_t(x), idx, updates, 0)
        assert type(y.creator) is autograd.ScatterElements
        want = x.copy()
        want[[1, 0, 2, 0], [0, 1, 2, 3]] = upd[0]
        np.testing.assert_array_equal(tensor.to_numpy(y), want)
        [dx] = _op_gradients(y, np.ones((3, 4)), 1)
        mask = np.ones((3, 4))
        mask[[1, 0, 2, 0], [0, 1, 2, 3]] = 0.0  # overwritten positions pass nothing back
        np.testing.assert_array_equal(dx, mask)


def test_scatter_elements_class_takes_singas_arguments():
    x = np.zeros((2, 3))
    y = autograd.ScatterElements([[2], [0]], [[5.0], [6.0]], axis=1)(_t(x))[0]
    np.testing.assert_array_equal(tensor.to_numpy(y), [[0, 0, 5], [6, 0, 0]])
    with pytest.raises(AssertionError, match="axis="):
        autograd.ScatterElements([[2], [0]], 1)


def test_scatter_elements_gives_trainable_updates_their_gradient():
    autograd.training = True
    u = _t(_f64([[1.0, 2.0]]), stores_grad=True)
    y = autograd.scatter_elements(_t(np.zeros((2, 2))), [[1, 0]], u, 0)
    dx, du = _op_gradients(y, np.array([[1.0, 2.0], [3.0, 4.0]]), 2)
    np.testing.assert_array_equal(du, [[3.0, 2.0]])


@pytest.mark.parametrize("condition", [[[1, 0, 1]], np.array([[True, False, True]]),
                                       np.array([[2.0, 0.0, -1.0]])], ids=["list", "bool", "float"])
def test_where_takes_a_list_or_array_condition(condition):
    a, b = _f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), _f64([-1.0, -2.0, -3.0])
    y = autograd.where(_t(a), _t(b), condition)
    np.testing.assert_array_equal(tensor.to_numpy(y), np.where(np.asarray(condition) != 0, a, b))
    assert testing.gradcheck(lambda p, q: autograd.where(p, q, condition), [a, b])


@pytest.mark.parametrize("shape,pads", [((3,), [3, 4]), ((2, 3), [1, 5, 4, 2]),
                                        ((1, 4), [2, 0, 3, 7]), ((2, 2), [2, 2, 2, 2])], ids=str)
def test_reflect_pad_follows_numpy_past_the_axis_size(shape, pads):
    x = np.random.default_rng(6).normal(size=shape)
    nd = len(shape)
    want = np.pad(x, [(pads[i], pads[i + nd]) for i in range(nd)], "reflect")
    np.testing.assert_array_equal(tensor.to_numpy(autograd.pad(_t(x), "reflect", pads)), want)
    assert testing.gradcheck(lambda a: autograd.pad(a, "reflect", pads), [x])


def test_globalaveragepool_takes_singas_channel_last():
    x = np.random.default_rng(7).normal(size=(2, 3, 4, 5))
    ours = tensor.to_numpy(autograd.globalaveragepool(_t(x), "channels_last"))
    np.testing.assert_array_equal(tensor.to_numpy(autograd.globalaveragepool(_t(x), "channel_last")),
                                  ours)
    np.testing.assert_allclose(ours, x.mean(axis=(1, 2), keepdims=True))
    for bad in ("NHWC", "channel_first", "last"):
        with pytest.raises(AssertionError, match="data_format"):
            autograd.globalaveragepool(_t(x), bad)


# ----------------------------------------------------------------- argument errors

def test_autograd_argument_errors_are_assertion_errors_too():
    x = _t(np.ones((2, 3)))
    with pytest.raises(AssertionError, match="Pad"):
        autograd.pad(x, "wrap", [1, 1, 1, 1])
    with pytest.raises(ValueError, match="Pad"):
        autograd.pad(x, "wrap", [1, 1, 1, 1])


def test_core_shape_errors_in_an_op_are_assertion_errors_too():
    with pytest.raises(AssertionError, match=r"Matmul.*\(2, 3\).*\(2, 3\)"):
        autograd.matmul(_t(np.ones((2, 3))), _t(np.ones((2, 3))))
    with pytest.raises(errors.ArgumentError, match="Add"):
        autograd.add(_t(np.ones((2, 3))), _t(np.ones((4,))))


# ------------------------------------------------------------------------- dropout

def test_dropout_takes_seed_then_ratio():
    autograd.training = True
    x = _t(np.ones((200, 100), np.float32))
    y = tensor.to_numpy(autograd.dropout(x, 7, 0.25))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1.0 / 0.75, rtol=1e-6)
    assert autograd.dropout(x, ratio=0.25).creator.ratio == 0.25


def test_dropout_rejects_a_float_seed():
    for bad in (0.5, "1", 1.0, True):
        with pytest.raises(errors.ArgumentError, match="ratio="):
            autograd.dropout(_t(np.ones(3)), bad)
    with pytest.raises(AssertionError, match="seed"):
        autograd.Dropout(0.3)
    assert autograd.Dropout(None, 0.2).seed == 0  # None: the device's generator


def test_dropout_seed_repeats_the_masks():
    autograd.training = True
    x = _t(np.ones((50, 40), np.float32))

    def masks(seed):
        op = autograd.Dropout(seed, ratio=0.5)
        return [tensor.to_numpy(op(x)[0]) for _ in range(3)]
    first, again = masks(11), masks(11)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # each call draws a new mask
    assert not np.array_equal(first[0], masks(12)[0])


def test_seeded_dropout_gradient_uses_its_mask():
    autograd.training = True
    x = _t(np.ones((6, 5)), stores_grad=True)
    y = autograd.dropout(x, 3, 0.4)
    g = tensor.to_numpy(autograd.gradients(autograd.reduce_sum(y))[id(x)])
    np.testing.assert_array_equal(g, tensor.to_numpy(y))  # x is ones: y is the mask


# --------------------------------------------------------- SINGA defects not copied

def test_erf_backward_uses_x_and_dy():
    # SINGA's Erf backward ignores both; ours is the derivative of erf at x times dy.
    autograd.training = True
    x = np.linspace(-2.0, 2.0, 9)
    dy = np.linspace(0.5, 3.0, 9)
    y = autograd.erf(_t(x))
    [dx] = _op_gradients(y, dy, 1)
    want = _numeric(lambda a: float((np.vectorize(math.erf)(a) * dy).sum()), x)
    np.testing.assert_allclose(dx, want, rtol=1e-6)
    assert testing.gradcheck(autograd.erf, [x])


def test_shape_backward_passes_no_gradient():
    # SINGA's returns a list; the shape of x does not depend on its values: no gradient.
    autograd.training = True
    x = _t(np.ones((2, 3)), stores_grad=True)
    s = autograd.shape(x)
    np.testing.assert_array_equal(tensor.to_numpy(s), [2, 3])
    assert s.creator.backward(_t(np.ones(2)).data) is None
    y = autograd.add(autograd.reduce_sum(autograd.cast(s, tensor.float64)), autograd.reduce_sum(x))
    grads = autograd.gradients(y)
    np.testing.assert_array_equal(tensor.to_numpy(grads[id(x)]), np.ones((2, 3)))


def test_embedding_indices_get_no_gradient():
    # SINGA's Embedding returns a gradient for the integer indices; they have none.
    autograd.training = True
    idx = _t(np.array([[0, 2], [2, 1]], np.float64))
    w = np.random.default_rng(8).normal(size=(3, 4))
    y = autograd.embedding(idx, _t(w))
    dy = np.random.default_rng(9).normal(size=(2, 2, 4))
    dxs = y.creator.backward(_t(dy).data)
    assert dxs[0] is None
    want = _numeric(lambda a: _sum_with(dy)(autograd.embedding(idx, _t(a))), w)
    np.testing.assert_allclose(_np(dxs[1]), want, atol=1e-8)


# ------------------------------------------------------------ helpers SINGA exports

def test_axis_helper_names_the_broadcast_axes():
    assert autograd.axis_helper((2, 3, 4), (3, 1)) == (0, 2)
    assert autograd.axis_helper((2, 3), (2, 3)) == ()
    assert autograd.axis_helper((5, 4), (4,)) == (0,)


def test_back_broadcast_sums_to_the_input_shape():
    y = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    out = autograd.back_broadcast((2, 3, 4), (3, 1), _t(y).data)
    np.testing.assert_array_equal(autograd.ctensor2numpy(out), y.sum(axis=(0, 2)).reshape(3, 1))
    with pytest.raises(AssertionError, match="back_broadcast"):
        autograd.back_broadcast((2, 3), (3,), _t(y).data)


def test_ctensor2numpy_copies():
    t = _t(np.ones((2, 2)))
    a = autograd.ctensor2numpy(t.data)
    a[0, 0] = 5.0
    np.testing.assert_array_equal(tensor.to_numpy(t), np.ones((2, 2)))


def test_operations_name_outputs_and_gradients_as_singa_does():
    autograd.training = True
    y = autograd.relu(_t(np.ones(2)))
    op = y.creator
    assert op.output_name(0) == op.name + ":0"
    assert op.grad_name(0) == op.name + ":0_g"
    leaf = tensor.Tensor((2,), name="W").creator
    assert leaf.output_name(0) == "W" and leaf.grad_name(0) == "W_g"


def test_autograd_exposes_the_tensor_classes():
    assert autograd.CTensor is singa_wrap.Tensor
    assert autograd.Tensor is tensor.Tensor
