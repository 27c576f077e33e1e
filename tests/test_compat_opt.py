"""SINGA's optimizer protocol: Tensor steps and values, step_counter / lr_value as (1,)
Tensors, lr as a float or a scheduler, dtype=, Adam's default learning rate."""

import inspect

import numpy as np
import pytest

from singa import model, opt, tensor
from singa import layer
from singa.tensor import Tensor


def _step(value):
    t = Tensor((1,), requires_grad=False)
    t.set_value(value)
    return t


def _param(values, dtype=np.float32):
    p = tensor.from_numpy(np.asarray(values, dtype))
    p.requires_grad = True
    p.stores_grad = True
    return p


def test_scheduler_given_a_tensor_step_returns_a_1_tensor():
    for sched, expected in ((opt.Constant(0.25), 0.25),
                            (opt.ExponentialDecay(2.0, 4, 0.5), 2.0 * 0.5 ** (6 / 4)),
                            (opt.ExponentialDecay(2.0, 4, 0.5, staircase=True), 1.0)):
        out = sched(_step(6))
        assert isinstance(out, Tensor) and tuple(out.shape) == (1,)
        np.testing.assert_allclose(tensor.to_numpy(out), [expected], rtol=1e-6)


def test_exponential_decay_signature_matches_singa():
    params = list(inspect.signature(opt.ExponentialDecay).parameters)
    assert params == ["init_value", "decay_steps", "decay_rate", "staircase"]
    assert inspect.signature(opt.ExponentialDecay).parameters["staircase"].default is False


class Halving(opt.DecayScheduler):
    """A user's schedule written SINGA's way: only call(step) on Tensors."""

    def call(self, step):
        return tensor.pow(step * 0.0 + 0.5, step) * self.init_value


def test_user_scheduler_overriding_call_drives_the_learning_rate():
    o = opt.SGD(lr=Halving(0.8))
    p = _param([1.0])
    g = tensor.from_numpy(np.array([1.0], np.float32))
    seen = []
    for _ in range(3):
        seen.append(float(o.lr_value))
        o.update(p, g)
        o.step()
    np.testing.assert_allclose(seen, [0.8, 0.4, 0.2], rtol=1e-6)
    np.testing.assert_allclose(tensor.to_numpy(p), [1.0 - 0.8 - 0.4 - 0.2], rtol=1e-6)


def test_scheduler_without_call_or_value_says_so():
    class Empty(opt.DecayScheduler):
        pass
    with pytest.raises(NotImplementedError, match="call"):
        Empty(0.1)(_step(0))


def test_scheduler_call_must_return_a_1_tensor():
    class Bad(opt.DecayScheduler):
        def call(self, step):
            return 0.5
    with pytest.raises(TypeError, match=r"\(1,\) Tensor"):
        Bad(0.1)(_step(0))


def test_step_counter_is_a_1_tensor_that_step_advances():
    o = opt.SGD(0.1)
    assert isinstance(o.step_counter, Tensor) and tuple(o.step_counter.shape) == (1,)
    counter = o.step_counter
    for _ in range(3):
        o.step()
    assert o.step_counter is counter  # updated in place
    np.testing.assert_array_equal(tensor.to_numpy(o.step_counter), [3.0])


def test_lr_value_is_a_1_tensor_that_step_keeps_current():
    o = opt.SGD(lr=opt.ExponentialDecay(1.0, 1, 0.5))
    lr = o.lr_value
    assert isinstance(lr, Tensor) and tuple(lr.shape) == (1,)
    o.step()
    o.step()
    assert o.lr_value is lr
    np.testing.assert_allclose(tensor.to_numpy(lr), [0.25])


def test_set_states_restores_step_counter_and_lr_value():
    o = opt.SGD(lr=opt.ExponentialDecay(1.0, 1, 0.5))
    o.set_states({"step_counter": 3})
    np.testing.assert_array_equal(tensor.to_numpy(o.step_counter), [3.0])
    np.testing.assert_allclose(tensor.to_numpy(o.lr_value), [0.125])
    o.set_states({"step_counter": _step(1)})   # SINGA's states may hold a Tensor
    np.testing.assert_allclose(tensor.to_numpy(o.lr_value), [0.5])


