"""Loss operations: forward against NumPy, gradient checks in float64, and the
SINGA defects we fix (dy ignored by softmax_cross_entropy, labels out of range)."""

import numpy as np
import pytest

from singa import autograd, tensor, testing
from singa.testing import tensor_from as _t


def _f32(a):
    return np.asarray(a, np.float32)


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _onehot(labels, c):
    return np.eye(c)[labels]


def _labels(n, c, seed=0):
    return np.random.default_rng(seed).integers(0, c, n).astype(np.int32)


def _logits(n, c, seed=0):
    return np.random.default_rng(seed + 100).normal(size=(n, c)) * 2


CASES = [(4, 3), (1, 5), (6, 2), (3, 1)]


@pytest.mark.parametrize("n,c", CASES, ids=str)
@pytest.mark.parametrize("target", ["int", "onehot", "soft"])
def test_softmax_cross_entropy(n, c, target):
    x = _logits(n, c)
    labels = _labels(n, c)
    if target == "int":
        t = _t(labels)
        tt = _onehot(labels, c)
    elif target == "onehot":
        tt = _onehot(labels, c)
        t = _t(_f32(tt))
    else:
        tt = _softmax(np.random.default_rng(1).normal(size=(n, c)))
        t = _t(_f32(tt))
    expected = -(tt * np.log(_softmax(x))).sum(1).mean()
    for mode in (False, True):
        autograd.training = mode
        y = autograd.softmax_cross_entropy(_t(_f32(x)), t)
        assert y.shape == (1,)
        np.testing.assert_allclose(tensor.to_numpy(y), [expected], rtol=1e-5, atol=1e-6)
    t64 = t if target == "int" else _t(tt)
    assert testing.gradcheck(lambda a: autograd.softmax_cross_entropy(a, t64), [x])


def test_softmax_cross_entropy_normalises_soft_targets():
    """Rows that do not sum to 1 are normalised in the forward and the backward alike, so
    the gradient belongs to the loss (SINGA's intent; PyTorch differs, see the docstring)."""
    x = _logits(3, 4)
    w = np.random.default_rng(5).uniform(0.1, 3.0, size=(3, 4))  # rows sum to 1.6 .. 12
    tn = w / w.sum(1, keepdims=True)
    y = autograd.softmax_cross_entropy(_t(_f32(x)), _t(_f32(w)))
    expected = -(tn * np.log(_softmax(x))).sum(1).mean()
    np.testing.assert_allclose(tensor.to_numpy(y), [expected], rtol=1e-5)
    autograd.training = True
    p = _t(_f32(x), stores_grad=True)
    g = autograd.gradients(autograd.softmax_cross_entropy(p, _t(_f32(w))))[id(p)]
    np.testing.assert_allclose(tensor.to_numpy(g), (_softmax(x) - tn) / 3, rtol=1e-5, atol=1e-7)
    w64 = _t(w)
    assert testing.gradcheck(lambda a: autograd.softmax_cross_entropy(a, w64), [x])


def test_softmax_cross_entropy_zero_target_row_is_an_error():
    w = np.ones((3, 4), np.float32)
    w[1] = 0
    with pytest.raises(ValueError, match=r"SoftMaxCrossEntropy.*row\(s\) \[1\] sum to 0"):
        autograd.softmax_cross_entropy(_t(_f32(_logits(3, 4))), _t(w))


def test_softmax_cross_entropy_dy_scales_gradient():
    x, labels = _logits(4, 3), _labels(4, 3)
    autograd.training = True
    grads = []
    for dy in (1.0, 2.5):
        p = _t(_f32(x), stores_grad=True)
        loss = autograd.softmax_cross_entropy(p, _t(labels))
        grads.append(tensor.to_numpy(autograd.gradients(loss, _t(_f32([dy])))[id(p)]))
    np.testing.assert_allclose(grads[1], 2.5 * grads[0], rtol=1e-6)
    # ... and the default dy (None) means 1.
    p = _t(_f32(x), stores_grad=True)
    g = autograd.gradients(autograd.softmax_cross_entropy(p, _t(labels)))[id(p)]
    np.testing.assert_allclose(tensor.to_numpy(g), grads[0], rtol=1e-6)
    np.testing.assert_allclose(grads[0], (_softmax(x) - _onehot(labels, 3)) / 4, rtol=1e-5,
                               atol=1e-7)


