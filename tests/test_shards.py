"""Tests for singa.data.shards: the shard file format and the shard writer."""

import hashlib
import importlib
import json
import os
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

import singa

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from singa.data import shards  # noqa: E402
writer = importlib.import_module("singa.data.write_shards")  # the module, not the function
from singa.data import (BadImageWarning, ShardError, load_index, read_shard,  # noqa: E402
                        read_shard_header, write_shard, write_shards,
                        write_shards_from_arrays)

CLASSES = ["ant", "bee", "cow"]
PER_CLASS = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_tree(root, seed=0):
    """3 classes x 20 images of varied sizes, modes and formats, plus a
    corrupt .jpg, a truncated .png and a non-image file."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        os.makedirs(root / name)
        for i in range(PER_CLASS):
            h, w = (int(v) for v in rng.integers(12, 70, size=2))
            arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            arr[..., c] //= 4  # classes differ in colour
            im = Image.fromarray(arr)
            if i % 5 == 3:
                im = im.convert("L")
            elif i % 5 == 4:
                im = im.convert("RGBA")
            ext = ["png", "jpg", "bmp", "png", "png"][i % 5]
            im.save(root / name / f"img{i:02d}.{ext}")
    (root / "bee" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    png = (root / "ant" / "img00.png").read_bytes()
    (root / "cow" / "cut.png").write_bytes(png[:len(png) // 2])
    (root / "cow" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("tree"))


def write(tree, out, **kw):
    kw.setdefault("size", 16)
    kw.setdefault("shard_size", 16)
    kw.setdefault("workers", 2)
    kw.setdefault("progress", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadImageWarning)
        return write_shards(tree, out, **kw)


def read_all(out):
    index = load_index(out)
    xs, ys = [], []
    for s in index["shards"]:
        x, y, _ = read_shard(os.path.join(out, s["file"]))
        xs.append(x.copy())
        ys.append(y.copy())
    return index, np.concatenate(xs), np.concatenate(ys)


def files(out):
    return {n: os.stat(os.path.join(out, n)).st_mtime_ns
            for n in sorted(os.listdir(out)) if n.endswith(".bin")}


def without_counters(index):
    return {k: v for k, v in index.items()
            if k not in ("complete", "shards_written", "shards_kept")}


# -- format -----------------------------------------------------------------

def test_shard_roundtrip_and_header_layout(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 4, 3, 2), dtype=np.uint8)
    y = np.array([3, 1, 4, 1, 5])
    path = tmp_path / "s.bin"
    info = write_shard(path, x, y)
    raw = path.read_bytes()
    assert info["bytes"] == len(raw) == 64 + 64 + x.size
    assert raw[:8] == b"SINGASHD"
    ver, hsize, dcode, lcode = struct.unpack_from("<HHBB", raw, 8)
    assert (ver, hsize, dcode, lcode) == (1, 64, 1, 0)
    assert struct.unpack_from("<QIII", raw, 16) == (5, 4, 3, 2)
    assert struct.unpack_from("<I", raw, 56)[0] == int(info["crc32"], 16)
    assert np.frombuffer(raw[64:84], "<i4").tolist() == y.tolist()
    assert raw[128:] == x.tobytes()  # NHWC after the padded labels
    xr, yr, head = read_shard(path)
    np.testing.assert_array_equal(xr, x)
    np.testing.assert_array_equal(yr, y)
    assert xr.dtype == np.uint8 and yr.dtype == np.int32
    assert head.shape == (5, 4, 3, 2)
    assert read_shard_header(path).crc32 == head.crc32
    assert not [n for n in os.listdir(tmp_path) if "tmp" in n]


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"XXXXXXXX" + b[8:], "bad magic"),
    (lambda b: b[:-10], "truncated"),
    (lambda b: b[:30], "truncated"),
    (lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:], "header checksum"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 0x40]), "checksum mismatch"),
    (lambda b: b[:70] + bytes([b[70] ^ 1]) + b[71:], "checksum mismatch"),
])
def test_corrupted_shard_raises_naming_file(tmp_path, damage, message):
    path = tmp_path / "shard-00003.bin"
    write_shard(path, np.zeros((3, 2, 2, 3), np.uint8), np.arange(3))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ShardError, match=message) as e:
        read_shard(path)
    assert str(path) in str(e.value)


def test_missing_index(tmp_path):
    with pytest.raises(ShardError, match="index.json"):
        load_index(tmp_path)


# -- writer: image tree -----------------------------------------------------

def test_write_index_classes_counts_mean(tree, tmp_path):
    out = tmp_path / "out"
    with pytest.warns(BadImageWarning) as rec:
        index = write_shards(tree, out, size=16, shard_size=16, workers=2,
                             progress=False)
    warned = " ".join(str(w.message) for w in rec)
    assert "broken.jpg" in warned and "cut.png" in warned
    assert index["complete"] and index == {**load_index(out), "complete": True,
                                           "shards_written": 4, "shards_kept": 0}
    assert index["classes"] == CLASSES
    assert index["class_to_label"] == {"ant": 0, "bee": 1, "cow": 2}
    assert index["num_samples"] == 3 * PER_CLASS
    assert index["class_counts"] == [PER_CLASS] * 3
    assert (index["height"], index["width"], index["channels"]) == (16, 16, 3)
    assert index["layout"] == "NHWC" and index["dtype"] == "uint8"
    # 62 planned files in shards of 16; the 2 bad ones are skipped, not replaced
    counts = [s["count"] for s in index["shards"]]
    assert len(counts) == 4 and sum(counts) == 60 and counts[:3] <= [16] * 3
    assert sorted(s["path"] for s in index["skipped"]) == ["bee/broken.jpg", "cow/cut.png"]
    assert all(s["error"] for s in index["skipped"])
    assert index["source"]["ignored"] == ["cow/notes.txt"]
    _, x, y = read_all(out)
    assert x.shape == (60, 16, 16, 3)
    np.testing.assert_allclose(index["mean"], x.reshape(-1, 3).mean(0), rtol=1e-9)
    np.testing.assert_allclose(index["std"], x.reshape(-1, 3).std(0), rtol=1e-9)
    for s in index["shards"]:
        assert s["crc32"] == f"{read_shard_header(out / s['file']).crc32:08x}"


def test_every_image_has_its_folder_label(tree, tmp_path):
    """Each written image is its source file decoded, under its folder's label."""
    out = tmp_path / "out"
    index = write(tree, out)
    _, x, y = read_all(out)
    want = {}
    for label, name in enumerate(CLASSES):
        for f in os.listdir(tree / name):
            if f.startswith("img"):
                img = shards.load_image(tree / name / f, 16)
                want[hashlib.sha256(img.tobytes()).hexdigest()] = label
    got = {hashlib.sha256(img.tobytes()).hexdigest(): int(lab) for img, lab in zip(x, y)}
    assert got == want
    # the seeded shuffle mixes classes within shards
    assert len(set(y[:16].tolist())) > 1
    assert index["source"]["shuffle"] is True


