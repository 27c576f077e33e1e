"""Model.fit / evaluate and the callbacks: metrics, History and its plot, epoch
schedules, evaluation, checkpoints (every N steps/epochs, keep last K, resume
mid-epoch from ShardLoader and DataLoader positions), Ctrl-C, early stopping."""
import os
import signal
import sys

import numpy as np
import pytest

from singa import autograd, callbacks, device, metrics, opt, tensor
from singa.data.loader import DataLoader

from _models import MLP


def _data(n=96, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)).astype(np.int32)
    return x, y


def _model(lr=0.1, d=5, seed=3):
    device.get_default_device().SetRandSeed(seed)
    m = MLP()
    m.set_optimizer(opt.SGD(lr=lr, momentum=0.9))
    m.compile([tensor.from_numpy(np.zeros((2, d), np.float32))], is_train=True)
    return m


def _params(m):
    return {k: tensor.to_numpy(v).copy() for k, v in m.get_params().items()}


def test_fit_arrays_tracks_loss_metrics_and_eval(capsys):
    x, y = _data()
    m = _model()
    h = m.fit((x, y), epochs=4, batch_size=16, eval_data=(x[:32], y[:32]),
              metrics=["accuracy", metrics.TopKAccuracy(2)], verbose=2)
    assert isinstance(h, callbacks.History)
    assert h.epoch == [0, 1, 2, 3]
    for k in ("loss", "accuracy", "top2_accuracy", "lr", "val_accuracy", "val_top2_accuracy"):
        assert len(h.history[k]) == 4, k
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.6
    assert len(h.steps["loss"]) == 4 * 6 and h.steps["loss"][-1][0] == 24
    assert h.epoch_steps == [6, 12, 18, 24]
    out = capsys.readouterr().out
    assert "epoch 4/4: loss" in out and "val_accuracy" in out
    assert m.training  # mode restored


def test_fit_matches_hand_written_loop():
    x, y = _data(64)
    a, b = _model(), _model()
    a.fit([(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)], epochs=2, verbose=0)
    for _ in range(2):
        for i in range(0, 64, 16):
            b(tensor.from_numpy(x[i:i + 16]), tensor.from_numpy(y[i:i + 16]))
    for k, v in _params(a).items():
        np.testing.assert_allclose(v, _params(b)[k], rtol=1e-6, atol=1e-7)


def test_evaluate_restores_mode_and_changes_nothing():
    x, y = _data(40)
    m = _model()
    before = _params(m)
    res = m.evaluate((x, y), metrics=["accuracy", metrics.CrossEntropy()], batch_size=16)
    assert set(res) == {"accuracy", "cross_entropy"}
    logits = tensor.to_numpy(m.forward(tensor.from_numpy(x)))
    assert res["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert m.training
    for k, v in _params(m).items():
        np.testing.assert_array_equal(v, before[k])
    assert m.evaluate(DataLoader(x, y, 8, shuffle=False), steps=2)["accuracy"] >= 0


def test_generator_with_steps_per_epoch_and_initial_epoch():
    x, y = _data(64)

    def gen():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    m = _model()
    h = m.fit(gen(), epochs=3, steps_per_epoch=3, initial_epoch=1, verbose=0)
    assert h.epoch == [1, 2] and h.epoch_steps == [3, 6]


def test_epoch_schedule_sets_optimizer_epoch():
    x, y = _data(32)
    m = MLP()
    sgd = opt.SGD(lr=opt.Schedule([1, 2], 0.1, init_value=0.5))
    m.set_optimizer(opt.MultiOptimizer({"default": sgd, "bias": opt.SGD(lr=0.01)}))
    h = m.fit((x, y), epochs=3, batch_size=16, verbose=0)
    np.testing.assert_allclose(h.history["lr"], [0.5, 0.05, 0.005], rtol=1e-6)
    assert m.optimizer.epoch == 2


def test_evaluate_every_n_epochs():
    x, y = _data(32)
    m = _model()
    ev = callbacks.EvaluateEvery((x, y), every_n_epochs=2, metrics=["top2_accuracy"])
    h = m.fit((x, y), epochs=3, batch_size=16, callbacks=[ev], verbose=0)
    v = h.history["val_top2_accuracy"]
    assert np.isnan(v[0]) and not np.isnan(v[1]) and not np.isnan(v[2])  # last epoch too


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _data(32)
    m = _model()
    h = m.fit((x, y), epochs=2, batch_size=16, eval_data=(x, y), metrics=["accuracy"],
              verbose=0)
    p = h.plot(tmp_path / "curves.png")
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_history_plot_without_matplotlib(monkeypatch, tmp_path):
    h = callbacks.History()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"singa\[plot\]"):
        h.plot(tmp_path / "x.png")


