"""Rank-sharded reading: DataLoader, minibatches, ShardLoader, the MNIST/CIFAR readers.

Every rank must draw the same shuffle, own a disjoint slice of it and get the same
number of batches per epoch; the rank and job size default to the launcher's
environment variables (set here with monkeypatch, or by a real ``mpiexec -n 2``).
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from singa.data import (DataLoader, ShardLoader, load_cifar10, minibatches, mnist_split,
                        write_shards_from_arrays)
from singa.data.sharding import partition, rank_slice, resolve_rank
from _launcher import REPORT_FUNCTION, env_with_this_singa, launched, no_launcher, rank_reports  # noqa: F401 (autouse fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ids(loader):
    return [np.asarray(xb).reshape(len(xb), -1)[:, 0].astype(np.int64).tolist()
            for xb, _ in loader]


def column(n):
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    return x, np.arange(n, dtype=np.int32)


# ------------------------------------------------------------------ resolve_rank

def test_resolve_rank_reads_the_launcher_and_defaults_to_one_process(monkeypatch):
    assert resolve_rank() == (0, 1)
    launched(monkeypatch, 1, 3)
    assert resolve_rank() == (1, 3)
    assert resolve_rank(world_size=2) == (1, 2)
    assert resolve_rank(0, 4) == (0, 4)


def test_resolve_rank_passes_an_explicit_environment():
    assert resolve_rank(environ={"OMPI_COMM_WORLD_RANK": "2",
                                 "OMPI_COMM_WORLD_SIZE": "4"}) == (2, 4)


@pytest.mark.parametrize("rank, size, err, words", [
    (1, None, ValueError, "without world_size"),
    (2, 2, ValueError, "rank must be in [0, 2)"),
    (-1, 2, ValueError, "rank must be in"),
    (0, 0, ValueError, "world_size must be >= 1"),
    (0, 2.0, TypeError, "world_size must be an int"),
    (True, 2, TypeError, "rank must be an int"),
])
def test_resolve_rank_refuses_bad_arguments(rank, size, err, words):
    with pytest.raises(err, match="DataLoader: .*" + words.replace("[", r"\[").replace(
            "(", r"\(").replace(")", r"\)")):
        resolve_rank(rank, size, "DataLoader")


def test_resolve_rank_refuses_a_launcher_rank_beyond_the_given_size(monkeypatch):
    launched(monkeypatch, 3, 4)
    with pytest.raises(ValueError, match="rank 3, which is not below world_size=2"):
        resolve_rank(world_size=2)


def test_rank_slice_and_partition_split_evenly_and_drop_the_remainder():
    assert [rank_slice(10, r, 3) for r in range(3)] == [slice(0, 3), slice(3, 6),
                                                         slice(6, 9)]
    with pytest.raises(ValueError, match="2 samples cannot be split over 3 ranks"):
        rank_slice(2, 0, 3)
    x, y = column(7)
    xa, ya = partition(x, y, rank=1, world_size=2)
    assert xa[:, 0].tolist() == [3, 4, 5] and ya.tolist() == [3, 4, 5]
    assert partition(x, rank=0, world_size=1).shape == (7, 1)
    with pytest.raises(ValueError, match="x has 7 samples but y has 3"):
        partition(x, y[:3], 0, 2)


# ------------------------------------------------------------------ DataLoader

@pytest.mark.parametrize("n", [40, 47, 41])
def test_dataloader_ranks_together_give_the_single_process_batches(n):
    x, y = column(n)
    world, b = 2, 4
    single = ids(DataLoader(x, y, batch_size=world * b, seed=5, prefetch=0, drop_last=True))
    parts = [ids(DataLoader(x, y, batch_size=b, seed=5, prefetch=0, drop_last=True,
                            rank=r, world_size=world)) for r in range(world)]
    assert len(parts[0]) == len(parts[1]) == len(single) == n // (world * b)
    for k, batch in enumerate(single):
        assert parts[0][k] + parts[1][k] == batch


def test_dataloader_every_rank_gets_the_same_batches_and_no_sample_twice():
    x, y = column(47)
    world = 3
    loaders = [DataLoader(x, y, batch_size=5, seed=1, prefetch=0, rank=r, world_size=world)
               for r in range(world)]
    lens = {len(L) for L in loaders}
    assert lens == {3}           # 3 groups of 15, then 2 left: too few to split, dropped
    per_rank = [ids(L) for L in loaders]
    assert {len(p) for p in per_rank} == lens
    flat = [i for p in per_rank for batch in p for i in batch]
    assert len(flat) == len(set(flat)) == 45


def test_dataloader_splits_a_short_last_group_evenly_unless_drop_last():
    x, y = column(23)
    got = [ids(DataLoader(x, y, batch_size=4, shuffle=False, prefetch=0, rank=r,
                          world_size=2)) for r in range(2)]
    assert got == [[[0, 1, 2, 3], [8, 9, 10, 11], [16, 17, 18]],
                   [[4, 5, 6, 7], [12, 13, 14, 15], [19, 20, 21]]]
    dropped = [ids(DataLoader(x, y, batch_size=4, shuffle=False, prefetch=0, rank=r,
                              world_size=2, drop_last=True)) for r in range(2)]
    assert dropped == [g[:2] for g in got]


def test_dataloader_epochs_reshuffle_identically_on_every_rank():
    x, y = column(64)
    a = DataLoader(x, y, batch_size=8, seed=3, prefetch=0, rank=0, world_size=2)
    b = DataLoader(x, y, batch_size=8, seed=3, prefetch=0, rank=1, world_size=2)
    e0 = [ids(a), ids(b)]
    e1 = [ids(a), ids(b)]
    assert e0 != e1
    for epoch in (e0, e1):
        flat = sorted(i for p in epoch for batch in p for i in batch)
        assert flat == list(range(64))


def test_dataloader_defaults_to_the_launchers_rank(monkeypatch):
    x, y = column(32)
    whole = DataLoader(x, y, batch_size=4, seed=2, prefetch=0)
    assert (whole.rank, whole.world_size, len(whole)) == (0, 1, 8)
    launched(monkeypatch, 1, 2)
    mine = DataLoader(x, y, batch_size=4, seed=2, prefetch=0)
    assert (mine.rank, mine.world_size, len(mine)) == (1, 2, 4)
    assert ids(mine) == ids(DataLoader(x, y, batch_size=4, seed=2, prefetch=0, rank=1,
                                       world_size=2))
    # an explicit single-process loader under a launcher reads everything
    assert len(DataLoader(x, y, batch_size=4, prefetch=0, rank=0, world_size=1)) == 8


def test_minibatches_shards_like_the_dataloader():
    x, y = column(30)
    got = [ids(minibatches(x, y, batch_size=5, seed=4, epoch=2, prefetch=0, rank=r,
                           world_size=2)) for r in range(2)]
    want = [ids(DataLoader(x, y, batch_size=5, seed=4, prefetch=0, rank=r,
                           world_size=2).iter_epoch(2)) for r in range(2)]
    assert got == want and len(got[0]) == len(got[1]) == 3


# ------------------------------------------------------------------ ShardLoader

@pytest.fixture(scope="module")
def shard_set(tmp_path_factory):
    """50 samples in shards of 8 (the last holds 2); pixel (0, 0, 0) holds the id."""
    out = tmp_path_factory.mktemp("dist_shards")
    n = 50
    x = np.zeros((n, 4, 4, 1), np.uint8)
    x[:, 0, 0, 0] = np.arange(n)
    write_shards_from_arrays(x, np.arange(n) % 3, out, shard_size=8, progress=False)
    return out


def shard_loader(path, batch_size=4, **kw):
    kw = {"crop": None, "flip": False, "mean_subtract": False, "workers": 0, **kw}
    return ShardLoader(path, batch_size, **kw)


def test_shardloader_ranks_take_contiguous_parts_of_one_stream(shard_set):
    stream = [i for batch in ids(shard_loader(shard_set, seed=7)) for i in batch]
    parts = []
    for r in range(3):
        L = shard_loader(shard_set, seed=7, rank=r, world_size=3)
        assert L.samples_per_rank == 16 and len(L) == 4
        parts.append([i for batch in ids(L) for i in batch])
    assert parts == [stream[0:16], stream[16:32], stream[32:48]]


def test_shardloader_every_rank_yields_the_same_number_of_batches(shard_set):
    for drop_last, want in ((False, [5, 5, 5, 1]), (True, [5, 5, 5])):
        for r in range(3):   # 16 samples per rank in batches of 5
            L = shard_loader(shard_set, 5, seed=1, rank=r, world_size=3,
                             drop_last=drop_last)
            assert len(L) == len(want)
            assert [len(b) for b in ids(L)] == want


def test_shardloader_rank_reads_only_the_shards_its_part_spans(shard_set):
    it = iter(shard_loader(shard_set, seed=2, rank=1, world_size=3))
    assert len(it._plan.load_order) <= 4 < 7   # 16 samples span at most 3 shards of 8 + 1


def test_shardloader_defaults_to_the_launchers_rank(shard_set, monkeypatch):
    launched(monkeypatch, 2, 3)
    L = shard_loader(shard_set, seed=7)
    assert (L.rank, L.world_size) == (2, 3)
    assert ids(L) == ids(shard_loader(shard_set, seed=7, rank=2, world_size=3))


def test_shardloader_state_from_rank0_resumes_every_rank_at_the_same_point(shard_set):
    whole = [ids(shard_loader(shard_set, seed=5, rank=r, world_size=2)) for r in range(2)]
    rank0 = shard_loader(shard_set, seed=5, rank=0, world_size=2)
    it = iter(rank0)
    next(it), next(it)
    state = rank0.state_dict()
    assert (state["rank"], state["world_size"], state["position"]) == (0, 2, 8)
    for r in range(2):
        resumed = shard_loader(shard_set, seed=0, rank=r, world_size=2)
        resumed.load_state_dict(state)
        assert ids(resumed) == whole[r][2:]


def test_shardloader_refuses_a_mid_epoch_state_from_another_job_size(shard_set):
    two = shard_loader(shard_set, seed=5, rank=0, world_size=2)
    it = iter(two)
    next(it)
    state = two.state_dict()
    three = shard_loader(shard_set, seed=5, rank=0, world_size=3)
    with pytest.raises(ValueError, match="mid-epoch in a job of 2 rank.*this job has 3"):
        three.load_state_dict(state)
    # at an epoch boundary the split does not matter: the next epoch starts afresh
    list(it)
    boundary = two.state_dict()
    assert boundary["position"] == 0 and boundary["epoch"] == 1
    three.load_state_dict(boundary)
    assert three.epoch == 1 and len(ids(three)) == len(three)


def test_shardloader_refuses_too_few_samples_for_the_ranks(shard_set):
    with pytest.raises(ValueError, match="50 samples .* cannot be split over 64 ranks"):
        shard_loader(shard_set, rank=0, world_size=64)


# ------------------------------------------------------------------ readers

def test_load_cifar10_shards_only_when_asked(monkeypatch):
    (xtr, ytr), (xte, yte) = load_cifar10()
    launched(monkeypatch, 1, 3)
    again = load_cifar10()
    assert len(again[0][0]) == len(xtr)           # the readers do not shard by default
    (a, b), (c, d) = load_cifar10(shard=True)
    per_train, per_test = len(xtr) // 3, len(xte) // 3
    np.testing.assert_array_equal(a, xtr[per_train:2 * per_train])
    np.testing.assert_array_equal(b, ytr[per_train:2 * per_train])
    np.testing.assert_array_equal(c, xte[per_test:2 * per_test])
    np.testing.assert_array_equal(d, yte[per_test:2 * per_test])
    explicit = load_cifar10(rank=0, world_size=2)
    np.testing.assert_array_equal(explicit[0][0], xtr[:len(xtr) // 2])


def test_mnist_split_shards_after_splitting():
    mnist = os.path.join(ROOT, "examples", "data", "mnist")
    if not os.listdir(mnist):
        pytest.skip("no MNIST files bundled")
    (xtr, ytr), (xva, yva), (xte, yte) = mnist_split(num_valid=1000, flatten=True)
    parts = [mnist_split(num_valid=1000, flatten=True, rank=r, world_size=2)
             for r in range(2)]
    for i, (x_all, y_all) in enumerate(((xtr, ytr), (xva, yva), (xte, yte))):
        half = len(x_all) // 2
        np.testing.assert_array_equal(np.concatenate([p[i][0] for p in parts]),
                                      x_all[:2 * half])
        np.testing.assert_array_equal(parts[1][i][1], y_all[half:2 * half])


# ------------------------------------------------------------------ under mpiexec

SCRIPT = REPORT_FUNCTION + textwrap.dedent("""
    import json, sys
    import numpy as np
    from singa.data import DataLoader
    x = np.arange(37, dtype=np.float32).reshape(37, 1)
    loader = DataLoader(x, np.zeros(37, np.int32), batch_size=3, seed=9, prefetch=0)
    batches = [xb[:, 0].astype(int).tolist() for xb, _ in loader]
    report({"rank": loader.rank, "size": loader.world_size, "batches": batches})
""")


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="no mpiexec on PATH")
def test_two_ranks_under_mpiexec_shard_without_arguments(tmp_path):
    script = tmp_path / "shard.py"
    script.write_text(SCRIPT)
    env = env_with_this_singa(TEST_REPORT_DIR=str(tmp_path))
    res = subprocess.run(["mpiexec", "-n", "2", sys.executable, str(script)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = rank_reports(tmp_path)
    assert [(d["rank"], d["size"]) for d in out] == [(0, 2), (1, 2)]
    x = np.arange(37, dtype=np.float32).reshape(37, 1)
    single = ids(DataLoader(x, np.zeros(37, np.int32), batch_size=6, seed=9, prefetch=0,
                            rank=0, world_size=1))
    assert len(out[0]["batches"]) == len(out[1]["batches"]) == 6
    for k in range(6):
        assert out[0]["batches"][k] + out[1]["batches"][k] == single[k]
