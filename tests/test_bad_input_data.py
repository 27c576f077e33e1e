"""Bad input to every public name of singa.data (issue 18, point 8): loader arguments out
of range or of the wrong type, and files that are missing, truncated or of the wrong
kind. Argument errors name the function or class; file errors name the file (its path
says which reader failed and on what), and the problem."""

import os

import numpy as np
import pytest

from singa import data as D

from _bad_input import Bad, check, check_coverage

X = np.zeros((10, 3), np.float32)
Y = np.zeros(10, np.int32)


def write(path, raw):
    with open(path, "wb") as f:
        f.write(raw)
    return str(path)


def idx_file(path, magic, dims, payload_bytes):
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return write(path, head + bytes(payload_bytes))


def mnist_dir_with_bad_labels(tmp_path):
    """A folder with the four MNIST files, the training labels of the wrong magic."""
    d = tmp_path / "mnist"
    d.mkdir()
    for stem, n in (("train", 3), ("t10k", 2)):
        idx_file(d / f"{stem}-images-idx3-ubyte", 2051, (n, 28, 28), n * 784)
        idx_file(d / f"{stem}-labels-idx1-ubyte", 2049 if stem == "t10k" else 7, (n,), n)
    return str(d)


def iterate(it):
    for _ in it:
        pass