def test_checkpoint_every_n_epochs_keeps_last(tmp_path):
    x, y = _data(32)
    m = _model()
    ck = callbacks.ModelCheckpoint(tmp_path, every_n_epochs=1, keep_last=2)
    m.fit((x, y), epochs=4, batch_size=16, callbacks=[ck], verbose=0)
    names = sorted(os.listdir(tmp_path))
    assert names == ["ckpt-000000006.zip", "ckpt-000000008.zip"]
    m2 = _model(seed=9)
    aux = m2.load_states(callbacks.latest_checkpoint(tmp_path))
    assert int(tensor.to_numpy(aux["__fit__/epoch"]).reshape(-1)[0]) == 4
    for k, v in _params(m).items():
        np.testing.assert_array_equal(v, _params(m2)[k])


def test_checkpoint_every_n_steps_defers_epoch_end(tmp_path):
    x, y = _data(48)
    m = _model()
    ck = callbacks.ModelCheckpoint(tmp_path, every_n_steps=3, keep_last=None)
    m.fit((x, y), epochs=2, batch_size=16, callbacks=[ck], verbose=0)
    # steps 3 and 6 end epochs: saved once each, after the epoch's end
    assert sorted(os.listdir(tmp_path)) == ["ckpt-000000003.zip", "ckpt-000000006.zip"]
    aux = _model().load_states(tmp_path / "ckpt-000000003.zip")
    assert int(tensor.to_numpy(aux["__fit__/epoch"]).reshape(-1)[0]) == 1
    assert int(tensor.to_numpy(aux["__fit__/step_in_epoch"]).reshape(-1)[0]) == 0


class _StopAt(callbacks.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C between steps would) at a global step."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_batch_end(self, step, logs=None):
        if step == self.step:
            raise KeyboardInterrupt


def _shards(tmp_path, n=56):
    from singa.data.shards import write_shards_from_arrays
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 6, 6, 1), dtype=np.uint8)
    labels = (imgs[:, :3].mean(axis=(1, 2, 3)) > imgs[:, 3:].mean(axis=(1, 2, 3)))
    d = tmp_path / "shards"
    write_shards_from_arrays(imgs, labels.astype(np.int32), d, shard_size=20, progress=False)
    return d


def _shard_loader(d):
    from singa.data.stream import ShardLoader
    return ShardLoader(d, 8, seed=1, crop=None, flip=False, workers=1)


@pytest.mark.parametrize("kind", ["shards", "dataloader"])
def test_interrupt_saves_and_resume_matches_uninterrupted(tmp_path, kind):
    if kind == "shards":
        d = _shards(tmp_path)

        def data():
            return _shard_loader(d)
    else:
        x, y = _data(56, d=36)
        y = (y > 0).astype(np.int32)

        def data():
            return DataLoader(x.reshape(56, 1, 6, 6), y, 8, seed=1)

    class Net(MLP):
        def forward(self, x):
            return super().forward(autograd.flatten(x) * 0.01)

    def make():
        device.get_default_device().SetRandSeed(5)
        m = Net(classes=2)
        m.set_optimizer(opt.SGD(lr=0.05, momentum=0.9))
        m.compile([tensor.from_numpy(np.zeros((8, 1, 6, 6), np.float32))])
        return m

    # uninterrupted: 2 epochs of 7 steps
    ref = make()
    href = ref.fit(data(), epochs=2, metrics=["accuracy"], verbose=0)
    # interrupted at global step 9 (epoch 2, step 2): a checkpoint is saved
    a = make()
    ck = callbacks.ModelCheckpoint(tmp_path / "ck", every_n_epochs=5)
    h = a.fit(data(), epochs=2, callbacks=[ck, _StopAt(9)], verbose=0)
    assert h.interrupted and len(h.epoch) == 1
    assert os.listdir(tmp_path / "ck") == ["ckpt-000000009.zip"]
    # a fresh process would do this: new model, new loader, resume
    b = make()
    ck2 = callbacks.ModelCheckpoint(tmp_path / "ck", every_n_epochs=5, resume=True, verbose=0)
    hb = b.fit(data(), epochs=2, metrics=["accuracy"], callbacks=[ck2], verbose=0)
    assert ck2.restored_from.endswith("ckpt-000000009.zip")
    assert hb.epoch == [0, 1] and hb.epoch_steps == [7, 14]
    assert hb.history["loss"][0] == pytest.approx(href.history["loss"][0])
    assert b.optimizer.step_counter == ref.optimizer.step_counter == 14
    for k, v in _params(ref).items():
        np.testing.assert_allclose(_params(b)[k], v, rtol=1e-5, atol=1e-6)