def test_softmax_cross_entropy_label_out_of_range():
    x = _t(_f32(_logits(2, 3)))
    with pytest.raises((ValueError, IndexError)):
        autograd.softmax_cross_entropy(x, _t(np.array([0, 3], np.int32)))
    with pytest.raises((ValueError, IndexError)):
        autograd.softmax_cross_entropy(x, _t(np.array([-1, 0], np.int32)))


def test_softmax_cross_entropy_batch_mismatch_names_op():
    x = _t(_f32(_logits(2, 3)))
    with pytest.raises(ValueError, match="SoftMaxCrossEntropy"):
        autograd.softmax_cross_entropy(x, _t(np.array([0, 1, 2], np.int32)))


@pytest.mark.parametrize("n,c", CASES[:3], ids=str)
@pytest.mark.parametrize("target", ["int", "onehot"])
def test_cross_entropy(n, c, target):
    y = _softmax(_logits(n, c, seed=2))
    labels = _labels(n, c, seed=3)
    tt = _onehot(labels, c)
    t = _t(labels) if target == "int" else _t(_f32(tt))
    expected = -(tt * np.log(y)).sum(1).mean()
    for mode in (False, True):
        autograd.training = mode
        out = autograd.cross_entropy(_t(_f32(y)), t)
        assert out.shape == (1,)
        np.testing.assert_allclose(tensor.to_numpy(out), [expected], rtol=1e-5)
    t64 = t if target == "int" else _t(tt)
    assert testing.gradcheck(lambda a: autograd.cross_entropy(a, t64), [y], eps=1e-7)


@pytest.mark.parametrize("shape", [(4, 3), (5,), (1,), (2, 1)], ids=str)
@pytest.mark.parametrize("soft", [False, True])
def test_binary_cross_entropy(shape, soft):
    rng = np.random.default_rng(4)
    x = rng.uniform(0.05, 0.95, shape)
    t = rng.uniform(0, 1, shape) if soft else rng.integers(0, 2, shape).astype(np.float64)
    # SINGA's normalisation: the sum divided by the batch size (shape[0]).
    expected = -(t * np.log(x) + (1 - t) * np.log(1 - x)).sum() / shape[0]
    out = autograd.binary_cross_entropy(_t(_f32(x)), _t(_f32(t)))
    assert out.shape == (1,)
    np.testing.assert_allclose(tensor.to_numpy(out), [expected], rtol=1e-5)
    assert testing.gradcheck(autograd.binary_cross_entropy, [x, t], wrt=[0])


@pytest.mark.parametrize("shape", [(4, 3), (5,), (1,), (2, 1, 3)], ids=str)
def test_mse_loss(shape):
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=shape), rng.normal(size=shape)
    out = autograd.mse_loss(_t(_f32(x)), _t(_f32(t)))
    assert out.shape == (1,)
    np.testing.assert_allclose(tensor.to_numpy(out), [((x - t) ** 2).mean()], rtol=1e-5)
    assert testing.gradcheck(autograd.mse_loss, [x, t])


@pytest.mark.parametrize("M", [0.2, 1.0])
@pytest.mark.parametrize("shape", [(6,), (3, 2), (1,)], ids=str)
def test_ranking_loss(shape, M):
    rng = np.random.default_rng(6)
    pos, neg = rng.normal(size=shape), rng.normal(size=shape)
    margin = M - (pos - neg)
    neg = np.where(np.abs(margin) < 0.05, neg + 0.2, neg)  # stay off the hinge
    expected = np.maximum(0, M - (pos - neg)).sum() / shape[0]  # SINGA: / batch size
    out = autograd.ranking_loss(_t(_f32(pos)), _t(_f32(neg)), M)
    assert out.shape == (1,)
    np.testing.assert_allclose(tensor.to_numpy(out), [expected], rtol=1e-5, atol=1e-7)
    assert testing.gradcheck(lambda a, b: autograd.ranking_loss(a, b, M), [pos, neg])


@pytest.mark.parametrize("fn,name", [(autograd.mse_loss, "MeanSquareError"),
                                     (autograd.binary_cross_entropy, "BinaryCrossEntropy"),
                                     (autograd.ranking_loss, "RankingLoss")])
def test_loss_shape_mismatch_names_op(fn, name):
    a = _t(np.full((3, 2), 0.5, np.float32))
    b = _t(np.full((2, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match=name) as err:
        fn(a, b)
    assert "(3, 2)" in str(err.value) and "(2, 3)" in str(err.value)
