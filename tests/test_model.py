"""Model: compile, train_one_batch, modes, graph flag; training with each optimizer."""
import numpy as np
import pytest

from singa import autograd, device, model, opt, tensor

from _models import MLP, SmallCNN


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)).astype(np.int32)
    return tensor.from_numpy(x), tensor.from_numpy(y)


def _loss(v):
    return float(tensor.to_numpy(v).reshape(-1)[0])


OPTS = {
    "sgd": lambda: opt.SGD(lr=0.2),
    "sgd_momentum_nesterov": lambda: opt.SGD(lr=0.1, momentum=0.9, nesterov=True,
                                             weight_decay=1e-4),
    "rmsprop": lambda: opt.RMSProp(lr=0.01),
    "adagrad": lambda: opt.AdaGrad(lr=0.1),
    "adam": lambda: opt.Adam(lr=0.02),
    "multi": lambda: opt.MultiOptimizer({"default": opt.Adam(lr=0.02),
                                         "bias": opt.SGD(lr=0.1, momentum=0.9)}),
    "scheduled": lambda: opt.SGD(lr=opt.ExponentialDecay(0.3, 20, 0.5), momentum=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTS))
def test_training_reduces_loss(name):
    device.get_default_device().SetRandSeed(1)
    tx, ty = _data()
    m = MLP()
    m.set_optimizer(OPTS[name]())
    m.compile([tx], is_train=True, use_graph=False)
    first = None
    for _ in range(40):
        _, loss = m(tx, ty)
        first = _loss(loss) if first is None else first
    assert _loss(loss) < 0.5 * first, (first, _loss(loss))


def test_cnn_trains():
    device.get_default_device().SetRandSeed(2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    y = (x[:, 0].mean(axis=(1, 2)) > 0).astype(np.int32)
    tx, ty = tensor.from_numpy(x), tensor.from_numpy(y)
    m = SmallCNN()
    m.set_optimizer(opt.SGD(lr=0.1, momentum=0.9))
    m.compile([tx], is_train=True)
    losses = [_loss(m(tx, ty)[1]) for _ in range(15)]
    assert losses[-1] < 0.5 * losses[0]


def test_compile_initializes_and_names_without_side_effects():
    tx, _ = _data(8)
    m = SmallCNN()
    m.compile([tensor.from_numpy(np.zeros((8, 2, 6, 6), np.float32))], is_train=False)
    names = list(m.get_states())
    assert names == ["conv.W", "conv.b", "bn.scale", "bn.bias", "bn.running_mean",
                     "bn.running_var", "fc.W", "fc.b"]
    assert [t.name for t in m.get_states().values()] == names
    np.testing.assert_array_equal(tensor.to_numpy(m.bn.running_mean), 0)  # no stats update
    assert not m.training and not autograd.training
    with pytest.raises(ValueError):
        m.compile([])


def test_call_dispatches_on_mode():
    tx, ty = _data(16)
    m = MLP()
    m.set_optimizer(opt.SGD(0.1))
    m.compile([tx], is_train=True)
    before = tensor.to_numpy(m.l1.W).copy()
    out, loss = m(tx, ty)                       # training: one step
    assert not np.array_equal(before, tensor.to_numpy(m.l1.W))
    m.eval()
    assert not autograd.training
    after = tensor.to_numpy(m.l1.W).copy()
    out = m(tx)                                  # eval: forward only
    assert out.shape == (16, 3)
    np.testing.assert_array_equal(after, tensor.to_numpy(m.l1.W))
    m.train()
    assert autograd.training and m.training


def test_uncompiled_model_initializes_on_first_call():
    tx, ty = _data(16)
    m = MLP()
    m.set_optimizer(opt.SGD(0.1))
    m.train()
    m(tx, ty)
    assert m.l1.W.name == "l1.W"


def test_graph_mode_equals_eager():
    tx, ty = _data(32)
    results = []
    for use_graph in (False, True):
        device.get_default_device().SetRandSeed(5)
        m = MLP()
        m.set_optimizer(opt.SGD(0.1, momentum=0.9))
        m.compile([tx], is_train=True, use_graph=use_graph, sequential=use_graph)
        assert m.graph_mode == use_graph
        losses = [_loss(m(tx, ty)[1]) for _ in range(3)]
        results.append((losses, {k: tensor.to_numpy(v).copy() for k, v in m.get_states().items()}))
    assert results[0][0] == results[1][0]
    for k in results[0][1]:
        np.testing.assert_array_equal(results[0][1][k], results[1][1][k])
    m.graph(False)
    assert not m.graph_mode


def test_not_implemented_methods():
    m = model.Model()
    with pytest.raises(NotImplementedError):
        m.forward(None)
    with pytest.raises(NotImplementedError):
        m.train_one_batch(None)


@pytest.mark.parametrize("is_train", [True, False])
def test_compile_forward_runs_in_evaluation_mode(is_train):
    from _models import ModeProbe
    m = ModeProbe()
    m.train()
    m.set_optimizer(opt.SGD(0.1))
    m.compile([tensor.from_numpy(np.ones((2, 3), np.float32))], is_train=is_train)
    assert m.seen == [(True, False)]   # Dropout the identity, nothing recorded
    assert m.training == is_train and autograd.training == is_train
    m.train()
    m(tensor.from_numpy(np.ones((2, 3), np.float32)),
      tensor.from_numpy(np.ones((2, 2), np.float32)))
    assert m.seen[-1] == (False, True)  # a training step: units dropped, ops recorded
    cnn = SmallCNN()
    cnn.compile([tensor.from_numpy(np.ones((2, 1, 4, 4), np.float32))], is_train=is_train)
    np.testing.assert_array_equal(tensor.to_numpy(cnn.bn.running_mean), 0)
    np.testing.assert_array_equal(tensor.to_numpy(cnn.bn.running_var), 1)
