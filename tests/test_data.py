"""Tests for singa.data: bundled datasets, file validation, the batch loader."""

import gc
import gzip
import os
import threading
import time

import numpy as np
import pytest

from singa import data
from singa.data import DataError, DataNotFoundError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR_TRAIN_COUNTS = [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
CIFAR_TEST_COUNTS = [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]


@pytest.fixture(scope="module")
def mnist():
    return data.load_mnist()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)


def mnist_dir():
    return data.find_data_dir("mnist")


def idx_images(n, rows=28, cols=28, magic=2051, seed=0):
    head = np.array([magic, n, rows, cols], ">u4").tobytes()
    pix = np.random.default_rng(seed).integers(0, 256, n * rows * cols, dtype=np.uint8)
    return head + pix.tobytes()


def idx_labels(labels, magic=2049):
    labels = np.asarray(labels, np.uint8)
    return np.array([magic, len(labels)], ">u4").tobytes() + labels.tobytes()


def cifar_records(labels, seed=0):
    rng = np.random.default_rng(seed)
    rec = rng.integers(0, 256, (len(labels), 3073), dtype=np.uint8)
    rec[:, 0] = labels
    return rec.tobytes()


def write(path, payload):
    path.write_bytes(payload)
    return str(path)


# --------------------------------------------------------------- bundled data

def test_bundled_mnist(mnist):
    (xtr, ytr), (xte, yte) = mnist
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert xtr.dtype == np.uint8 and xte.dtype == np.uint8
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    assert ytr.dtype == np.int32 and yte.dtype == np.int32
    assert np.bincount(ytr).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(yte).tolist() == MNIST_TEST_COUNTS
    assert xtr.max() == 255 and xtr.min() == 0


def test_mnist_split(mnist):
    (xtr, ytr), (xva, yva), (xte, yte) = data.mnist_split()
    assert (len(xtr), len(xva), len(xte)) == (50000, 10000, 10000)
    assert xtr.dtype == np.float32 and 0.0 <= xtr.min() and xtr.max() == 1.0
    (full_x, full_y), (test_x, test_y) = mnist
    # Validation is the last 10,000 of the training file (Lasagne).
    np.testing.assert_array_equal(yva, full_y[50000:])
    np.testing.assert_array_equal(ytr, full_y[:50000])
    np.testing.assert_allclose(xva[-1], full_x[-1] / np.float32(255), rtol=1e-6)
    np.testing.assert_array_equal(yte, test_y)
    (fx, _), _, _ = data.mnist_split(flatten=True, normalize=False, num_valid=5000)
    assert fx.shape == (55000, 784) and fx.dtype == np.uint8


def test_to_float32():
    x = np.array([[0, 128, 255]], np.uint8)
    f = data.to_float32(x)
    assert f.dtype == np.float32 and f.flags.c_contiguous
    np.testing.assert_allclose(f, [[0.0, 128 / 255, 1.0]], rtol=1e-6)


def test_bundled_cifar10():
    (xtr, ytr), (xte, yte) = data.load_cifar10()
    assert xtr.shape == (4000, 3, 32, 32) and xte.shape == (1000, 3, 32, 32)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.int32 and yte.dtype == np.int32
    assert np.bincount(ytr, minlength=10).tolist() == CIFAR_TRAIN_COUNTS
    assert np.bincount(yte, minlength=10).tolist() == CIFAR_TEST_COUNTS
    assert ytr[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert yte[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    # First red row of training image 0, from published dumps of data_batch_1.
    assert xtr[0, 0, 0, :10].tolist() == [59, 43, 50, 68, 98, 119, 139, 145, 149, 149]
    assert data.cifar10_class_names() == list(data.CIFAR10_CLASSES)


def test_raw_idx_files_and_checksums(tmp_path):
    # Uncompressed copies under the official names are read and verified too.
    src = os.path.join(mnist_dir(), "t10k-labels-idx1-ubyte.gz")
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress(open(src, "rb").read()))
    y = data.read_idx_labels(raw)
    assert y.dtype == np.uint8 and np.bincount(y).tolist() == MNIST_TEST_COUNTS


# ------------------------------------------------------------------ locating

def test_env_var_and_argument(tmp_path, monkeypatch):
    d = tmp_path / "mnist"
    d.mkdir()
    write(d / "train-images-idx3-ubyte", idx_images(5))
    write(d / "train-labels-idx1-ubyte", idx_labels([0, 1, 2, 3, 4]))
    write(d / "t10k-images-idx3-ubyte", idx_images(2, seed=1))
    write(d / "t10k-labels-idx1-ubyte", idx_labels([7, 9]))
    # Home-made files under the official names would fail the checksum.
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*checksum"):
        data.load_mnist(tmp_path)
    (x, y), (xt, yt) = data.load_mnist(tmp_path, verify=False)  # parent folder
    assert x.shape == (5, 28, 28) and yt.tolist() == [7, 9]
    monkeypatch.setenv(data.ENV_VAR, str(d))  # the dataset folder itself
    (x, y), _ = data.load_mnist(verify=False)
    assert y.tolist() == [0, 1, 2, 3, 4]
    assert data.find_data_dir("mnist") == str(d)


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match="train-images"):
        data.load_mnist(tmp_path)
    with pytest.raises(DataNotFoundError, match="CIFAR-10"):
        data.load_cifar10(tmp_path)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="nope.*SINGA_DATA_DIR"):
        data.load_mnist()
    assert issubclass(DataNotFoundError, FileNotFoundError)
    assert issubclass(DataError, ValueError)


