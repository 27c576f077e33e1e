"""autograd.detect_anomaly(): NaN and Inf in any op's output or gradient raise AnomalyError
naming the op, its layer, the shapes, the optimizer step and the op's forward traceback."""
import inspect
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from singa import autograd, config, layer, model, opt, tensor
from singa.autograd import anomaly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _models import SmallCNN  # noqa: E402


def _t(values, grad=False):
    t = tensor.from_numpy(np.asarray(values, np.float32))
    t.requires_grad = t.stores_grad = grad
    return t


def _line_of(marker):
    """The line of this file that holds ``marker`` (in a comment), for traceback checks."""
    for i, text in enumerate(inspect.getsource(sys.modules[__name__]).splitlines(), 1):
        if text.rstrip().endswith("# " + marker):
            return i
    raise AssertionError(marker)


class LogOf(layer.Layer):
    def forward(self, x):
        return autograd.log(x)  # LOG_IN_LAYER


class Block(layer.Layer):
    def __init__(self):
        super().__init__()
        self.fc = layer.Linear(2)
        self.log = LogOf()

    def forward(self, x):
        return self.log(self.fc(x))


class Net(model.Model):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x):
        return self.block(x)


@pytest.fixture(autouse=True)
def _anomaly_default_off():
    anomaly.set_detect_anomaly(False)
    yield
    anomaly.set_detect_anomaly(False)


def test_off_by_default_nan_passes_silently():
    assert not autograd.is_anomaly_enabled()
    assert not anomaly.watch.any
    y = autograd.log(_t([-1.0, 1.0]))
    assert np.isnan(tensor.to_numpy(y)[0])


def test_nan_in_forward_of_a_layer_names_the_op_the_layer_and_the_shapes():
    net = Net()
    net.eval()
    x = _t(np.ones((3, 4)))
    net(x)  # initialise the parameters, unchecked
    net.block.fc.set_params({"W": -np.ones((4, 2), np.float32)})
    with autograd.detect_anomaly():
        with pytest.raises(autograd.AnomalyError) as info:
            net(x)
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert e.phase == "forward" and e.op_type == "Log" and e.op.startswith("Log#")
    assert e.layers == ("'block' (Block)", "'block.log' (LogOf)")
    assert e.shapes == {"inputs": [(3, 2)], "outputs": [(3, 2)]}
    assert e.bad == (0, (3, 2), 6, 0)
    msg = str(e)
    assert "Log (Log#" in msg and "6 NaN and 0 Inf" in msg
    assert "layer: 'block' (Block) > 'block.log' (LogOf)" in msg
    assert "inputs (3, 2); outputs (3, 2)" in msg and "its inputs were all finite" in msg


def test_forward_says_when_the_nan_came_in_with_an_input():
    with autograd.detect_anomaly():
        with pytest.raises(autograd.AnomalyError, match="input 1 already held 1 NaN and 0 Inf"):
            autograd.add(_t([1.0, 2.0]), _t([np.nan, 0.0]))


def test_log_of_near_zero_in_backward_names_log_backward():
    # The forward is finite (ln 1.5e-38 = -87.1), but d/dx = 100 / 1.5e-38 overflows.
    x = _t([[1.5e-38, 1.0]], grad=True)
    with autograd.detect_anomaly(), autograd.set_grad_enabled(True):
        loss = autograd.reduce_sum(autograd.mul(autograd.log(x), _t([[100.0, 100.0]])))
        assert np.isfinite(tensor.to_numpy(loss)).all()
        with pytest.raises(autograd.AnomalyError) as info:
            list(autograd.backward(loss))
    e = info.value
    assert e.phase == "backward" and e.op_type == "Log"
    assert e.bad == (0, (1, 2), 0, 1)
    assert e.shapes == {"output gradients": [(1, 2)], "input gradients": [(1, 2)]}
    assert "Log.backward (Log#" in str(e)
    assert "the gradients reaching it were all finite" in str(e)