def test_counter_and_lr_read_as_numbers():
    o = opt.SGD(0.5)
    o.step()
    assert float(o.lr_value) == 0.5 and int(o.step_counter) == 1
    assert bool(o.step_counter >= 1) and not bool(o.step_counter >= 2)
    assert "%.2f" % o.lr_value == "0.50" and "{:.1f}".format(o.lr_value) == "0.5"
    minus_lr = 0.0 - o.lr_value           # SINGA's optimizers compute with it
    assert isinstance(minus_lr, Tensor) and float(minus_lr) == -0.5


@pytest.mark.parametrize("lr", [0.1, 1, opt.Constant(0.1), opt.ExponentialDecay(0.1, 2, 0.9)])
def test_lr_accepts_a_number_or_a_scheduler(lr):
    o = opt.SGD(lr)
    assert isinstance(o.lr, opt.DecayScheduler)
    assert float(o.lr_value) == pytest.approx(0.1 if lr != 1 else 1.0, rel=1e-6)


def test_lr_of_another_type_is_rejected():
    with pytest.raises(ValueError, match="lr"):
        opt.SGD(lr="fast")


def test_sgd_dtype_float16_updates_float16_params():
    o = opt.SGD(0.1, 0.9, dtype=tensor.float16)
    assert o.lr_value.dtype == tensor.float16
    p = _param([1.0, 2.0], np.float16)
    g = tensor.from_numpy(np.array([1.0, -1.0], np.float16))
    ref_p, buf = np.array([1.0, 2.0]), np.zeros(2)
    for _ in range(3):
        o.update(p, g)
        o.step()
        buf = 0.9 * buf + np.array([1.0, -1.0])
        ref_p = ref_p - 0.1 * buf
    assert p.dtype == tensor.float16
    np.testing.assert_allclose(tensor.to_numpy(p).astype(np.float64), ref_p, atol=3e-3)


@pytest.mark.parametrize("make", [lambda: opt.Adam(dtype=tensor.float16),
                                  lambda: opt.RMSProp(dtype=tensor.float16),
                                  lambda: opt.AdaGrad(dtype=tensor.float16)])
def test_adaptive_optimizers_update_float16_params(make):
    o = make()
    p = _param([1.0, 2.0], np.float16)
    before = tensor.to_numpy(p).copy()
    o.update(p, tensor.from_numpy(np.array([1.0, -1.0], np.float16)))
    after = tensor.to_numpy(p)
    assert p.dtype == tensor.float16
    assert after[0] < before[0] and after[1] > before[1]


def test_dtype_must_be_a_float_dtype():
    with pytest.raises(ValueError, match="dtype"):
        opt.SGD(0.1, dtype=tensor.int32)


def test_adam_default_lr_is_singas():
    assert inspect.signature(opt.Adam).parameters["lr"].default == 0.1
    assert float(opt.Adam().lr_value) == pytest.approx(0.1)


class _Net(model.Model):
    def __init__(self):
        super().__init__()
        self.fc = layer.Linear(2)
        self.loss = layer.MeanSquareError()

    def forward(self, x):
        return self.fc(x)

    def train_one_batch(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.optimizer(loss)
        return loss


class ManualSGD(opt.Optimizer):
    """A SINGA-style optimizer: apply() computes with lr_value as a Tensor."""

    def apply(self, param_name, param_value, param_grad):
        minus_lr = 0.0 - self.lr_value
        tensor.axpy(float(minus_lr), param_grad, param_value)


def test_graph_mode_replays_a_tensor_scheduler():
    rng = np.random.default_rng(0)
    x = tensor.from_numpy(rng.standard_normal((4, 3)).astype(np.float32))
    y = tensor.from_numpy(rng.standard_normal((4, 2)).astype(np.float32))
    results = []
    for graph in (False, True):
        np.random.seed(0)
        net = _Net()
        net.set_optimizer(ManualSGD(Halving(0.2)))
        net.compile([x], is_train=True, use_graph=graph)
        net.fc.W.copy_from_numpy(np.full((3, 2), 0.1, np.float32))
        net.fc.b.copy_from_numpy(np.zeros(2, np.float32))
        for _ in range(4):
            net(x, y)
        results.append(tensor.to_numpy(net.fc.W).copy())
        assert int(net.optimizer.step_counter) == 4
        assert float(net.optimizer.lr_value) == pytest.approx(0.2 / 16)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