def test_sigint_finishes_the_step_then_saves(tmp_path):
    x, y = _data(64)

    class Interrupting(MLP):
        calls = 0

        def train_one_batch(self, x, y):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C in the middle of a step
            return super().train_one_batch(x, y)

    device.get_default_device().SetRandSeed(0)
    m = Interrupting()
    m.set_optimizer(opt.SGD(lr=0.1))
    m.compile([tensor.from_numpy(x[:2])])
    ck = callbacks.ModelCheckpoint(tmp_path, every_n_epochs=1)
    old = signal.getsignal(signal.SIGINT)
    h = m.fit((x, y), epochs=2, batch_size=16, callbacks=[ck], verbose=0)
    assert signal.getsignal(signal.SIGINT) is old
    assert h.interrupted and m.optimizer.step_counter == 3
    assert os.listdir(tmp_path) == ["ckpt-000000003.zip"]


def test_early_stopping(recwarn):
    x, y = _data(32)
    m = _model(lr=0.0)   # nothing improves
    es = callbacks.EarlyStopping(monitor="loss", patience=1)
    h = m.fit((x, y), epochs=10, batch_size=16, shuffle=False, callbacks=[es], verbose=0)
    assert h.epoch == [0, 1] and es.stopped_epoch == 1 and es.best_epoch == 0
    assert callbacks.EarlyStopping("val_accuracy").mode == "max"
    m2 = _model()
    es2 = callbacks.EarlyStopping(monitor="val_loss", patience=0)
    h2 = m2.fit((x, y), epochs=2, batch_size=16, callbacks=[es2], verbose=0)
    assert len(h2.epoch) == 2  # monitor missing: a warning, no stop
    assert any("val_loss" in str(w.message) for w in recwarn.list)


def test_early_stopping_restore_best():
    x, y = _data(32)
    m = _model(lr=0.5)

    class Worse(callbacks.Callback):  # a metric that peaks at epoch 0
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = -float(epoch)
            if epoch == 0:
                self.best = _params(self.model)

    w = Worse()
    es = callbacks.EarlyStopping(monitor="score", mode="max", patience=1, restore_best=True)
    m.fit((x, y), epochs=5, batch_size=16, callbacks=[w, es], verbose=0)
    for k, v in w.best.items():
        np.testing.assert_array_equal(_params(m)[k], v)


def test_bad_arguments():
    x, y = _data(16)
    m = _model()
    with pytest.raises(ValueError, match="batch_size"):
        m.fit([(x, y)], batch_size=4, verbose=0)
    with pytest.raises(ValueError):
        callbacks.ModelCheckpoint("d", every_n_steps=0)
    with pytest.raises(ValueError):
        callbacks.EarlyStopping(mode="up")

    class OnlyLoss(MLP):
        def train_one_batch(self, x, y):
            return super().train_one_batch(x, y)[1]

    m2 = OnlyLoss()
    m2.set_optimizer(opt.SGD(0.1))
    assert m2.fit([(x, y)], verbose=0).history["loss"]
    with pytest.raises(ValueError, match=r"\(out, loss\)"):
        m2.fit([(x, y)], metrics=["accuracy"], verbose=0)


def test_evaluate_runs_forward_in_evaluation_mode():
    from _models import ModeProbe
    m = ModeProbe()
    m.set_optimizer(opt.SGD(0.1))
    m.compile([tensor.from_numpy(np.zeros((2, 3), np.float32))], is_train=True)
    x = np.ones((8, 3), np.float32)
    m.evaluate((x, np.zeros(8, np.int32)), batch_size=4)
    assert m.seen[1:] == [(True, False)] * 2  # Dropout the identity, nothing recorded
    assert m.training and autograd.training
