"""Checkpoints: SINGA format, atomic writes, verified loads, exact resume."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

from _models import Classifier
from singa import autograd, checkpoint, device, layer, model, opt, tensor
from singa.checkpoint import CheckpointError


class Net(Classifier):
    def __init__(self, hidden=8):
        super().__init__()
        self.l1 = layer.Linear(hidden)
        self.bn = layer.BatchNorm2d()
        self.l2 = layer.Linear(3)

    def forward(self, x):
        return self.l2(autograd.relu(self.bn(self.l1(x))))


def _batch(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    return tensor.from_numpy(x), tensor.from_numpy(y)


def _make(make_opt, hidden=8, seed=0):
    device.get_default_device().SetRandSeed(seed)
    m = Net(hidden)
    m.set_optimizer(make_opt())
    m.compile([_batch(0)[0]], is_train=True)
    return m


def _arrays(m):
    return {k: tensor.to_numpy(v).copy() for k, v in m.get_states().items()}


@pytest.fixture
def trained(tmp_path):
    m = _make(lambda: opt.SGD(0.1, momentum=0.9, weight_decay=1e-3))
    for i in range(3):
        m(*_batch(i))
    path = str(tmp_path / "ck.zip")
    m.save_states(path, aux_states={"epoch": np.array(7), "best": tensor.from_numpy(
        np.array([0.25], np.float32))})
    return m, path


def test_round_trip_bit_exact(trained):
    m, path = trained
    m2 = _make(lambda: opt.SGD(0.1, momentum=0.9, weight_decay=1e-3), seed=99)
    aux = m2.load_states(path)
    a, b = _arrays(m), _arrays(m2)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert int(tensor.to_numpy(aux["epoch"]).reshape(-1)[0]) == 7
    np.testing.assert_array_equal(tensor.to_numpy(aux["best"]), [0.25])
    sa = m.optimizer.get_states(names={p: k for k, p in m.get_params().items()})
    sb = m2.optimizer.get_states(names={p: k for k, p in m2.get_params().items()})
    assert sa.keys() == sb.keys() and sb["step_counter"] == 3
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k])


def test_file_is_singa_format(trained):
    _, path = trained
    with zipfile.ZipFile(path) as zf:
        assert {"tensor_dict.npz", "states_attr.json"} <= set(zf.namelist())
        attrs = json.loads(zf.read("states_attr.json"))
        npz = np.load(io.BytesIO(zf.read("tensor_dict.npz")), allow_pickle=False)
        assert set(npz.files) == set(attrs)
    assert attrs["l1.W"]["state_type"] == model.Model.MODEL_STATE_TYPE
    assert attrs["l1.W"]["shape"] == [5, 8]
    assert attrs["epoch"]["state_type"] == model.Model.AUX_STATE_TYPE
    assert attrs["__opt__/l1.W/momentum"]["state_type"] == model.Model.OPT_STATE_TYPE


def test_loads_file_written_like_apache_singa(tmp_path):
    # Apache SINGA writes the two members only (no checksums): still accepted.
    m = _make(opt.Adam)
    arrays = {k: tensor.to_numpy(v) for k, v in m.get_states().items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    attrs = {k: {"state_type": 0, "shape": list(v.shape), "dtype": 0} for k, v in arrays.items()}
    path = tmp_path / "singa.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tensor_dict.npz", buf.getvalue())
        zf.writestr("states_attr.json", json.dumps(attrs))
    m2 = _make(opt.Adam, seed=5)
    assert m2.load_states(str(path)) == {}
    for k, v in _arrays(m2).items():
        np.testing.assert_array_equal(v, arrays[k])


@pytest.mark.parametrize("make_opt", [
    lambda: opt.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: opt.Adam(0.01, weight_decay=1e-3),
    lambda: opt.MultiOptimizer({"default": opt.RMSProp(0.01), "bias": opt.AdaGrad(0.1),
                                "l2": opt.SGD(lr=opt.StepSchedule(0.1, [4], 0.1), momentum=0.5)}),
], ids=["sgd_nesterov", "adam", "multi"])
def test_resume_equals_continue(make_opt, tmp_path):
    path = str(tmp_path / "ck.zip")
    m = _make(make_opt)
    for i in range(3):
        m(*_batch(i))
    m.save_states(path)
    cont = [float(tensor.to_numpy(m(*_batch(i))[1]).reshape(-1)[0]) for i in range(3, 7)]

    r = _make(make_opt, seed=123)          # different init: everything must come from the file
    r.load_states(path)
    res = [float(tensor.to_numpy(r(*_batch(i))[1]).reshape(-1)[0]) for i in range(3, 7)]
    assert cont == res
    for k, v in _arrays(m).items():
        np.testing.assert_array_equal(v, _arrays(r)[k], err_msg=k)


def test_truncated_file_rejected(trained, tmp_path):
    _, path = trained
    data = open(path, "rb").read()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / "cut{}.zip".format(cut)
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated|corrupt"):
            _make(opt.SGD).load_states(str(bad))


def test_corrupted_byte_rejected(trained, tmp_path):
    _, path = trained
    data = bytearray(open(path, "rb").read())
    for pos in (60, len(data) // 3):
        bad_data = bytearray(data)
        bad_data[pos] ^= 0xFF
        bad = tmp_path / "flip{}.zip".format(pos)
        bad.write_bytes(bytes(bad_data))
        with pytest.raises(CheckpointError):
            _make(opt.SGD).load_states(str(bad))


def _rewrite(path, out, change):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)


def test_modified_array_fails_checksum(trained, tmp_path):
    _, path = trained

    def change(members):
        npz = np.load(io.BytesIO(members["tensor_dict.npz"]))
        arrays = {k: npz[k] for k in npz.files}
        arrays["l2.b"] = arrays["l2.b"] + 1.0
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        members["tensor_dict.npz"] = buf.getvalue()

    bad = str(tmp_path / "tampered.zip")
    _rewrite(path, bad, change)
    with pytest.raises(CheckpointError, match="checksum.*l2.b"):
        _make(opt.SGD).load_states(bad)


def test_pickled_arrays_refused(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, evil=np.array([{"a": 1}], dtype=object))
    path = tmp_path / "pickle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tensor_dict.npz", buf.getvalue())
        zf.writestr("states_attr.json", json.dumps({"evil": {"state_type": 1}}))
    with pytest.raises(CheckpointError, match="unreadable"):
        checkpoint.load(str(path))


def test_mismatched_model_rejected(trained):
    _, path = trained
    with pytest.raises(CheckpointError, match=r"'l1.W'.*\(5, 8\).*\(5, 4\)"):
        _make(opt.SGD, hidden=4).load_states(path)

    class Other(Net):
        def __init__(self):
            super().__init__()
            self.extra = layer.Linear(3)

        def forward(self, x):
            return self.extra(super().forward(x))

    o = Other()
    o.set_optimizer(opt.SGD())
    o.compile([_batch(0)[0]])
    with pytest.raises(CheckpointError, match="missing.*extra.W"):
        o.load_states(path)


def test_optimizer_mismatch_rejected(trained):
    _, path = trained
    with pytest.raises(CheckpointError, match="optimizer"):
        _make(opt.Adam).load_states(path)


def test_other_bad_inputs(tmp_path, trained):
    with pytest.raises(CheckpointError, match="does not exist"):
        _make(opt.SGD).load_states(str(tmp_path / "nope.zip"))
    txt = tmp_path / "text.zip"
    txt.write_text("hello")
    with pytest.raises(CheckpointError):
        _make(opt.SGD).load_states(str(txt))
    _, path = trained
    with pytest.raises(CheckpointError, match="compile"):
        Net().load_states(path)
    with pytest.raises(ValueError, match="clashes"):
        _make(opt.SGD).save_states(str(tmp_path / "x.zip"), {"l1.W": np.zeros(1)})


def test_failed_write_keeps_previous_checkpoint(trained, tmp_path, monkeypatch):
    m, path = trained
    before = open(path, "rb").read()
    calls = []
    real = zipfile.ZipFile.writestr

    def crash(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(self, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        m.save_states(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert os.listdir(os.path.dirname(path)) == ["ck.zip"]      # no temp file left behind
    _make(lambda: opt.SGD(0.1, momentum=0.9)).load_states(path)
    m.save_states(path)                                          # overwriting works
    assert open(path, "rb").read() != before


def test_atomic_write_helper(tmp_path):
    p = tmp_path / "f.bin"
    checkpoint.atomic_write(str(p), lambda f: f.write(b"one"))

    def partial_then_crash(f):
        f.write(b"partial")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        checkpoint.atomic_write(str(p), partial_then_crash)
    assert p.read_bytes() == b"one"
    assert os.listdir(tmp_path) == ["f.bin"]
