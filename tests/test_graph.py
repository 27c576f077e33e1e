"""Graph mode: recorded steps replayed in C++ give exactly the eager results."""

import numpy as np
import pytest

from singa import autograd, device, layer, opt, singa_wrap, tensor

from _models import MLP, Classifier


def mlp(dropout=0.0):
    return MLP(hidden=32, classes=10, dropout=dropout)


class GatherNet(MLP):
    """Uses gather, whose backward builds its gradient on the host: not replayable."""

    def __init__(self, dropout=0.0):
        super().__init__(hidden=32, classes=10, dropout=dropout)

    def forward(self, x):
        x = autograd.gather(x, 1, list(range(0, 20)))
        return super().forward(x)


def make_batches(n, batch=8, features=20, seed=0):
    rng = np.random.RandomState(seed)
    return [(rng.randn(batch, features).astype(np.float32),
             rng.randint(0, 10, batch).astype(np.int32)) for _ in range(n)]


def train(make_net, optimizer, use_graph, batches, dropout=0.0, feed="copy"):
    dev = device.get_default_device()
    dev.SetRandSeed(7)
    net = make_net(dropout)
    net.set_optimizer(optimizer)
    tx = tensor.Tensor(batches[0][0].shape, dev, requires_grad=False)
    ty = tensor.Tensor(batches[0][1].shape, dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=use_graph, sequential=False)
    rng = np.random.RandomState(1)
    for p in net.get_params().values():
        p.copy_from_numpy(rng.uniform(-0.2, 0.2, p.shape).astype(np.float32))
    losses = []
    for xb, yb in batches:
        if feed == "copy":
            tx.copy_from_numpy(xb)
            ty.copy_from_numpy(yb)
            out, loss = net(tx, ty)
        else:  # new input tensors every step
            out, loss = net(tensor.from_numpy(xb), tensor.from_numpy(yb))
        losses.append(float(tensor.to_numpy(loss)[0]))
    params = {k: tensor.to_numpy(v).copy() for k, v in net.get_states().items()}
    return losses, params, net


@pytest.mark.parametrize("make_opt", [
    lambda: opt.SGD(lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True),
    lambda: opt.Adam(lr=0.01),
    lambda: opt.RMSProp(lr=0.01, rho=0.9, epsilon=1e-6),
    lambda: opt.SGD(lr=opt.ExponentialDecay(0.1, 2, 0.5, staircase=True)),
])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_graph_equals_eager(make_opt, dropout):
    batches = make_batches(6)
    le, pe, _ = train(mlp, make_opt(), False, batches, dropout)
    lg, pg, net = train(mlp, make_opt(), True, batches, dropout)
    assert le == lg
    for k in pe:
        np.testing.assert_array_equal(pe[k], pg[k])
    assert len(net._graph_step.graph) > 10


def test_graph_with_new_input_tensors_each_step():
    batches = make_batches(4)
    le, pe, _ = train(mlp, opt.SGD(lr=0.1), False, batches, feed="new")
    lg, pg, _ = train(mlp, opt.SGD(lr=0.1), True, batches, feed="new")
    assert le == lg


def test_graph_rerecords_when_shapes_change():
    batches = make_batches(2, batch=8) + make_batches(2, batch=5, seed=3)
    le, pe, _ = train(mlp, opt.SGD(lr=0.1), False, batches, feed="new")
    lg, pg, net = train(mlp, opt.SGD(lr=0.1), True, batches, feed="new")
    assert le == lg
    assert net._graph_step.key[0][0] == (5, 20)


def test_unreplayable_step_falls_back_to_eager():
    batches = make_batches(3, features=24)
    le, pe, _ = train(GatherNet, opt.SGD(lr=0.1), False, batches)
    with pytest.warns(RuntimeWarning, match="cannot be replayed"):
        lg, pg, _ = train(GatherNet, opt.SGD(lr=0.1), True, batches)
    assert le == lg


def test_recorder_api():
    a = singa_wrap.from_numpy(np.arange(4, dtype=np.float32))
    singa_wrap.GraphBegin()
    assert singa_wrap.GraphRecording()
    b = singa_wrap.MultFloat(a, 2.0)
    singa_wrap.GraphPause(True)
    assert not singa_wrap.GraphRecording()
    singa_wrap.GraphPause(False)
    g = singa_wrap.GraphEnd()
    assert not singa_wrap.GraphRecording()
    assert len(g) == 1 and g.replayable()
    a.CopyData(singa_wrap.from_numpy(np.full(4, 3.0, dtype=np.float32)))
    g.Run()
    np.testing.assert_array_equal(singa_wrap.to_numpy(b), np.full(4, 6.0))
    with pytest.raises(ValueError, match="already being recorded"):
        singa_wrap.GraphBegin()
        singa_wrap.GraphBegin()
    singa_wrap.GraphEnd()


