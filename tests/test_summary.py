"""Shape-mismatch errors name the layer, its input shape and what it expected;
Model.summary lists output shapes and parameter counts without changing the model."""
import numpy as np
import pytest

from singa import autograd, layer, model, opt, tensor

from _models import SmallCNN


def _x(*shape):
    return tensor.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def _trained_cnn():
    m = SmallCNN(classes=3)
    m.set_optimizer(opt.SGD(0.1))
    m.compile([_x(2, 1, 8, 8)])
    m(_x(2, 1, 8, 8), tensor.from_numpy(np.array([0, 2], np.int32)))  # moves BN stats
    return m


def test_summary_rows_and_counts(capsys):
    m = _trained_cnn()
    rows = m.summary((5, 1, 8, 8))
    by = {r["name"]: r for r in rows}
    assert by["conv"]["output_shape"] == (5, 4, 8, 8) and by["conv"]["params"] == 4 * 9 + 4
    assert by["bn"]["params"] == 8 and by["pool"]["output_shape"] == (5, 4, 4, 4)
    assert by["flat"]["output_shape"] == (5, 64) and by["flat"]["params"] == 0
    assert by["fc"]["output_shape"] == (5, 3) and by["fc"]["params"] == 64 * 3 + 3
    assert rows[-1]["name"] == "total" and rows[-1]["params"] == 40 + 8 + 195
    out = capsys.readouterr().out
    assert "fc (Linear)" in out and "(5, 64)" in out and "total params 243" in out


def test_summary_changes_no_state_or_mode():
    m = _trained_cnn()
    before = {k: tensor.to_numpy(v).copy() for k, v in m.get_states().items()}
    m.train()
    m.summary(np.ones((3, 1, 8, 8), np.float32), print_fn=None)
    assert m.training and autograd.training
    for k, v in m.get_states().items():
        np.testing.assert_array_equal(tensor.to_numpy(v), before[k])
    m.eval()
    m.summary(_x(1, 1, 8, 8), print_fn=None)
    assert not m.training and not autograd.training


def test_summary_initializes_a_fresh_model_and_nested_layers():
    class Block(layer.Layer):
        def __init__(self):
            super().__init__()
            self.a = layer.Linear(6)
            self.b = layer.Linear(2)

        def forward(self, x):
            return self.b(self.a(x))

    class Net(model.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [Block(), Block()]

        def forward(self, x):
            return self.blocks[1](self.blocks[0](x))

    rows = Net().summary((4, 3), print_fn=None)
    names = [r["name"] for r in rows]
    assert names[:3] == ["blocks.0.a", "blocks.0.b", "blocks.0"]
    assert rows[2]["depth"] == 0 and rows[0]["depth"] == 1
    assert rows[2]["params"] == (3 * 6 + 6) + (6 * 2 + 2)
    assert rows[-1]["params"] == 38 + (2 * 6 + 6) + 14


def test_summary_prints_rows_up_to_a_mismatch(capsys):
    m = _trained_cnn()
    with pytest.raises(ValueError, match=r"'fc' \(Linear\).*\(2, 256\).*64 input features"):
        m.summary((2, 1, 16, 16))
    out = capsys.readouterr().out
    assert "flat (Flatten)" in out and "(2, 256)" in out and "stopped at an error" in out


def test_flatten_to_linear_mismatch_in_training():
    m = _trained_cnn()
    with pytest.raises(ValueError) as e:
        m(_x(2, 1, 12, 12), tensor.from_numpy(np.array([0, 1], np.int32)))
    msg = str(e.value)
    assert "'fc' (Linear)" in msg and "(2, 144)" in msg and "64" in msg and "(64, 3)" in msg


def test_linear_wrong_features_standalone():
    lin = layer.Linear(4)
    lin(_x(2, 5))
    with pytest.raises(ValueError, match=r"^Linear: input shape \(2, 7\).*expected 5 input"):
        lin(_x(2, 7))
    pre = layer.Linear(3, 2)
    with pytest.raises(ValueError, match="expected 3 input features"):
        pre(_x(1, 4))


def test_conv_wrong_channels_names_layer():
    m = _trained_cnn()
    with pytest.raises(ValueError, match=r"'conv' \(Conv2d\): input shape \(2, 3, 8, 8\).*"
                                         r"expected 1 input channels"):
        m.eval()
        m(_x(2, 3, 8, 8))


def test_batchnorm_wrong_channels():
    bn = layer.BatchNorm2d()
    bn(_x(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d: input shape \(2, 5, 4, 4\).*"
                                         r"expected 3 channels"):
        bn(_x(2, 5, 4, 4))
    with pytest.raises(ValueError, match="expected a 2 or 4-D input"):
        bn(_x(2, 3, 4))


def test_input_too_small_for_kernel():
    conv = layer.Conv2d(2, 5)
    with pytest.raises(ValueError, match=r"Conv2d: input shape \(1, 1, 3, 3\).*at least 5x5"):
        conv(_x(1, 1, 3, 3))
    pool = layer.MaxPool2d(3, 2)
    with pytest.raises(ValueError, match=r"MaxPool2d: input shape \(1, 1, 2, 2\)"):
        pool(_x(1, 1, 2, 2))


def test_other_errors_inside_a_layer_get_its_name():
    class Net(model.Model):
        def __init__(self):
            super().__init__()
            self.cat = layer.Cat(axis=1)

        def forward(self, a, b):
            return self.cat([a, b])

    net = Net()
    net.eval()
    with pytest.raises(ValueError, match=r"^'cat' \(Cat\): input shape \[\(2, 3\), \(4, 3\)\]"):
        net(_x(2, 3), _x(4, 3))


def test_summary_runs_forward_in_evaluation_mode():
    from _models import ModeProbe
    m = ModeProbe()
    m.train()
    m.summary((2, 3), print_fn=None)
    assert m.seen == [(True, False)]  # Dropout the identity, nothing recorded
    assert m.training and autograd.training
