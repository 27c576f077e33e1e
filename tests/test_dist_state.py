"""Training state in a data-parallel job: rank-0-only output and checkpoints, resuming
with the same or another number of ranks, epoch figures over all ranks, and the classic
``Cluster``'s workers as ranks. The rank comes from the launcher's environment variables
(set with monkeypatch here; a real ``mpiexec -n 2`` at the end)."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from singa import callbacks, device, opt, tensor
from singa.classic import Cluster, Dense, Sequential
from singa.classic.updater import SGD as ClassicSGD
from singa.data.loader import DataLoader

from _models import MLP
from _launcher import REPORT_FUNCTION, env_with_this_singa, launched, no_launcher, rank_reports  # noqa: F401 (autouse fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32)


def _model(optimizer=None, seed=3):
    device.get_default_device().SetRandSeed(seed)
    m = MLP(classes=2)
    m.set_optimizer(optimizer or opt.SGD(lr=0.1, momentum=0.9))
    m.compile([tensor.from_numpy(np.zeros((2, 5), np.float32))], is_train=True)
    return m


def _params(m):
    return {k: tensor.to_numpy(v).copy() for k, v in m.get_params().items()}


def _aux_int(aux, key):
    return int(tensor.to_numpy(aux[key]).reshape(-1)[0])


# ------------------------------------------------------------------ output and sharding

def test_fit_prints_and_shows_bars_on_rank0_only(monkeypatch, capsys):
    x, y = _data()
    launched(monkeypatch, 0, 2)
    _model().fit((x, y), epochs=1, batch_size=8, verbose=1)
    captured = capsys.readouterr()
    assert "epoch 1/1: loss" in captured.out and "epoch 1/1" in captured.err
    launched(monkeypatch, 1, 2)
    _model().fit((x, y), epochs=1, batch_size=8, verbose=1)
    m = _model()
    m.evaluate((x, y), batch_size=8, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fit_shards_training_arrays_and_evaluates_eval_arrays_whole(monkeypatch):
    x, y = _data(64)
    single = _model().fit((x, y), epochs=1, batch_size=8, eval_data=(x, y), verbose=0)
    assert single.epoch_steps == [8]
    launched(monkeypatch, 1, 2)
    m = _model()
    h = m.fit((x, y), epochs=1, batch_size=8, eval_data=(x, y), verbose=0)
    assert h.epoch_steps == [4]                 # this rank's half of the 8 batches
    launched(monkeypatch, 0, 1)
    whole = m.evaluate((x, y), batch_size=8)["accuracy"]
    assert h.history["val_accuracy"] == [pytest.approx(whole)]


class _TwoRankSGD(opt.SGD):
    """An SGD that answers like rank 0 of a DistOpt in a 2-rank job, its ``all_reduce``
    adding what a second rank would contribute (so that the sum is known)."""

    global_rank, local_rank, world_size = 0, 0, 2

    def __init__(self, other, **kw):
        super().__init__(**kw)
        self.other = np.asarray(other, np.float32)
        self.reduced = []

    def all_reduce(self, t):
        mine = tensor.to_numpy(t)
        self.reduced.append(mine.copy())
        t.copy_from_numpy(mine + self.other)


def test_epoch_figures_are_averaged_over_ranks_by_sample_count():
    x, y = _data(32)
    # the other rank: 96 samples, loss 2.0, accuracy 0.25, as (weight * value, weight)
    other = [96.0 * 2.0, 96.0, 96.0 * 0.25, 96.0]
    sgd = _TwoRankSGD(other, lr=0.1)
    m = _model(sgd)
    h = m.fit((x, y), epochs=1, batch_size=8, metrics=["accuracy"], verbose=0)
    (mine,) = sgd.reduced
    assert mine[1] == mine[3] == 16.0          # rank 0's half of the 32 samples
    my_loss, my_acc = mine[0] / 16.0, mine[2] / 16.0
    assert 0 < my_loss < 2 and my_acc != 0.25
    assert h.history["loss"] == [pytest.approx((16 * my_loss + 96 * 2.0) / 112, rel=1e-5)]
    assert h.history["accuracy"] == [pytest.approx((16 * my_acc + 96 * 0.25) / 112,
                                                   rel=1e-5)]


def test_an_epoch_figure_only_some_ranks_have_is_averaged_over_those():
    x, y = _data(32)
    sgd = _TwoRankSGD([0.0, 0.0, 0.0, 0.0], lr=0.1)   # the other rank saw no samples
    h = _model(sgd).fit((x, y), epochs=1, batch_size=8, metrics=["accuracy"], verbose=0)
    mine = sgd.reduced[0]
    assert h.history["loss"] == [pytest.approx(mine[0] / mine[1], rel=1e-6)]


def test_the_optimizers_rank_wins_over_the_launchers(monkeypatch, tmp_path):
    launched(monkeypatch, 1, 2)   # the launcher says rank 1; the DistOpt says rank 0
    x, y = _data(32)
    ck = callbacks.ModelCheckpoint(tmp_path, every_n_epochs=1)
    _model(_TwoRankSGD([0.0] * 2, lr=0.1)).fit((x, y), epochs=1, batch_size=8,
                                               callbacks=[ck], verbose=0)
    # rank 0 of 2 as the DistOpt says: it writes, and reads the first half of the batches
    assert os.listdir(tmp_path) == ["ckpt-000000002.zip"]


# ------------------------------------------------------------------ checkpoints

def test_only_rank0_writes_checkpoints(monkeypatch, tmp_path):
    x, y = _data(32)
    launched(monkeypatch, 1, 2)
    ck = callbacks.ModelCheckpoint(tmp_path / "r1", every_n_steps=1)
    _model().fit((x, y), epochs=1, batch_size=8, callbacks=[ck], verbose=0)
    assert not os.path.exists(tmp_path / "r1") and ck.saved == []
    launched(monkeypatch, 0, 2)
    ck = callbacks.ModelCheckpoint(tmp_path / "r0", every_n_steps=1, keep_last=None)
    _model().fit((x, y), epochs=1, batch_size=8, callbacks=[ck], verbose=0)
    assert sorted(os.listdir(tmp_path / "r0")) == ["ckpt-00000000{}.zip".format(i)
                                                   for i in (1, 2)]
    aux = _model().load_states(tmp_path / "r0" / "ckpt-000000001.zip")
    assert _aux_int(aux, "__fit__/world_size") == 2


class _StopAt(callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_batch_end(self, step, logs=None):
        if step == self.step:
            raise KeyboardInterrupt


def _interrupted_checkpoint(monkeypatch, directory, size, stop_step, x, y):
    """Train as rank 0 of ``size`` ranks until ``stop_step``; Ctrl-C saves."""
    launched(monkeypatch, 0, size)
    ck = callbacks.ModelCheckpoint(directory, every_n_epochs=100)
    h = _model().fit(DataLoader(x, y, 8, seed=1), epochs=3, callbacks=[ck, _StopAt(stop_step)],
                     verbose=0)
    assert h.interrupted


def test_resume_mid_epoch_with_the_same_world_size_matches_the_uninterrupted_run(
        monkeypatch, tmp_path):
    x, y = _data(64)
    for rank in (0, 1):
        launched(monkeypatch, rank, 2)
        ref = _model()
        ref.fit(DataLoader(x, y, 8, seed=1), epochs=2, verbose=0)
        _interrupted_checkpoint(monkeypatch, tmp_path / str(rank), 2, 6, x, y)
        launched(monkeypatch, rank, 2)
        resumed = _model(seed=11)
        ck = callbacks.ModelCheckpoint(tmp_path / str(rank), every_n_epochs=100, resume=True,
                                       verbose=0)
        h = resumed.fit(DataLoader(x, y, 8, seed=1), epochs=2, callbacks=[ck], verbose=0)
        assert ck.restored_from.endswith("ckpt-000000006.zip")
        assert h.epoch_steps == [4, 8]
        # rank 1 resumes from rank 0's checkpoint: its own part, at the same step
        if rank == 0:
            for k, v in _params(ref).items():
                np.testing.assert_allclose(_params(resumed)[k], v, rtol=1e-6, atol=1e-7)


def test_resume_mid_epoch_with_another_world_size_is_refused(monkeypatch, tmp_path):
    x, y = _data(64)
    _interrupted_checkpoint(monkeypatch, tmp_path, 2, 6, x, y)   # epoch 2, step 2
    launched(monkeypatch, 0, 4)
    ck = callbacks.ModelCheckpoint(tmp_path, resume=True, verbose=0)
    with pytest.raises(ValueError, match="job of 2 rank.*this job has 4.*resume with 2"):
        _model().fit(DataLoader(x, y, 8, seed=1), epochs=3, callbacks=[ck], verbose=0)


def test_resume_at_an_epoch_end_works_with_any_world_size(monkeypatch, tmp_path):
    x, y = _data(64)
    launched(monkeypatch, 0, 2)
    first = _model()
    ck = callbacks.ModelCheckpoint(tmp_path, every_n_epochs=1)
    first.fit(DataLoader(x, y, 8, seed=1), epochs=1, callbacks=[ck], verbose=0)
    launched(monkeypatch, 0, 4)
    second = _model(seed=8)
    ck = callbacks.ModelCheckpoint(tmp_path, resume=True, verbose=0)
    h = second.fit(DataLoader(x, y, 8, seed=1), epochs=2, callbacks=[ck], verbose=0)
    assert h.epoch == [0, 1] and h.epoch_steps[-1] == 4 + 2   # 4 steps as 2 ranks, 2 as 4


# ------------------------------------------------------------------ classic Cluster

def test_cluster_maps_its_workers_to_the_launched_ranks(monkeypatch, tmp_path):
    alone = Cluster(str(tmp_path))
    assert (alone.worker_id, alone.nworkers, alone.is_chief) == (0, 1, True)
    launched(monkeypatch, 2, 4)
    topo = Cluster(str(tmp_path))
    assert (topo.worker_id, topo.nworkers, topo.is_chief) == (2, 4, False)
    assert Cluster(str(tmp_path), nworkers_per_group=4).nworkers == 4
    assert "worker 2 of 4" in repr(topo)
    topo.log("net", "hello")
    assert open(os.path.join(topo.log_dir, "net-worker2.log")).read() == "hello\n"
    # every worker loads the chief's checkpoint
    assert topo.checkpoint_path(10).endswith(os.path.join("checkpoint", "step10-worker0"))
    explicit = Cluster(str(tmp_path), rank=1, world_size=2)
    assert (explicit.worker_id, explicit.nworkers) == (1, 2)


def test_cluster_refuses_what_it_cannot_map(monkeypatch, tmp_path):
    launched(monkeypatch, 0, 2)
    with pytest.raises(ValueError, match="nworkers_per_group=3 .* this job has 2 .*"
                                         "mpiexec -n 3"):
        Cluster(str(tmp_path), nworkers_per_group=3)
    with pytest.raises(ValueError, match="nworker_groups=2 asks for asynchronous"):
        Cluster(str(tmp_path), nworker_groups=2)
    with pytest.raises(ValueError, match="rank=3 is not a rank of a job of world_size=2"):
        Cluster(str(tmp_path), rank=3, world_size=2)


def test_classic_model_refuses_a_cluster_of_several_workers(monkeypatch, tmp_path):
    launched(monkeypatch, 0, 2)
    m = Sequential("net")
    m.add(Dense(4))
    with pytest.raises(ValueError, match="2 workers, but the classic Model does not average"):
        m.compile(updater=ClassicSGD(lr=0.1), cluster=Cluster(str(tmp_path)))


# ------------------------------------------------------------------ under mpiexec

SCRIPT = REPORT_FUNCTION + textwrap.dedent("""
    import json, os, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from singa import callbacks, device, opt, tensor
    from _models import MLP
    device.get_default_device().SetRandSeed(3)
    m = MLP(classes=2)
    m.set_optimizer(opt.SGD(lr=0.1))
    m.compile([tensor.from_numpy(np.zeros((2, 5), np.float32))], is_train=True)
    x = np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)
    ck = callbacks.ModelCheckpoint(sys.argv[1], every_n_steps=1, keep_last=None)
    h = m.fit((x, (x[:, 0] > 0).astype(np.int32)), epochs=1, batch_size=4,
              callbacks=[ck], verbose=1)
    report({"steps": h.epoch_steps, "saved": ck.saved})