def case_list(tmp_path):
    p = tmp_path if tmp_path is not None else "/nonexistent"
    return [
        Bad("DataError", "raised by a reader", lambda: D.read_idx_images(
            idx_file(os.path.join(p, "i"), 2051, (2, 4, 4), 5)), D.DataError,
            r"truncated.*\(2, 4, 4\)", who=r"\bi\b"),
        Bad("DataNotFoundError", "missing folder", lambda: D.find_data_dir(
            ["mnist"], os.path.join(p, "absent")), D.DataNotFoundError, r"absent",
            who=r"directory not found"),
        Bad("find_data_dir", "missing folder", lambda: D.find_data_dir(
            "cifar", os.path.join(p, "nowhere")), D.DataNotFoundError, r"nowhere",
            who=r"data_dir"),
        Bad("to_float32", "text images", lambda: D.to_float32(["a", "b"]), ValueError, r"'a'",
            who=r"to_float32"),
        Bad("to_float32", "text scale", lambda: D.to_float32(np.zeros(2, np.uint8), "x"),
            TypeError, r"'x'", who=r"to_float32"),
        Bad("read_idx_images", "wrong magic", lambda: D.read_idx_images(
            idx_file(os.path.join(p, "m"), 2049, (2, 4, 4), 32)), D.DataError,
            r"magic number 2049", who=r"\bm\b"),
        Bad("read_idx_images", "missing file", lambda: D.read_idx_images(
            os.path.join(p, "gone.idx")), D.DataNotFoundError, r"not found",
            who=r"gone\.idx"),
        Bad("read_idx_labels", "label out of range", lambda: D.read_idx_labels(
            write(os.path.join(p, "l"), (2049).to_bytes(4, "big") + (2).to_bytes(4, "big")
                  + bytes([1, 12])), num_classes=10), D.DataError, r"label 12",
            who=r"\bl\b"),
        Bad("read_idx_labels", "trailing bytes", lambda: D.read_idx_labels(
            idx_file(os.path.join(p, "t"), 2049, (2,), 5)), D.DataError, r"3 unexpected",
            who=r"\bt\b"),
        Bad("read_mnist_pair", "counts differ", lambda: D.read_mnist_pair(
            idx_file(os.path.join(p, "pi"), 2051, (3, 2, 2), 12),
            idx_file(os.path.join(p, "pl"), 2049, (2,), 2)), D.DataError, r"3 images.*2 labels",
            who=r"pi"),
        Bad("load_mnist", "missing folder", lambda: D.load_mnist(os.path.join(p, "none")),
            D.DataNotFoundError, r"none", who=r"data_dir"),
        Bad("load_mnist", "labels of wrong magic", lambda: D.load_mnist(
            mnist_dir_with_bad_labels(p), verify=False), D.DataError, r"magic number 7",
            who=r"train-labels"),
        Bad("load_mnist_float", "missing folder",
            lambda: D.load_mnist_float(os.path.join(p, "none2")), D.DataNotFoundError,
            r"none2", who=r"data_dir"),
        Bad("mnist_split", "missing folder", lambda: D.mnist_split(os.path.join(p, "none3")),
            D.DataNotFoundError, r"none3", who=r"data_dir"),
        Bad("mnist_split", "negative validation size",
            lambda: D.mnist_split(num_valid=-5), ValueError, r"-5", who=r"mnist_split"),
        Bad("read_cifar10_batch", "partial record", lambda: D.read_cifar10_batch(
            write(os.path.join(p, "c.bin"), bytes(3000))), D.DataError, r"3000 bytes",
            who=r"c\.bin"),
        Bad("read_cifar10_batch", "label out of range", lambda: D.read_cifar10_batch(
            write(os.path.join(p, "d.bin"), bytes([11]) + bytes(3072))), D.DataError,
            r"label 11", who=r"d\.bin"),
        Bad("load_cifar10", "missing folder", lambda: D.load_cifar10(os.path.join(p, "x")),
            D.DataNotFoundError, r"\bx\b", who=r"data_dir"),
        Bad("cifar10_class_names", "missing folder",
            lambda: D.cifar10_class_names(os.path.join(p, "y")), D.DataNotFoundError,
            r"\by\b", who=r"data_dir"),
        Bad("DataLoader", "zero batch size", lambda: D.DataLoader(X, Y, batch_size=0),
            ValueError, r"batch_size.*0"),
        Bad("DataLoader", "counts differ", lambda: D.DataLoader(X, Y[:7]), ValueError,
            r"10.*7"),
        Bad("DataLoader", "negative seed", lambda: D.DataLoader(X, Y, seed=-1), ValueError,
            r"-1"),
        Bad("DataLoader", "negative prefetch", lambda: D.DataLoader(X, Y, prefetch=-2),
            ValueError, r"-2"),
        Bad("DataLoader", "x of None", lambda: D.DataLoader(None, Y), TypeError, r"NoneType"),
        Bad("BatchIterator", "a number of batches", lambda: iterate(D.BatchIterator(5, 1, 0)),
            TypeError, r"got 5", who=r"BatchIterator"),
        Bad("minibatches", "zero batch size", lambda: D.minibatches(X, Y, batch_size=0),
            ValueError, r"batch_size.*0", who=r"minibatches"),
        Bad("ImageBatchIter", "zero batch size", lambda: D.ImageBatchIter("l.txt", 0, list),
            ValueError, r"batch_size.*0"),
        Bad("ImageBatchIter", "transform not callable",
            lambda: D.ImageBatchIter("l.txt", 2, None), TypeError, r"NoneType"),
        Bad("ShardError", "missing index", lambda: D.load_index(os.path.join(p, "s")),
            D.ShardError, r"no shard index", who=r"index\.json"),
        Bad("load_index", "not json", lambda: D.load_index(os.path.dirname(write(
            os.path.join(p, "index.json"), b"{oops")) if os.path.isdir(p) else p),
            D.ShardError, r"index\.json", who=r"index\.json"),
        Bad("read_shard", "garbage", lambda: D.read_shard(write(os.path.join(p, "g.shard"),
                                                                b"x" * 100)),
            D.ShardError, r"g\.shard", who=r"g\.shard"),
        Bad("read_shard_header", "truncated", lambda: D.read_shard_header(write(
            os.path.join(p, "h.shard"), b"SHRD")), D.ShardError, r"h\.shard",
            who=r"h\.shard"),
        Bad("write_shard", "float images", lambda: D.write_shard(
            os.path.join(p, "w.shard"), np.zeros((2, 4, 4, 3), np.float32), [0, 1]),
            ValueError, r"float32", who=r"write_shard"),
        Bad("write_shard", "labels count", lambda: D.write_shard(
            os.path.join(p, "w2.shard"), np.zeros((2, 4, 4, 3), np.uint8), [0]), ValueError,
            r"\(1,\)", who=r"write_shard"),
        Bad("write_shards", "zero shard size", lambda: D.write_shards(
            os.path.join(p, "imgs"), os.path.join(p, "out"), shard_size=0), ValueError,
            r"shard_size.*0", who=r"write_shards"),
        Bad("write_shards_from_arrays", "negative label", lambda: D.write_shards_from_arrays(
            np.zeros((2, 4, 4), np.uint8), np.array([0, -1]), os.path.join(p, "o")),
            ValueError, r"-1|>= 0", who=r"write_shards_from_arrays"),
        Bad("write_shards_from_arrays", "float images", lambda: D.write_shards_from_arrays(
            np.zeros((2, 4, 4), np.float64), np.array([0, 1]), os.path.join(p, "o2")),
            ValueError, r"float64", who=r"write_shards_from_arrays"),
        Bad("ShardLoader", "missing index", lambda: D.ShardLoader(os.path.join(p, "q"), 4),
            D.ShardError, r"no shard index", who=r"index\.json"),
    ]


EXEMPT = {
    "ENV_VAR": "a constant: the name of the environment variable of the data folder",
    "KNOWN_SHA256": "a constant: the checksums of the official files",
    "CIFAR10_CLASSES": "a constant: the ten CIFAR-10 class names",
    "BadImageWarning": "a warning class: write_shards issues it for an undecodable image",
}

CASE_IDS = [c.id for c in case_list(None)]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_bad_input(index, tmp_path):
    check(case_list(tmp_path)[index])


def test_every_public_name_has_bad_input_cases():
    check_coverage(D, case_list(None), EXEMPT)