def test_backward_traceback_points_at_the_users_line_and_layer():
    net = Net()
    x = _t(np.ones((2, 4)))
    net.eval()
    net(x)
    # fc gives exactly 0 (bias 0, W 0): log's forward is -inf, so check only backward by
    # running the forward with detection off inside the block.
    net.block.fc.set_params({"W": np.zeros((4, 2), np.float32)})
    with autograd.detect_anomaly():
        with autograd.set_grad_enabled(True):
            with autograd.detect_anomaly(False):
                loss = autograd.reduce_sum(net(x))
            with pytest.raises(autograd.AnomalyError) as info:
                list(autograd.backward(loss))
    e = info.value
    assert e.op_type == "Log"
    assert e.forward_stack is None  # its forward ran unchecked: nothing was kept
    assert "not kept" in str(e)

    net.block.fc.set_params({"W": np.full((4, 2), 1e-20, np.float32)})
    with autograd.detect_anomaly(), autograd.set_grad_enabled(True):
        y = net(_t(np.full((2, 4), 1e-2)))  # tiny positive outputs: finite logs
        loss = autograd.reduce_sum(autograd.mul(y, _t(np.full((2, 2), 1e30))))
        with pytest.raises(autograd.AnomalyError) as info:
            list(autograd.backward(loss))
    e = info.value
    assert e.phase == "backward" and e.op_type == "Log"
    assert e.layers == ("'block' (Block)", "'block.log' (LogOf)")
    frames = [(f.filename, f.lineno) for f in e.forward_stack]
    assert (__file__, _line_of("LOG_IN_LAYER")) in frames
    assert "return autograd.log(x)  # LOG_IN_LAYER" in str(e)
    engine = os.path.join(os.path.dirname(anomaly.__file__), "engine.py")
    assert all(f != engine for f, _ in frames)


def test_forward_traceback_points_at_the_users_line():
    with autograd.detect_anomaly():
        with pytest.raises(autograd.AnomalyError) as info:
            autograd.sqrt(_t([-4.0]))  # USER_SQRT
    e = info.value
    users = [f for f in e.forward_stack if f.filename == __file__]
    assert users[-1].lineno == _line_of("USER_SQRT")
    # the user's line is followed only by singa's function itself
    assert e.forward_stack[-1].name == "sqrt"


class SqrtNet(model.Model):
    """sqrt(h * h) is |h|, whose gradient is infinite where h is exactly 0."""

    def __init__(self):
        super().__init__()
        self.fc = layer.Linear(1)

    def forward(self, x):
        h = self.fc(x)
        return autograd.sqrt(autograd.mul(h, h))

    def train_one_batch(self, x, y):
        out = self.forward(x)
        loss = autograd.mse_loss(out, y)
        self.optimizer(loss)
        return out, loss


def test_backward_inside_an_optimizer_step_names_the_step():
    rng = np.random.default_rng(0)
    net = SqrtNet()
    net.set_optimizer(opt.SGD(lr=0.01))
    x = _t(rng.standard_normal((4, 3)) + 3.0)
    y = _t(np.ones((4, 1)))
    net.compile([x], is_train=True, use_graph=False)
    with autograd.detect_anomaly():
        for _ in range(3):
            net(x, y)
        net.fc.set_params({"W": np.zeros((3, 1), np.float32), "b": np.zeros((1,), np.float32)})
        with pytest.raises(autograd.AnomalyError) as info:
            net(x, y)
    e = info.value
    assert e.phase == "backward" and e.op_type == "Sqrt"
    assert e.optimizer_step == ("SGD", 3)
    assert "optimizer: SGD at step_counter 3" in str(e)
    assert e.layers == ()
    assert any(f.name == "forward" and f.filename == __file__ for f in e.forward_stack)


def test_forward_inside_a_training_step_names_the_models_optimizer_step():
    net = Net()
    net.set_optimizer(opt.SGD(lr=0.01))
    x = _t(np.ones((2, 4)))
    net.compile([x], is_train=False, use_graph=False)
    net.optimizer.step_counter = 7
    net.block.fc.set_params({"W": -np.ones((4, 2), np.float32)})
    with autograd.detect_anomaly():
        with pytest.raises(autograd.AnomalyError) as info:
            net.forward(x)
    assert info.value.optimizer_step == ("SGD", 7)


def test_a_finite_training_step_is_unchanged_by_detection():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    y = (x[:, 0].mean(axis=(1, 2)) > 0).astype(np.int32)

    def losses(checked):
        m = SmallCNN()
        m.set_optimizer(opt.SGD(lr=0.1, momentum=0.9))
        tx, ty = tensor.from_numpy(x), tensor.from_numpy(y)
        m.compile([tx], is_train=True, use_graph=False)
        m.set_states({k: np.full(v.shape, 0.1, np.float32) if k.endswith("W") else
                      tensor.to_numpy(v) for k, v in m.get_states().items()})
        with autograd.detect_anomaly(checked):
            return [tensor.to_numpy(m(tx, ty)[1]).item() for _ in range(3)]

    assert losses(True) == losses(False)