class ConvNet(Classifier):
    def __init__(self, dropout=0.0):
        super().__init__()
        self.conv1 = layer.Conv2d(4, 3, padding=1)
        self.bn1 = layer.BatchNorm2d()
        self.pool1 = layer.MaxPool2d(2, 2)
        self.lrn = layer.LRN(3, alpha=5e-5, beta=0.75)
        self.conv2 = layer.SeparableConv2d(6, 3, padding=1)
        self.pool2 = layer.AvgPool2d(2, 2)
        self.flatten = layer.Flatten()
        self.fc = layer.Linear(10)

    def forward(self, x):
        x = self.lrn(self.pool1(autograd.relu(self.bn1(self.conv1(x)))))
        x = self.pool2(autograd.relu(self.conv2(x)))
        return self.fc(self.flatten(x))


def test_conv_net_graph_equals_eager():
    rng = np.random.RandomState(0)
    batches = [(rng.randn(4, 3, 8, 8).astype(np.float32), rng.randint(0, 10, 4).astype(np.int32))
               for _ in range(4)]
    le, pe, _ = train(ConvNet, opt.SGD(lr=0.05, momentum=0.9), False, batches)
    lg, pg, net = train(ConvNet, opt.SGD(lr=0.05, momentum=0.9), True, batches)
    assert le == lg
    for k in pe:
        np.testing.assert_array_equal(pe[k], pg[k])
    states = {k: tensor.to_numpy(v) for k, v in net.get_states().items()}
    assert any("running_mean" in k or "mean" in k for k in states)


def test_replay_frees_intermediates_and_holds_only_what_eager_holds():
    """Activations, saved tensors and gradients live only during a replay: between
    steps the process holds what an eager step leaves behind (parameters, optimizer
    state, the returned outputs), and the results stay identical."""
    dev = device.get_default_device()
    batches = make_batches(5, batch=64, features=512)

    def wide(dropout):
        return MLP(hidden=1024, classes=10, dropout=dropout)  # large enough that leaks show

    held, peak = {}, {}
    for use_graph in (False, True):
        dev.EmptyCache()
        base = dev.bytes_in_use()
        dev.ResetPeak()
        losses, params, net = train(wide, opt.SGD(lr=0.05, momentum=0.9), use_graph, batches)
        peak[use_graph] = dev.peak_bytes() - base
        held[use_graph] = dev.bytes_in_use()
        held[(use_graph, "losses")] = losses
        held[(use_graph, "params")] = params
        if use_graph:
            graph = net._graph_step.graph
            assert graph.released_blocks() > 10
        del net
    assert held[(False, "losses")] == held[(True, "losses")]
    for k, v in held[(False, "params")].items():
        np.testing.assert_array_equal(v, held[(True, "params")][k])
    # Beyond what eager leaves, the graph keeps only its input and output tensors (and a
    # few bytes of constants); any activation or gradient (64 x 1024 floats and up)
    # would show.
    x, y = batches[0]
    io_bytes = x.nbytes + y.nbytes + 64 * 10 * 4 + 4
    assert held[True] - held[False] <= io_bytes + 1024, (held[True], held[False])
    # Recording frees what Python drops as it goes, so even the recorded step peaks
    # about where an eager step does (blocks are checked every few recorded kernels).
    assert peak[True] <= 1.15 * peak[False], peak


class KeepingSGD(opt.SGD):
    """Keeps the gradients it is given from the third step on (after the graph's plan)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.kept = []

    def _update(self, p, g, state, lr_mult, wd_mult):
        if self.step_counter >= 2:
            self.kept.append(g)
        super()._update(p, g, state, lr_mult, wd_mult)


def test_replay_keeps_a_gradient_that_a_callback_held_on_to():
    batches = make_batches(5)
    le, pe, _ = train(mlp, opt.SGD(lr=0.1, momentum=0.9), False, batches)
    keeper = KeepingSGD(lr=0.1, momentum=0.9)
    lg, pg, _ = train(mlp, keeper, True, batches)
    assert le == lg
    for k in pe:
        np.testing.assert_array_equal(pe[k], pg[k])
    assert len(keeper.kept) == 3 * 4  # 3 replayed steps x 4 parameters
    for g in keeper.kept:  # still allocated: reading them is safe
        assert g.data_ptr() != 0 and g.BlockBytes() >= 4 * g.Size()
        assert np.all(np.isfinite(singa_wrap.to_numpy(g)))


class PlainSGD(opt.Optimizer):
    """A user's optimizer in SINGA's style: it overrides update() with tensor operations."""

    def __init__(self, lr):
        super().__init__(lr)

    def update(self, param, grad):
        singa_wrap.Axpy(-self.lr_value, grad.data, param.data)


def test_graph_replays_an_optimizer_that_overrides_update():
    batches = make_batches(5)
    le, pe, _ = train(mlp, PlainSGD(0.1), False, batches)
    lg, pg, net = train(mlp, PlainSGD(0.1), True, batches)
    assert le == lg
    for k in pe:
        np.testing.assert_array_equal(pe[k], pg[k])
    assert net._graph_step.graph.replayable()
