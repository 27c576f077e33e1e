"""Back-propagating one graph twice: ``retain_graph`` and SINGA_RETAIN_GRAPH (SINGA keeps
every graph; its GAN example runs ``autograd.backward(loss)`` and then ``opt(loss)``)."""
import numpy as np
import pytest

from singa import autograd, config, tensor


def _loss(rng):
    w = tensor.from_numpy(rng.standard_normal((3, 2)).astype(np.float32))
    w.requires_grad = w.stores_grad = True
    x = tensor.from_numpy(rng.standard_normal((4, 3)).astype(np.float32))
    t = tensor.from_numpy(rng.standard_normal((4, 2)).astype(np.float32))
    with autograd.set_grad_enabled(True):
        loss = autograd.mse_loss(autograd.relu(autograd.matmul(x, w)), t)
    return w, loss


def _grad(w, loss, **kw):
    grads = dict((id(p), g) for p, g in autograd.backward(loss, **kw))
    return tensor.to_numpy(grads[id(w)])


def test_second_backward_is_refused_by_default(rng, monkeypatch):
    monkeypatch.delenv(config.RETAIN_GRAPH, raising=False)
    w, loss = _loss(rng)
    _grad(w, loss)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        _grad(w, loss)


def test_retain_graph_argument_gives_the_same_gradient_twice(rng):
    w, loss = _loss(rng)
    first = _grad(w, loss, retain_graph=True)
    second = _grad(w, loss)
    np.testing.assert_array_equal(first, second)


def test_environment_switch_retains_every_graph(rng, monkeypatch):
    monkeypatch.setenv(config.RETAIN_GRAPH, "1")
    w, loss = _loss(rng)
    first = _grad(w, loss)
    np.testing.assert_array_equal(first, _grad(w, loss))
    np.testing.assert_array_equal(first, _grad(w, loss))


def test_gradients_takes_retain_graph(rng):
    w, loss = _loss(rng)
    a = autograd.gradients(loss, retain_graph=True)[id(w)]
    b = autograd.gradients(loss)[id(w)]
    np.testing.assert_array_equal(tensor.to_numpy(a), tensor.to_numpy(b))


def test_explicit_false_overrides_the_switch(rng, monkeypatch):
    monkeypatch.setenv(config.RETAIN_GRAPH, "1")
    w, loss = _loss(rng)
    _grad(w, loss, retain_graph=False)
    with pytest.raises(RuntimeError):
        _grad(w, loss)


@pytest.mark.parametrize("value", ["yes", "2", "true"])
def test_other_values_are_an_error_naming_the_allowed_ones(rng, monkeypatch, value):
    monkeypatch.setenv(config.RETAIN_GRAPH, value)
    w, loss = _loss(rng)
    with pytest.raises(ValueError, match="SINGA_RETAIN_GRAPH.*'0' and '1'"):
        _grad(w, loss)