""")


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec on PATH")
def test_two_ranks_under_mpiexec_write_one_set_of_checkpoints(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    env = env_with_this_singa(TEST_REPORT_DIR=str(tmp_path))
    out_dir = tmp_path / "ck"
    res = subprocess.run(["mpiexec", "-n", "2", sys.executable, str(script), str(out_dir),
                          os.path.join(ROOT, "tests")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    reports = rank_reports(tmp_path)
    assert sorted(len(r["saved"]) for r in reports) == [0, 5]   # 40 / (4 x 2) steps
    assert all(r["steps"] == [5] for r in reports)
    assert len(os.listdir(out_dir)) == 5
    assert res.stdout.count("epoch 1/1: loss") == 1


DISTOPT_SCRIPT = REPORT_FUNCTION + textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[2])
    from singa import callbacks, device, opt, tensor
    from _models import MLP
    device.get_default_device().SetRandSeed(3)
    m = MLP(classes=2)
    dist = opt.DistOpt(opt.SGD(lr=0.1))
    m.set_optimizer(dist)
    m.compile([tensor.from_numpy(np.zeros((2, 5), np.float32))], is_train=True)
    x = np.random.default_rng(0).standard_normal((48, 5)).astype(np.float32)
    ck = callbacks.ModelCheckpoint(sys.argv[1], every_n_epochs=1, keep_last=None)
    h = m.fit((x, (x[:, 0] > 0).astype(np.int32)), epochs=2, batch_size=4,
              metrics=["accuracy"], callbacks=[ck], verbose=0)
    params = {k: tensor.to_numpy(v).tolist() for k, v in m.get_params().items()}
    report({"rank": dist.global_rank, "history": h.history, "params": params,
            "saved": len(ck.saved)})
""")


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec on PATH")
def test_two_ranks_with_distopt_train_like_one_process_at_twice_the_batch(tmp_path):
    pytest.importorskip("mpi4py")
    if not hasattr(opt, "DistOpt"):
        pytest.skip("this build has no opt.DistOpt")
    script = tmp_path / "distfit.py"
    script.write_text(DISTOPT_SCRIPT)
    env = env_with_this_singa(TEST_REPORT_DIR=str(tmp_path))
    res = subprocess.run(["mpiexec", "-n", "2", sys.executable, str(script),
                          str(tmp_path / "ck"), os.path.join(ROOT, "tests")], env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    ranks = rank_reports(tmp_path)
    assert [r["rank"] for r in ranks] == [0, 1] and [r["saved"] for r in ranks] == [2, 0]
    assert ranks[0]["params"] == ranks[1]["params"]       # identical replicas
    assert ranks[0]["history"] == ranks[1]["history"]     # epoch figures over both ranks
    # one process at batch 8 sees what the two ranks saw together
    x = np.random.default_rng(0).standard_normal((48, 5)).astype(np.float32)
    one = _model(opt.SGD(lr=0.1))
    h = one.fit((x, (x[:, 0] > 0).astype(np.int32)), epochs=2, batch_size=8,
                metrics=["accuracy"], verbose=0)
    for k, v in _params(one).items():
        np.testing.assert_allclose(np.asarray(ranks[0]["params"][k], np.float32), v,
                                   rtol=1e-5, atol=1e-6)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(ranks[0]["history"][key], h.history[key], rtol=1e-5)