def test_the_layer_stack_is_empty_after_an_anomaly_and_when_off():
    net = Net()
    net.eval()
    x = _t(np.ones((1, 4)))
    net(x)
    assert anomaly._local.layers == []
    net.block.fc.set_params({"W": -np.ones((4, 2), np.float32)})
    with autograd.detect_anomaly():
        with pytest.raises(autograd.AnomalyError):
            net(x)
        assert anomaly._local.layers == []
        with pytest.raises(autograd.AnomalyError) as info:
            autograd.log(_t([-1.0]))
    assert info.value.layers == ()


def test_blocks_nest_and_restore():
    bad = _t([-1.0])
    with autograd.detect_anomaly():
        assert autograd.is_anomaly_enabled()
        with autograd.detect_anomaly(False):
            assert not autograd.is_anomaly_enabled()
            autograd.log(bad)  # unchecked
            with autograd.detect_anomaly():
                with pytest.raises(autograd.AnomalyError):
                    autograd.log(bad)
            autograd.log(bad)
        with pytest.raises(autograd.AnomalyError):
            autograd.log(bad)
    assert not autograd.is_anomaly_enabled() and not anomaly.watch.any


def test_as_a_decorator():
    @autograd.detect_anomaly()
    def checked(x):
        return autograd.log(x)

    with pytest.raises(autograd.AnomalyError):
        checked(_t([-1.0]))
    assert not autograd.is_anomaly_enabled()
    autograd.log(_t([-1.0]))


def test_process_default_and_a_thread_override():
    anomaly.set_detect_anomaly(True)
    assert anomaly.watch.any
    with pytest.raises(autograd.AnomalyError):
        autograd.log(_t([-1.0]))
    with autograd.detect_anomaly(False):
        autograd.log(_t([-1.0]))
    anomaly.set_detect_anomaly(False)
    assert not anomaly.watch.any


def test_threads_have_their_own_switch_and_layer_stack():
    inside, done = threading.Event(), threading.Event()
    results = {}

    def checked():
        with autograd.detect_anomaly():
            inside.set()
            done.wait(10)
            try:
                autograd.log(_t([-1.0]))
                results["checked"] = "no error"
            except autograd.AnomalyError as e:
                results["checked"] = e.layers

    def unchecked():
        inside.wait(10)
        try:
            net = Net()
            net.eval()
            net(_t(np.ones((1, 4))))
            results["stack"] = list(anomaly._local.layers)
            results["unchecked"] = bool(np.isnan(tensor.to_numpy(
                autograd.log(_t([-1.0])))).all())
        finally:
            done.set()

    threads = [threading.Thread(target=checked), threading.Thread(target=unchecked)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {"checked": (), "stack": [], "unchecked": True}
    assert not anomaly.watch.any


def test_integer_outputs_are_not_checked():
    with autograd.detect_anomaly():
        idx = tensor.from_numpy(np.array([0, 2], np.int32))
        out = autograd.gather(_t([1.0, 2.0, 3.0]), 0, idx)
    np.testing.assert_array_equal(tensor.to_numpy(out), [1.0, 3.0])


@pytest.mark.parametrize("value,expected", [(None, False), ("", False), ("0", False),
                                            ("1", True)])
def test_config_getter(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(config.DETECT_ANOMALY, raising=False)
    else:
        monkeypatch.setenv(config.DETECT_ANOMALY, value)
    assert config.detect_anomaly() is expected


def test_config_getter_rejects_other_values(monkeypatch):
    monkeypatch.setenv(config.DETECT_ANOMALY, "yes")
    with pytest.raises(ValueError, match="SINGA_DETECT_ANOMALY='yes'"):
        config.detect_anomaly()


@pytest.mark.parametrize("value,raises", [("1", True), ("0", False)])
def test_environment_switch(value, raises):
    code = ("import numpy as np\n"
            "from singa import autograd, tensor\n"
            "print(autograd.is_anomaly_enabled())\n"
            "try:\n"
            "    autograd.log(tensor.from_numpy(np.array([-1.0], np.float32)))\n"
            "    print('passed')\n"
            "except autograd.AnomalyError as e:\n"
            "    print(e.op_type)\n")
    env = dict(os.environ, SINGA_DETECT_ANOMALY=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == (["True", "Log"] if raises else ["False", "passed"])
