"""Checkpoints shared with Apache SINGA: files in SINGA's ``save_states`` layout load
here, and ``save_states(..., format="singa")`` writes files SINGA's loader reads.

The SINGA-written files are the fixtures built by tests/data/make_singa_checkpoints.py
from the format. SINGA's loader is not installed here: ``_load_like_singa`` follows
what its ``Model.load_states`` does with a file (extract the zip into a new directory,
read the two members, keep state types 0 and 1, remove the two files, then the
directory), which is where a file with extra members fails.
"""

import json
import os
import tempfile
import zipfile

import numpy as np
import pytest

from singa import checkpoint, layer, model, opt, tensor

from _examples import DATA, load_data_script



FIX = load_data_script("make_singa_checkpoints")


class MLP(model.Model):
    def __init__(self):
        super().__init__()
        self.fc1 = layer.Linear(3)
        self.bn = layer.BatchNorm2d()
        self.fc2 = layer.Linear(2)
        self.loss = layer.MeanSquareError()

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)))

    def train_one_batch(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.optimizer(loss)
        return loss


class CharRNN(model.Model):
    def __init__(self):
        super().__init__()
        self.lstm = layer.LSTM(3, 2)
        self.cat = layer.Cat()
        self.fc = layer.Linear(2, 3)

    def forward(self, xs, h, c):
        out, _, _ = self.lstm(xs, (h, c))
        return self.fc(self.cat(out))


def _mlp():
    m = MLP()
    m.set_optimizer(opt.SGD(0.1, momentum=0.9))
    m.compile([tensor.from_numpy(np.ones((2, 4), np.float32))], is_train=False)
    return m


def _rnn():
    return CharRNN()  # its layers are given their sizes: the parameters exist already


def _load_like_singa(fpath):
    """(model states, aux states) as Apache SINGA's Model.load_states reads a file."""
    tmp = tempfile.mkdtemp(prefix="singa_load_states_")
    with zipfile.ZipFile(fpath, "r") as zf:
        zf.extractall(tmp)
    npz = os.path.join(tmp, "tensor_dict.npz")
    js = os.path.join(tmp, "states_attr.json")
    with open(js) as f:
        attrs = json.load(f)
    with np.load(npz) as d:
        arrays = {k: d[k] for k in d.files}
    model_states = {k: a for k, a in arrays.items() if attrs[k]["state_type"] == 0}
    aux = {k: a for k, a in arrays.items() if attrs[k]["state_type"] == 1}
    os.remove(npz)
    os.remove(js)
    os.rmdir(tmp)  # OSError when the zip held anything else
    return model_states, aux, attrs


def test_singa_written_mlp_checkpoint_loads():
    m = _mlp()
    aux = m.load_states(os.path.join(DATA, "singa_ckpt_mlp.zip"))
    for name, expected in FIX.mlp_states().items():
        np.testing.assert_array_equal(tensor.to_numpy(m.get_states()[name]), expected)
    np.testing.assert_array_equal(tensor.to_numpy(aux["epoch"]), [5.0])


def test_singa_written_lstm_checkpoint_loads_with_singas_gate_names():
    m = _rnn()
    m.load_states(os.path.join(DATA, "singa_ckpt_lstm.zip"))
    states = FIX.lstm_states()
    for group in ("Wx", "Wh", "Bx", "Bh"):
        for i, gate in enumerate("ifgo"):  # our lists are in gate order i, f, g, o
            np.testing.assert_array_equal(
                tensor.to_numpy(getattr(m.lstm, group)[i]), states["lstm.{}_{}".format(group, gate)])
    np.testing.assert_array_equal(tensor.to_numpy(m.fc.W), states["fc.W"])


def test_singa_checkpoint_for_another_model_is_refused_by_name():
    with pytest.raises(checkpoint.CheckpointError, match="missing"):
        _rnn().load_states(os.path.join(DATA, "singa_ckpt_mlp.zip"))


def test_singa_format_is_read_by_singas_loader(tmp_path):
    m = _mlp()
    m.load_states(os.path.join(DATA, "singa_ckpt_mlp.zip"))
    path = str(tmp_path / "ours.zip")
    m.save_states(path, {"epoch": tensor.from_numpy(np.array([7.0], np.float32))},
                  format="singa")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["states_attr.json", "tensor_dict.npz"]
    states, aux, attrs = _load_like_singa(path)
    assert sorted(states) == sorted(FIX.mlp_states())
    for name, expected in FIX.mlp_states().items():
        np.testing.assert_array_equal(states[name], expected)
        assert attrs[name] == {"state_type": 0, "shape": list(expected.shape), "dtype": 0}
    np.testing.assert_array_equal(aux["epoch"], [7.0])


def test_singa_format_uses_singas_lstm_names(tmp_path):
    m = _rnn()
    path = str(tmp_path / "rnn.zip")
    m.save_states(path, format="singa")
    states, _, _ = _load_like_singa(path)
    assert "lstm.Wx_g" in states and "lstm.Wx.2" not in states
    np.testing.assert_array_equal(states["lstm.Wx_g"], tensor.to_numpy(m.lstm.Wx[2]))
    np.testing.assert_array_equal(states["lstm.Bh_o"], tensor.to_numpy(m.lstm.Bh[3]))


def test_singa_format_round_trips_here_with_optimizer_states(tmp_path):
    x = tensor.from_numpy(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32))
    y = tensor.from_numpy(np.zeros((4, 2), np.float32))
    a = _mlp()
    a.train()
    for _ in range(3):
        a(x, y)
    path = str(tmp_path / "a.zip")
    a.save_states(path, format="singa")
    b = _mlp()
    b.load_states(path)
    for k, v in a.get_states().items():
        np.testing.assert_array_equal(tensor.to_numpy(b.get_states()[k]), tensor.to_numpy(v))
    assert int(b.optimizer.step_counter) == 3
    sa, sb = a.optimizer.get_states(), b.optimizer.get_states()
    for k in sa:
        np.testing.assert_array_equal(np.asarray(sa[k]), np.asarray(sb[k]))


def test_default_format_stays_ours_and_verified(tmp_path):
    m = _mlp()
    path = str(tmp_path / "v.zip")
    m.save_states(path)
    with zipfile.ZipFile(path) as zf:
        assert checkpoint.META_FILENAME in zf.namelist()
    with pytest.raises(OSError):
        _load_like_singa(path)   # why SINGA needs format="singa"


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="format"):
        _mlp().save_states(str(tmp_path / "x.zip"), format="pickle")


def test_damaged_singa_file_is_reported(tmp_path):
    raw = open(os.path.join(DATA, "singa_ckpt_mlp.zip"), "rb").read()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(checkpoint.CheckpointError):
        _mlp().load_states(str(bad))