def test_deterministic_and_no_shuffle(tree, tmp_path):
    a = write(tree, tmp_path / "a")
    b = write(tree, tmp_path / "b", workers=1)
    assert [s["crc32"] for s in a["shards"]] == [s["crc32"] for s in b["shards"]]
    c = write(tree, tmp_path / "c", shuffle=False)
    _, _, y = read_all(tmp_path / "c")
    assert y.tolist() == sorted(y.tolist())  # sorted paths: class after class
    assert [s["crc32"] for s in a["shards"]] != [s["crc32"] for s in c["shards"]]


def test_resize_modes(tmp_path):
    (tmp_path / "t" / "a").mkdir(parents=True)
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :5] = 255  # white left eighth
    Image.fromarray(arr).save(tmp_path / "t" / "a" / "x.png")
    crop = shards.load_image(tmp_path / "t" / "a" / "x.png", 10, "crop")
    squash = shards.load_image(tmp_path / "t" / "a" / "x.png", 10, "squash")
    assert crop.shape == squash.shape == (10, 10, 3)
    assert crop.max() == 0  # the centre 20x20 is black
    assert squash[:, 0].min() > 128 and squash[:, -1].max() == 0
    with pytest.raises(ValueError, match="resize"):
        write_shards(tmp_path / "t", tmp_path / "o", resize="bogus")


