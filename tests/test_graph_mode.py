"""Graph mode as one object (singa.graph.GraphStep): the fallbacks to eager execution
(a warning, or GraphError in strict mode, with the same reason), schedules and step
counters in replay, optimizers a user writes, MultiOptimizer, and re-recording when
the optimizer or its states change."""

import warnings

import numpy as np
import pytest

from singa import autograd, device, graph, model, opt, tensor

from _models import MLP


def _batches(n, batch=8, features=6, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    return [(rng.randn(batch, features).astype(np.float32),
             rng.randint(0, classes, batch).astype(np.int32)) for _ in range(n)]


def _net(cls=MLP, optimizer=None, use_graph=True, strict=False, batch=8, features=6):
    device.get_default_device().SetRandSeed(3)
    net = cls()
    if optimizer is not None:
        net.set_optimizer(optimizer)
    net.compile([tensor.Tensor((batch, features), requires_grad=False)], is_train=True,
                use_graph=use_graph, strict=strict)
    rng = np.random.RandomState(1)
    for p in net.get_params().values():
        p.copy_from_numpy(rng.uniform(-0.3, 0.3, p.shape).astype(np.float32))
    return net


def _run(net, batches, **kwargs):
    losses = []
    for x, y in batches:
        _, loss = net(tensor.from_numpy(x), tensor.from_numpy(y), **kwargs)
        losses.append(float(tensor.to_numpy(loss)[0]))
    return losses


def _params(net):
    return {k: tensor.to_numpy(v).copy() for k, v in net.get_states().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _graph_equals_eager(make_opt, batches, cls=MLP):
    eager = _net(cls, make_opt(), use_graph=False)
    le = _run(eager, batches)
    net = _net(cls, make_opt(), use_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # every step must replay
        lg = _run(net, batches)
    assert le == lg
    _assert_same(_params(eager), _params(net))
    assert net._graph_step.graph is not None and net._graph_step.graph.replayable()
    return eager, net


# ---- steps graph mode cannot replay: the same reason warned or raised ----------------

class Gathering(MLP):
    """gather's backward builds its gradient on the host: the step is not replayable."""

    def forward(self, x):
        return super().forward(autograd.gather(x, 1, [0, 1, 2, 3, 4, 5]))


class NoUpdate(MLP):
    """Computes the loss but never hands it to the optimizer."""

    def train_one_batch(self, x, y):
        out = self.forward(x)
        return out, self.loss(out, y)


class Scaled(MLP):
    """Takes a keyword argument, which is not part of the record key."""

    def train_one_batch(self, x, y, scale=1.0):
        out = autograd.mul(self.forward(x), tensor.from_numpy(np.float32([scale])))
        loss = self.loss(out, y)
        self.optimizer(loss)
        return out, loss


class OwnCallSGD(opt.SGD):
    """Replaces __call__: its updates happen where graph mode cannot see them."""

    def __call__(self, loss):
        super().__call__(loss)


FALLBACKS = [
    ("not_replayable", Gathering, lambda: opt.SGD(0.1), {}, "cannot be replayed"),
    ("optimizer_not_called", NoUpdate, lambda: opt.SGD(0.1), {},
     "did not call the optimizer with the loss"),
    ("keyword_arguments", Scaled, lambda: opt.SGD(0.1), {"scale": 2.0},
     r"keyword arguments to the training step \(scale\)"),
    ("own_call", MLP, lambda: OwnCallSGD(0.1), {}, r"OwnCallSGD.__call__ is its own"),
    ("no_optimizer", NoUpdate, lambda: None, {}, "the model has no optimizer"),
]
FALLBACK_IDS = [c[0] for c in FALLBACKS]


@pytest.mark.parametrize("name,cls,make_opt,kwargs,reason", FALLBACKS, ids=FALLBACK_IDS)
def test_strict_raises_with_the_reason(name, cls, make_opt, kwargs, reason):
    net = _net(cls, make_opt(), strict=True)
    x, y = _batches(1)[0]
    with pytest.raises(graph.GraphError, match=reason) as e:
        net(tensor.from_numpy(x), tensor.from_numpy(y), **kwargs)
    assert isinstance(e.value, RuntimeError) and model.GraphError is graph.GraphError
    assert net.optimizer is None or isinstance(net.optimizer, opt.Optimizer)  # restored
    with pytest.raises(graph.GraphError, match=reason):  # nothing remembered: raises again
        net(tensor.from_numpy(x), tensor.from_numpy(y), **kwargs)


@pytest.mark.parametrize("name,cls,make_opt,kwargs,reason", FALLBACKS, ids=FALLBACK_IDS)
def test_non_strict_warns_and_runs_eagerly(name, cls, make_opt, kwargs, reason):
    batches = _batches(4)
    eager = _net(cls, make_opt(), use_graph=False)
    le = _run(eager, batches, **kwargs)
    net = _net(cls, make_opt())
    start = _params(net)
    with pytest.warns(RuntimeWarning, match=reason + ".*running eagerly"):
        lg = _run(net, batches, **kwargs)
    assert le == lg
    _assert_same(_params(eager), _params(net))
    if net.optimizer is not None:
        assert net.optimizer.step_counter == eager.optimizer.step_counter
    if name not in ("optimizer_not_called", "no_optimizer"):  # it trained
        assert not np.array_equal(start["l1.W"], _params(net)["l1.W"])


def test_strict_through_graph_and_after_a_lenient_recording():
    x, y = (tensor.from_numpy(a) for a in _batches(1)[0])
    net = _net(Gathering, opt.SGD(0.1), use_graph=False)
    net.graph(True, strict=True)
    with pytest.raises(graph.GraphError, match="cannot be replayed"):
        net(x, y)
    net.graph(True)  # lenient: warns once, then runs the same step eagerly
    with pytest.warns(RuntimeWarning):
        net(x, y)
    net.graph(True, strict=True)
    with pytest.raises(graph.GraphError, match="cannot be replayed"):
        net(x, y)


def test_strict_replays_what_it_can():
    _graph_equals_eager(lambda: opt.SGD(0.1, momentum=0.9), _batches(4))
    net = _net(MLP, opt.SGD(0.1), strict=True)
    _run(net, _batches(3))
    assert net._graph_step.strict and net._graph_step.graph.replayable()


def test_an_error_in_the_recorded_step_restores_the_optimizer():
    class Failing(MLP):
        def train_one_batch(self, x, y):
            self.optimizer(self.loss(self.forward(x), y))
            raise KeyError("boom")

    sgd = opt.SGD(0.1)
    net = _net(Failing, sgd)
    x, y = (tensor.from_numpy(a) for a in _batches(1)[0])
    with pytest.raises(KeyError):
        net(x, y)
    assert net.optimizer is sgd
    assert net._graph_step.graph is None


# ---- what replays do for the optimizer ------------------------------------------------

def test_schedules_advance_in_replay():
    def make():
        return opt.SGD(lr=opt.StepSchedule(0.2, [2, 4], 0.5), momentum=opt.ExponentialDecay(
            0.9, 3, 0.5))
    eager, net = _graph_equals_eager(make, _batches(6))
    assert net.optimizer.step_counter == eager.optimizer.step_counter == 6
    assert net.optimizer.lr_value == pytest.approx(0.05)


def test_adam_step_number_advances_in_replay():
    eager, net = _graph_equals_eager(lambda: opt.Adam(lr=0.05), _batches(5))
    assert net.optimizer.step_counter == 5


class AxpySGD(opt.Optimizer):
    """A user's optimizer in SINGA's style: update() with tensor operations."""

    def update(self, param, grad):
        tensor.axpy(-self.lr_value, grad, param)


class ApplySGD(opt.Optimizer):
    """A user's optimizer that overrides apply() (SINGA's signature)."""

    def apply(self, param_name, param_value, param_grad):
        tensor.axpy(-self.lr_value, param_grad, param_value)


@pytest.mark.parametrize("make_opt", [lambda: AxpySGD(opt.ExponentialDecay(0.2, 1, 0.8)),
                                      lambda: ApplySGD(0.1)], ids=["update", "apply"])
def test_user_optimizer_in_replay(make_opt):
    _, net = _graph_equals_eager(make_opt, _batches(5))
    assert net.optimizer.step_counter == 5


class StepByStep(MLP):
    """Drives the optimizer by hand: backward, update() per gradient, step()."""

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        for p, g in autograd.backward(loss):
            self.optimizer.update(p, g)
        self.optimizer.step()
        return out, loss


class ViaBackwardAndUpdate(MLP):
    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = self.loss(out, y)
        self.optimizer.backward_and_update(loss)
        return out, loss


@pytest.mark.parametrize("cls", [StepByStep, ViaBackwardAndUpdate])
def test_other_ways_to_drive_the_optimizer_replay(cls):
    _, net = _graph_equals_eager(lambda: opt.SGD(0.1, momentum=0.9), _batches(5), cls)
    assert net.optimizer.step_counter == 5


def test_multi_optimizer_in_replay():
    def make():
        return opt.MultiOptimizer({
            "default": opt.Adam(lr=0.02),
            "bias": opt.SGD(lr=opt.ExponentialDecay(0.1, 2, 0.5), momentum=0.9),
            "l2": opt.RMSProp(lr=0.01)})
    eager, net = _graph_equals_eager(make, _batches(6))
    multi = net.optimizer
    assert multi.step_counter == 6
    assert all(o.step_counter == 6 for o in multi.optimizers.values())
    assert multi.optimizer_for(net.l1.b) is multi.optimizers["bias"]
    assert multi.optimizer_for(net.l2.W) is multi.optimizers["l2"]


def test_a_new_optimizer_is_recorded_again():
    net = _net(MLP, opt.SGD(0.1))
    batches = _batches(6)
    _run(net, batches[:3])
    net.set_optimizer(opt.SGD(0.0))  # the recorded updates belong to the old one
    before = _params(net)
    _run(net, batches[3:])
    _assert_same(before, _params(net))
    assert net.optimizer.step_counter == 3


def test_loading_optimizer_states_records_again(tmp_path):
    batches = _batches(8)
    results = []
    for use_graph in (False, True):
        net = _net(MLP, opt.SGD(0.1, momentum=0.9), use_graph=use_graph)
        _run(net, batches[:3])
        net.save_states(str(tmp_path / "ck{}.zip".format(use_graph)))
        _run(net, batches[3:5])
        net.load_states(str(tmp_path / "ck{}.zip".format(use_graph)))
        losses = _run(net, batches[5:])
        results.append((losses, _params(net), net.optimizer.step_counter))
    assert results[0][0] == results[1][0]
    _assert_same(results[0][1], results[1][1])
    assert results[0][2] == results[1][2] == 6


def test_optimizer_keeps_no_graph_state():
    net = _net(MLP, opt.SGD(0.1, momentum=0.9))
    fresh = set(vars(opt.SGD(0.1, momentum=0.9)))
    _run(net, _batches(3))
    assert set(vars(net.optimizer)) == fresh
