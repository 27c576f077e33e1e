"""Tests for singa.data.stream.ShardLoader: order, augmentation, resume,
corruption, threads and bounded memory."""

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import singa

from singa.data import ShardError, ShardLoader, load_index, write_shards_from_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, H, W, C = 103, 12, 10, 3


def make_images(n=N, h=H, w=W, c=C, seed=0):
    """Random images whose first two pixels hold the sample id."""
    x = np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)
    ids = np.arange(n)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = ids % 256, ids // 256
    return x, (ids * 7) % 5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """103 samples in shards of 16 (the last holds 7)."""
    out = tmp_path_factory.mktemp("shards")
    x, y = make_images()
    write_shards_from_arrays(x, y, out, shard_size=16, progress=False)
    return out, x, y


def raw_loader(path, **kw):
    kw = {"crop": None, "flip": False, "mean_subtract": False, **kw}
    return ShardLoader(path, **kw)


def ids_of(xb):
    return (xb[:, 0, 0, 0] + 256 * xb[:, 1, 0, 0]).astype(np.int64)


def epoch(loader):
    return [(x.copy(), y.copy()) for x, y in loader]


def assert_same(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def alive_threads():
    return [t for t in threading.enumerate() if t.name.startswith("singa-shard")]


@pytest.mark.parametrize("batch_size, workers, resident", [
    (7, 2, 2), (16, 0, 1), (32, 1, 1), (50, 3, 2), (103, 2, 3), (200, 2, 2)])
def test_every_sample_once_per_epoch(dataset, batch_size, workers, resident):
    path, x, y = dataset
    loader = raw_loader(path, batch_size=batch_size, workers=workers,
                        max_resident_shards=resident)
    assert len(loader) == -(-N // batch_size)
    for e in range(2):
        it = iter(loader)
        batches = list(it)
        assert it.peak_resident_shards <= resident
        assert len(batches) == len(loader)
        assert [len(b[1]) for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
        xs = np.concatenate([b[0] for b in batches])
        ys = np.concatenate([b[1] for b in batches])
        assert xs.dtype == np.float32 and ys.dtype == np.int32
        assert xs.shape == (N, C, H, W) and ys.shape == (N,)
        ids = ids_of(xs)
        assert sorted(ids.tolist()) == list(range(N))
        np.testing.assert_array_equal(xs, x[ids].transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(ys, y[ids])
        assert loader.epoch == e + 1 and loader.position == 0
    assert not alive_threads()


def test_shuffle_is_seeded_and_changes_per_epoch(dataset):
    path = dataset[0]
    order = lambda ld: np.concatenate([ids_of(b[0]) for b in ld])  # noqa: E731
    a, b = raw_loader(path, batch_size=10, seed=5), raw_loader(path, batch_size=10, seed=5)
    a0, a1 = order(a), order(a)
    assert a0.tolist() == order(b).tolist() and a1.tolist() == order(b).tolist()
    assert a0.tolist() != a1.tolist()
    assert a0.tolist() != order(raw_loader(path, batch_size=10, seed=6)).tolist()
    assert a0.tolist() != list(range(N))
    b.set_epoch(0)
    assert order(b).tolist() == a0.tolist()
    flat = order(raw_loader(path, batch_size=10, shuffle=False))
    assert flat.tolist() == list(range(N))


def test_eval_mode_center_crop_no_flip_no_shuffle(dataset):
    path, x, y = dataset
    ev = ShardLoader(path, batch_size=20, crop=(8, 6), train=False, seed=3)
    xs = np.concatenate([b[0] for b in ev])
    ys = np.concatenate([b[1] for b in ev])
    mean = np.asarray(load_index(path)["mean"], np.float32)
    want = x[:, 2:10, 2:8].transpose(0, 3, 1, 2).astype(np.float32) - mean[:, None, None]
    np.testing.assert_array_equal(xs, want)
    np.testing.assert_array_equal(ys, y)


def test_train_crops_flips_and_mean(dataset):
    path, x, _ = dataset
    mean = np.asarray(load_index(path)["mean"], np.float32)
    ld = ShardLoader(path, batch_size=16, crop=8, flip=True, workers=2)
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(0), rtol=1e-6)
    xs = np.concatenate([b[0] for b in ld]) + mean[:, None, None]
    assert xs.shape == (N, C, 8, 8)
    flipped, offsets = 0, set()
    for img in xs:
        hits = []
        for src_id in range(N):  # find the source and the crop it came from
            src = x[src_id].transpose(2, 0, 1).astype(np.float32)
            for oy in range(H - 8 + 1):
                for ox in range(W - 8 + 1):
                    win = src[:, oy:oy + 8, ox:ox + 8]
                    if np.array_equal(win, img):
                        hits.append((src_id, oy, ox, False))
                    elif np.array_equal(win[:, :, ::-1], img):
                        hits.append((src_id, oy, ox, True))
            if hits:
                break
        assert len(hits) == 1
        offsets.add(hits[0][1:3])
        flipped += hits[0][3]
    assert 20 < flipped < N - 20
    assert len(offsets) > 6


def test_drop_last_and_len(dataset):
    path = dataset[0]
    ld = raw_loader(path, batch_size=25, drop_last=True)
    assert len(ld) == 4
    batches = epoch(ld)
    assert [len(b[1]) for b in batches] == [25] * 4
    assert ld.epoch == 1 and ld.position == 0


@pytest.mark.parametrize("stop_at", [0, 3, 6, 10])
def test_resume_mid_epoch_equals_continuing(dataset, stop_at):
    path = dataset[0]
    kw = dict(batch_size=10, crop=8, flip=True, seed=11, workers=2)
    full = epoch(ShardLoader(path, **kw)) + epoch_list(ShardLoader(path, **kw), 2)[11:]
    ld = ShardLoader(path, **kw)
    seen = []
    if stop_at:
        for xb, yb in ld:
            seen.append((xb.copy(), yb.copy()))
            if len(seen) == stop_at:
                break
    state = json.loads(json.dumps(ld.state_dict()))
    assert state["epoch"] == 0 and state["position"] == 10 * stop_at
    assert 0 <= state["offset"] < 16 or state["shard_index"] == len(state["shard_order"])
    resumed = ShardLoader(path, **{**kw, "seed": 999, "workers": 1})
    resumed.load_state_dict(state)
    rest = epoch(resumed) + epoch(resumed)
    assert_same(seen + rest, full)


def epoch_list(loader, n):
    out = []
    for _ in range(n):
        out += epoch(loader)
    return out


def test_break_then_iter_continues(dataset):
    path = dataset[0]
    ref = epoch(raw_loader(path, batch_size=9, seed=2))
    ld = raw_loader(path, batch_size=9, seed=2)
    got = []
    for i, b in enumerate(ld):
        got.append((b[0].copy(), b[1].copy()))
        if i == 4:
            break
    gc.collect()
    assert not alive_threads()
    got += epoch(ld)
    assert_same(got, ref)


def test_state_dict_mismatch(dataset, tmp_path):
    path = dataset[0]
    state = raw_loader(path, batch_size=8).state_dict()
    x, y = make_images(n=40)
    write_shards_from_arrays(x, y, tmp_path, shard_size=16, progress=False)
    with pytest.raises(ValueError, match="different shard set"):
        raw_loader(tmp_path, batch_size=8).load_state_dict(state)
    with pytest.raises(ValueError, match="shuffle"):
        raw_loader(path, batch_size=8, shuffle=False).load_state_dict(state)


def test_arguments(dataset):
    path = dataset[0]
    with pytest.raises(ValueError, match="crop"):
        ShardLoader(path, 4, crop=64)
    with pytest.raises(ValueError, match="batch_size"):
        ShardLoader(path, 0)
    with pytest.raises(ValueError, match="max_resident_shards"):
        ShardLoader(path, 4, max_resident_shards=0)
    with pytest.raises(ShardError, match="index.json"):
        ShardLoader(os.path.dirname(path), 4)


def corrupt_copy(src, dst, name, damage):
    import shutil
    shutil.copytree(src, dst)
    p = dst / name
    p.write_bytes(damage(p.read_bytes()))
    return dst


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupted_payload_raises_naming_file(dataset, tmp_path, workers):
    path = corrupt_copy(dataset[0], tmp_path / "d", "shard-00004.bin",
                        lambda b: b[:-3] + bytes([b[-3] ^ 0x10]) + b[-2:])
    ld = raw_loader(path, batch_size=10, workers=workers, shuffle=False)
    got = 0
    with pytest.raises(ShardError, match="checksum mismatch") as e:
        for _, yb in ld:
            got += len(yb)
    assert "shard-00004.bin" in str(e.value)
    assert got >= 60  # the batches before the bad shard came through
    gc.collect()
    assert not alive_threads()


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"JUNKJUNK" + b[8:], "bad magic"),
    (lambda b: b[:len(b) // 2], "truncated"),
])
def test_bad_header_raises_at_construction(dataset, tmp_path, damage, message):
    path = corrupt_copy(dataset[0], tmp_path / "d", "shard-00002.bin", damage)
    with pytest.raises(ShardError, match=message) as e:
        ShardLoader(path, 8, crop=None)
    assert "shard-00002.bin" in str(e.value)


def test_corruption_after_construction(dataset, tmp_path):
    path = corrupt_copy(dataset[0], tmp_path / "d", "shard-00001.bin", lambda b: b)
    ld = raw_loader(path, batch_size=10, shuffle=False)
    (path / "shard-00001.bin").write_bytes((path / "shard-00001.bin").read_bytes()[:500])
    with pytest.raises(ShardError, match="shard-00001.bin"):
        epoch(ld)


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, threading, time
    from singa.data import ShardLoader, read_shard

    def status(key):  # kB -> MB
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024

    path, resident = sys.argv[1], int(sys.argv[2])
    ld = ShardLoader(path, batch_size=32, crop=32, workers=2,
                     max_resident_shards=max(resident, 1))
    # Reset the peak-RSS mark (VmHWM) so imports do not hide the growth; a
    # sampling thread double-checks where the reset is not allowed.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = status("VmRSS")
    sampled, done = [base], threading.Event()
    def sample():
        while not done.wait(0.002):
            sampled.append(status("VmRSS"))
    threading.Thread(target=sample, daemon=True).start()
    n, t = 0, time.perf_counter()
    if resident:
        it = iter(ld)
        for x, y in it:
            n += len(y)
        peak_resident = it.peak_resident_shards
    else:  # contrast: what holding every shard costs
        held = [read_shard(p) for p in ld.paths]
        n, peak_resident = sum(len(h[1]) for h in held), len(held)
    dt = time.perf_counter() - t
    done.set()
    peak = max(max(sampled), status("VmHWM"))
    print(json.dumps({"base_mb": base, "peak_mb": peak, "n": n,
                      "peak_resident": peak_resident,
                      "images_per_s": n / dt}))
""")


def stream_in_subprocess(path, resident):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(singa.__file__)) + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(resident)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.unsanitized("ASan's quarantine keeps freed blocks resident (256 MB by default), "
                         "so the RSS growth measured here is the sanitizer's")
def test_bounded_memory_on_data_larger_than_the_cap(tmp_path):
    """60 MB of shards (4 MB each) stream with ~2 shards resident: the peak RSS
    growth stays far below the data set size."""
    n, side = 4900, 64          # 4900 x 64 x 64 x 3 = 60.2 MB
    x = np.random.default_rng(0).integers(0, 256, (n, side, side, 3), dtype=np.uint8)
    write_shards_from_arrays(x, np.arange(n) % 10, tmp_path, shard_size=340,
                             progress=False)
    del x
    index = load_index(tmp_path)
    data_mb = sum(s["bytes"] for s in index["shards"]) / 2 ** 20
    shard_mb = index["shards"][0]["bytes"] / 2 ** 20
    assert data_mb > 55 and 3.5 < shard_mb < 4.5
    m = stream_in_subprocess(tmp_path, 2)
    growth = m["peak_mb"] - m["base_mb"]
    print(f"\ndataset {data_mb:.1f} MB in {len(index['shards'])} shards of "
          f"{shard_mb:.1f} MB; streaming with max_resident_shards=2: peak RSS growth "
          f"{growth:.1f} MB (base {m['base_mb']:.1f} MB), "
          f"{m['images_per_s']:.0f} images/s at 3x32x32")
    assert m["n"] == n and m["peak_resident"] <= 2
    # 2 shards (8 MB) + ~8 batches in flight (3 MB) + allocator slack
    assert growth < 24, m
    # The measurement does see memory: holding every shard grows with the data.
    m_all = stream_in_subprocess(tmp_path, 0)
    growth_all = m_all["peak_mb"] - m_all["base_mb"]
    print(f"holding all {len(index['shards'])} shards instead: growth {growth_all:.1f} MB")
    assert m_all["n"] == n and growth_all > 0.9 * data_mb
