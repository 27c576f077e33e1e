"""Training in float16 and bfloat16: layers made on 16-bit input keep their parameters,
gradients and optimizer state in that dtype, and a few SGD steps lower the loss."""

import numpy as np
import pytest

from singa import autograd, layer, opt, tensor

HALVES = [tensor.float16, tensor.bfloat16]


def _data(rng, shape, classes=3):
    """A learnable task: the label is the class whose fixed random direction the input
    is most aligned with."""
    x = rng.standard_normal(shape).astype(np.float32)
    dirs = rng.standard_normal((int(np.prod(shape[1:])), classes)).astype(np.float32)
    y = (x.reshape(shape[0], -1) @ dirs).argmax(1).astype(np.int32)
    return x, y


def _train(model_fn, x, y, dt, steps, lr):
    autograd.training = True
    xt = tensor.Tensor(data=x, dtype=dt)
    yt = tensor.from_numpy(y)
    sgd = opt.SGD(lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        out = model_fn(xt)
        assert out.dtype == dt
        loss = autograd.softmax_cross_entropy(out, yt)
        assert loss.dtype == tensor.float32
        sgd(loss)
        losses.append(float(tensor.to_numpy(loss)[0]))
    return losses


@pytest.mark.parametrize("dt", HALVES)
def test_mlp_trains_in_half(dt):
    rng = np.random.default_rng(0)
    x, y = _data(rng, (32, 10))
    fc1, fc2 = layer.Linear(16), layer.Linear(3)

    def mlp(t):
        return fc2(autograd.relu(fc1(t)))

    losses = _train(mlp, x, y, dt, steps=15, lr=0.1)
    assert losses[-1] < 0.7 * losses[0], losses
    for p in (fc1.W, fc1.b, fc2.W, fc2.b):
        assert p.dtype == dt


@pytest.mark.parametrize("dt", HALVES)
def test_cnn_trains_in_half(dt):
    rng = np.random.default_rng(1)
    x, y = _data(rng, (16, 2, 8, 8))
    conv = layer.Conv2d(6, 3, padding=1)
    bn = layer.BatchNorm2d()
    pool = layer.MaxPool2d(2, 2)
    fc = layer.Linear(3)

    def cnn(t):
        h = pool(autograd.relu(bn(conv(t))))
        return fc(autograd.flatten(h))

    losses = _train(cnn, x, y, dt, steps=12, lr=0.05)
    assert losses[-1] < 0.7 * losses[0], losses
    for p in (conv.W, conv.b, bn.scale, bn.bias, bn.running_mean, bn.running_var, fc.W):
        assert p.dtype == dt


@pytest.mark.parametrize("dt", HALVES)
def test_gradients_have_parameter_dtype(dt):
    autograd.training = True
    rng = np.random.default_rng(2)
    x, y = _data(rng, (4, 2, 6, 6))
    conv, fc = layer.Conv2d(3, 3, padding=1), layer.Linear(3)
    out = fc(autograd.flatten(conv(tensor.Tensor(data=x, dtype=dt))))
    loss = autograd.softmax_cross_entropy(out, tensor.from_numpy(y))
    grads = dict((id(p), g) for p, g in autograd.backward(loss))
    params = (conv.W, conv.b, fc.W, fc.b)
    assert set(grads) == set(id(p) for p in params)
    for p in params:
        assert grads[id(p)].dtype == dt


@pytest.mark.parametrize("dt", HALVES)
def test_layer_built_before_input_adopts_its_dtype(dt):
    fc = layer.Linear(4, 2)  # SINGA 2.x form: parameters exist before any input
    assert fc.W.dtype == tensor.float32
    w_before = tensor.to_numpy(fc.W)
    out = fc(tensor.Tensor(data=np.ones((3, 4), np.float32), dtype=dt))
    assert out.dtype == dt and fc.W.dtype == dt and fc.b.dtype == dt
    np.testing.assert_allclose(tensor.to_numpy(fc.W.as_type(tensor.float32)), w_before,
                               rtol=1e-2)


def test_float32_input_keeps_float32_parameters():
    fc = layer.Linear(2)
    fc(tensor.from_numpy(np.ones((3, 4), np.float32)))
    assert fc.W.dtype == tensor.float32


def test_mixed_half_input_and_float32_layer_computes_float32():
    fc = layer.Linear(2)
    fc(tensor.from_numpy(np.ones((3, 4), np.float32)))
    out = fc(tensor.from_numpy(np.ones((3, 4), np.float16)))
    assert out.dtype == tensor.float32