def test_resume_after_deleting_a_shard(tree, tmp_path):
    out = tmp_path / "out"
    first = write(tree, out)
    before = files(out)
    os.unlink(out / "shard-00002.bin")
    again = write(tree, out)
    assert (again["shards_written"], again["shards_kept"]) == (1, 3)
    after = files(out)
    assert {n: t for n, t in after.items() if n != "shard-00002.bin"} == \
        {n: t for n, t in before.items() if n != "shard-00002.bin"}
    assert without_counters(again) == without_counters(first)
    nothing = write(tree, out)
    assert (nothing["shards_written"], nothing["shards_kept"]) == (0, 4)
    assert files(out) == after


def test_resume_after_interrupted_run(tree, tmp_path):
    out = tmp_path / "out"
    part = write(tree, out, stop_after=2)
    assert not part["complete"] and part["shards_written"] == 2
    assert not (out / "index.json").exists()  # the loader refuses a partial set
    assert len(files(out)) == 2
    with pytest.raises(ShardError):
        load_index(out)
    # a stale temporary file from a killed run is cleaned up
    (out / ".shard-00002.bin.tmp.99999").write_bytes(b"junk")
    rest = write(tree, out)
    assert (rest["shards_written"], rest["shards_kept"]) == (2, 2)
    assert not [n for n in os.listdir(out) if ".tmp." in n]
    full = write(tree, tmp_path / "fresh")
    assert without_counters(rest) == without_counters(full)
    assert [s["crc32"] for s in rest["shards"]] == [s["crc32"] for s in full["shards"]]


def test_resume_rewrites_corrupted_and_stale_shards(tree, tmp_path):
    out = tmp_path / "out"
    write(tree, out)
    p = out / "shard-00001.bin"
    raw = bytearray(p.read_bytes())
    raw[-5] ^= 0xFF
    p.write_bytes(bytes(raw))
    again = write(tree, out)
    assert (again["shards_written"], again["shards_kept"]) == (1, 3)
    read_shard(p)  # verifies again
    # other parameters: nothing is reused
    other = write(tree, out, size=12)
    assert (other["shards_written"], other["shards_kept"]) == (4, 0)
    assert load_index(out)["height"] == 12