# ----------------------------------------------------------- corrupted files

def test_bad_magic(tmp_path):
    p = write(tmp_path / "imgs.idx", idx_images(2, magic=2049))
    with pytest.raises(DataError, match=r"imgs\.idx.*magic"):
        data.read_idx_images(p)
    q = write(tmp_path / "labs.idx", idx_labels([1, 2], magic=2051))
    with pytest.raises(DataError, match=r"labs\.idx.*magic"):
        data.read_idx_labels(q)


def test_truncated_idx(tmp_path):
    p = write(tmp_path / "short-images", idx_images(3)[:-10])
    with pytest.raises(DataError, match="short-images.*truncated"):
        data.read_idx_images(p)
    q = write(tmp_path / "short-labels", idx_labels([1, 2, 3])[:-1])
    with pytest.raises(DataError, match="short-labels.*truncated"):
        data.read_idx_labels(q)
    h = write(tmp_path / "header-only", b"\x00\x00\x08")
    with pytest.raises(DataError, match="header-only.*truncated"):
        data.read_idx_labels(h)
    # A cut gzip stream of a real file.
    src = open(os.path.join(mnist_dir(), "t10k-labels-idx1-ubyte.gz"), "rb").read()
    g = write(tmp_path / "cut-labels.gz", src[:len(src) // 2])
    with pytest.raises(DataError, match="cut-labels.gz.*gzip"):
        data.read_idx_labels(g)


def test_trailing_bytes_and_label_range(tmp_path):
    p = write(tmp_path / "long-labels", idx_labels([1, 2]) + b"\x00")
    with pytest.raises(DataError, match="long-labels.*trailing"):
        data.read_idx_labels(p)
    q = write(tmp_path / "big-labels", idx_labels([1, 12]))
    with pytest.raises(DataError, match="big-labels.*out of range"):
        data.read_idx_labels(q)


def test_flipped_byte_fails_checksum(tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(open(os.path.join(mnist_dir(), name), "rb").read())
    payload[len(payload) // 2] ^= 0x01
    p = write(tmp_path / name, bytes(payload))
    with pytest.raises(DataError, match=name.replace(".", r"\.") + ".*checksum"):
        data.read_idx_labels(p)


def test_count_mismatch(tmp_path):
    xi = write(tmp_path / "x-images", idx_images(3))
    yl = write(tmp_path / "y-labels", idx_labels([1, 2, 3, 4]))
    with pytest.raises(DataError, match="x-images.*3 images.*y-labels.*4 labels"):
        data.read_mnist_pair(xi, yl)


def test_cifar_bad_size(tmp_path):
    p = write(tmp_path / "batch.bin", cifar_records([1, 2])[:-5])
    with pytest.raises(DataError, match=r"batch\.bin.*multiple of the 3073"):
        data.read_cifar10_batch(p)
    e = write(tmp_path / "empty.bin", b"")
    with pytest.raises(DataError, match=r"empty\.bin.*empty"):
        data.read_cifar10_batch(e)


def test_cifar_label_out_of_range(tmp_path):
    p = write(tmp_path / "batch.bin", cifar_records([1, 2, 10, 3]))
    with pytest.raises(DataError, match=r"batch\.bin.*label 10 in record 2"):
        data.read_cifar10_batch(p)


def test_cifar_flipped_byte_and_full_batches(tmp_path):
    name = "test_batch_first1000.bin"
    src = os.path.join(data.find_data_dir("cifar-10"), name)
    payload = bytearray(open(src, "rb").read(3073 * 1000))
    payload[12345] ^= 0x80
    bad = write(tmp_path / name, bytes(payload))
    with pytest.raises(DataError, match=name.replace(".", r"\.") + ".*checksum"):
        data.read_cifar10_batch(bad)
    # Full-batch names take precedence, all present train batches in order.
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    write(d / "data_batch_1.bin", cifar_records([0, 1, 2]))
    write(d / "data_batch_2.bin", cifar_records([3, 4]))
    write(d / "test_batch.bin", cifar_records([5]))
    (x, y), (xt, yt) = data.load_cifar10(tmp_path)
    assert x.shape == (5, 3, 32, 32) and y.tolist() == [0, 1, 2, 3, 4]
    assert yt.tolist() == [5]
    rec = np.frombuffer(cifar_records([0, 1, 2]), np.uint8).reshape(3, 3073)
    np.testing.assert_array_equal(x[1, 2].ravel(), rec[1, 1 + 2048:])  # blue plane
    assert data.cifar10_class_names(tmp_path) == list(data.CIFAR10_CLASSES)


# -------------------------------------------------------------------- loader

def prefetch_threads():
    return [t for t in threading.enumerate()
            if t.name == "singa-data-prefetch" and t.is_alive()]


def wait_no_threads(timeout=2.0):
    end = time.monotonic() + timeout
    while prefetch_threads() and time.monotonic() < end:
        gc.collect()
        time.sleep(0.01)
    return prefetch_threads()


def toy(n=103):
    x = np.arange(n * 2, dtype=np.uint8).reshape(n, 2) % 251
    y = np.arange(n, dtype=np.int32)
    return x, y


@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("drop_last", [False, True])
def test_each_sample_once_per_epoch(prefetch, drop_last):
    x, y = toy()
    loader = data.DataLoader(x, y, batch_size=10, seed=3, drop_last=drop_last,
                             prefetch=prefetch)
    assert len(loader) == (10 if drop_last else 11)
    for _ in range(2):
        seen, nb = [], 0
        for xb, yb in loader:
            assert xb.dtype == np.float32 and xb.flags.c_contiguous
            np.testing.assert_array_equal(xb, x[yb].astype(np.float32))
            seen.extend(yb.tolist())
            nb += 1
        assert nb == len(loader)
        if drop_last:
            assert len(seen) == 100 and len(set(seen)) == 100
        else:
            assert sorted(seen) == list(range(103))
    assert loader.epoch == 2
    assert not wait_no_threads()


def test_seed_and_epoch_control_order():
    x, y = toy()

    def order(seed, epoch, prefetch=2):
        it = data.minibatches(x, y, 16, seed=seed, epoch=epoch, prefetch=prefetch)
        return np.concatenate([yb for _, yb in it]).tolist()

    assert order(7, 0) == order(7, 0) == order(7, 0, prefetch=0)
    assert order(7, 0) != order(7, 1)
    assert order(7, 0) != order(8, 0)
    loader = data.DataLoader(x, y, 16, seed=7)
    first = np.concatenate([yb for _, yb in loader]).tolist()
    second = np.concatenate([yb for _, yb in loader]).tolist()
    assert first == order(7, 0) and second == order(7, 1)
    loader.set_epoch(0)
    assert np.concatenate([yb for _, yb in loader]).tolist() == first
    unshuffled = data.minibatches(x, y, 16, shuffle=False)
    assert len(unshuffled) == 7
    assert np.concatenate([yb for _, yb in unshuffled]).tolist() == list(range(103))


def test_x_only_and_options():
    x, _ = toy(10)
    batches = list(data.minibatches(x, None, 4, shuffle=False, dtype=None,
                                    transform=lambda b: b * 2))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert batches[0].dtype == np.uint8
    np.testing.assert_array_equal(np.concatenate(batches), x * 2)
    with pytest.raises(ValueError):
        data.DataLoader(x, np.zeros(3), 4)
    with pytest.raises(ValueError):
        data.DataLoader(x, None, 0)


def test_prefetch_thread_exits_after_break():
    x, y = toy(1000)
    loader = data.DataLoader(x, y, batch_size=5, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    assert not wait_no_threads()
    it = data.minibatches(x, y, 5, prefetch=3)
    next(it)
    t = it.thread
    assert t.is_alive()
    it.close()
    assert not t.is_alive()
    with pytest.raises(StopIteration):
        next(it)
    with data.minibatches(x, y, 5) as it:
        t = it.thread
        next(it)
    assert not t.is_alive()


def test_prefetch_queue_is_bounded():
    x, y = toy(1000)
    calls = []

    def transform(b):
        calls.append(1)
        return b

    it = data.minibatches(x, y, 5, prefetch=2, transform=transform)
    next(it)
    time.sleep(0.2)
    # one consumed + two queued + one waiting to be queued
    assert len(calls) <= 4
    it.close()
    assert not it.thread.is_alive()


def test_worker_exception_propagates():
    x, y = toy(100)
    calls = []

    def transform(b):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("bad augmentation")
        return b

    it = data.minibatches(x, y, 10, transform=transform)
    next(it)
    next(it)
    with pytest.raises(RuntimeError, match="bad augmentation"):
        next(it)
    assert not it.thread.is_alive()
    with pytest.raises(StopIteration):
        next(it)
    calls.clear()
    with pytest.raises(RuntimeError, match="bad augmentation"):
        list(data.minibatches(x, y, 10, transform=transform, prefetch=0))
    assert not wait_no_threads()