def test_cli(tree, tmp_path):
    out = tmp_path / "cli"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(singa.__file__)) + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "singa.data.write_shards", "--image-dir", str(tree),
           "--out", str(out), "--size", "16", "--shard-size", "16", "--workers", "2"]
    r = subprocess.run(cmd + ["--stop-after", "1"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "stopped after 1" in r.stdout
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "60 images in 4 shards (3 written, 1 kept)" in r.stdout
    assert "broken.jpg" in r.stdout and "BadImageWarning" in r.stderr
    assert "found in sys.modules" not in r.stderr  # the package did not import it first
    assert load_index(out)["num_samples"] == 60
    r = subprocess.run([sys.executable, "-m", "singa.data.write_shards", "--out",
                        str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2  # argparse: a source is required


# -- writer: arrays (MNIST / CIFAR-10) ----------------------------------------

def test_from_arrays_grayscale_and_channels_first(tmp_path):
    rng = np.random.default_rng(1)
    g = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    gl = rng.integers(0, 10, 50)
    ix = write_shards_from_arrays(g, gl, tmp_path / "g", shard_size=16, progress=False)
    assert ix["channels"] == 1 and [s["count"] for s in ix["shards"]] == [16, 16, 16, 2]
    assert ix["classes"] == [str(k) for k in range(int(gl.max()) + 1)]
    _, x, y = read_all(tmp_path / "g")
    np.testing.assert_array_equal(x[..., 0], g)
    np.testing.assert_array_equal(y, gl)
    np.testing.assert_allclose(ix["mean"], [g.mean()])

    c = rng.integers(0, 256, (20, 3, 8, 8), dtype=np.uint8)
    ix = write_shards_from_arrays(c, np.arange(20) % 4, tmp_path / "c",
                                  classes=list("wxyz"), channels_first=True,
                                  shuffle=True, seed=3, progress=False)
    _, x, y = read_all(tmp_path / "c")
    perm = np.random.default_rng(3).permutation(20)
    np.testing.assert_array_equal(x, c.transpose(0, 2, 3, 1)[perm])
    np.testing.assert_array_equal(y, (np.arange(20) % 4)[perm])
    assert ix["class_counts"] == [5, 5, 5, 5]
    again = write_shards_from_arrays(c, np.arange(20) % 4, tmp_path / "c",
                                     classes=list("wxyz"), channels_first=True,
                                     shuffle=True, seed=3, progress=False)
    assert again["shards_kept"] == 1 and again["shards_written"] == 0
    with pytest.raises(ValueError, match="out of range"):
        write_shards_from_arrays(c, np.arange(20), tmp_path / "d", classes=list("ab"))
    with pytest.raises(ValueError, match="uint8"):
        write_shards_from_arrays(c.astype(np.float32), np.arange(20), tmp_path / "d")


def test_cli_cifar10_and_mnist(tmp_path, capsys):
    from singa.data import load_cifar10, cifar10_class_names
    out = tmp_path / "cifar"
    assert writer.main(["--cifar10", os.path.join(ROOT, "examples", "data", "cifar-10"),
                        "--out", str(out), "--quiet", "--no-shuffle"]) == 0
    (xtr, ytr), (xte, yte) = load_cifar10()
    ix, x, y = read_all(out / "train")
    assert ix["classes"] == cifar10_class_names()
    np.testing.assert_array_equal(x, xtr.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y, ytr)
    assert load_index(out / "test")["num_samples"] == len(yte)

    # a small MNIST in IDX files (names outside the official checksum list)
    d = tmp_path / "mnist"
    d.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 30), ("t10k", 10)):
        img = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (d / f"{stem}-images.idx3-ubyte").write_bytes(
            np.array([2051, n, 28, 28], ">u4").tobytes() + img.tobytes())
        (d / f"{stem}-labels.idx1-ubyte").write_bytes(
            np.array([2049, n], ">u4").tobytes() + (np.arange(n) % 10).astype(np.uint8).tobytes())
    assert writer.main(["--mnist", str(d), "--out", str(tmp_path / "m"), "--quiet",
                        "--shard-size", "8"]) == 0
    ix = load_index(tmp_path / "m" / "train")
    assert (ix["num_samples"], ix["channels"], ix["height"], len(ix["shards"])) == (30, 1, 28, 4)
    assert ix["source"]["dataset"] == "mnist"
    assert "30 images in 4 shards" in capsys.readouterr().out
    with open(tmp_path / "m" / "train" / "index.json") as f:
        assert json.load(f)["class_counts"] == [3] * 10


def test_writer_names_from_every_import_path():
    import singa.data
    import singa.data.write_shards  # noqa: F401  (binds no module over the function)
    from singa.data.shards import main, write_shards as from_shards
    assert singa.data.write_shards is write_shards is writer.write_shards is from_shards
    assert singa.data.write_shards_from_arrays is writer.write_shards_from_arrays
    assert main is writer.main and callable(singa.data.write_shards)
    assert "write_shards" in singa.data.__all__
    assert not hasattr(shards, "_run_jobs") and hasattr(writer, "_run_jobs")
    with pytest.raises(AttributeError):
        shards.no_such_name
