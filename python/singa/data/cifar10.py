"""CIFAR-10 binary batches: reader, loader and class names."""

import os

import numpy as np

from ._common import DataError, DataNotFoundError, find_data_dir, find_file, read_file
from .sharding import partition_arrays

__all__ = ["RECORD_BYTES", "NUM_CLASSES", "CLASS_NAMES", "read_cifar10_batch", "load_cifar10",
           "cifar10_class_names"]

RECORD_BYTES = 1 + 3 * 32 * 32  # one label byte, then the R, G and B planes
NUM_CLASSES = 10
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
               "horse", "ship", "truck")

_DIR_NAMES = ["cifar-10", "cifar-10-batches-bin", "cifar10"]
_FULL_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
_SUBSET_TRAIN = ["data_batch_1_first4000.bin"]


def read_cifar10_batch(path, verify=True):
    """Read one CIFAR-10 binary batch (any number of 3073-byte records).

    Args:
        path: a ``.bin`` batch (full, or a prefix such as the bundled subset).
        verify: check the SHA-256 when the file name is a known file.

    Returns:
        (images uint8 (N, 3, 32, 32) in CHW order, labels int32 (N,)).
    """
    path = os.fspath(path)
    data = read_file(path, verify)
    if len(data) == 0:
        raise DataError(f"{path}: empty CIFAR-10 batch")
    if len(data) % RECORD_BYTES:
        raise DataError(f"{path}: size {len(data)} bytes is not a multiple of the "
                        f"{RECORD_BYTES}-byte CIFAR-10 record (truncated or not a "
                        "CIFAR-10 binary batch)")
    rec = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    labels = rec[:, 0].astype(np.int32)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: label {labels[i]} in record {i} is out of range "
                        f"0..{NUM_CLASSES - 1} ({bad.size} bad records)")
    images = rec[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, labels


def _read_many(paths, verify):
    parts = [read_cifar10_batch(p, verify) for p in paths]
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]))


def load_cifar10(data_dir=None, verify=True, shard=False, rank=None, world_size=None):
    """Load CIFAR-10 training and test data.

    Uses the official ``data_batch_1..5.bin`` / ``test_batch.bin`` when present
    (the training batches that exist, in order), else the bundled subset
    (``data_batch_1_first4000.bin``, ``test_batch_first1000.bin``).

    Args:
        data_dir: folder with the batches, or a parent holding ``cifar-10/`` or
            ``cifar-10-batches-bin/``; default ``$SINGA_DATA_DIR`` or the
            bundled ``examples/data/cifar-10``.
        verify: check SHA-256 checksums of known files.
        shard: return only this rank's contiguous part of both splits (each rank
            the same count, the remainder dropped), the rank and job size taken
            from the launcher (``singa.dist.launch_info``). Off by default: the
            loaders (DataLoader, ShardLoader) already shard by rank.
        rank, world_size: shard for this rank of this many (implies ``shard``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 3, 32, 32)
        and int32 labels (N,).
    """
    d = find_data_dir(_DIR_NAMES, data_dir)
    train = [os.path.join(d, n) for n in _FULL_TRAIN if os.path.isfile(os.path.join(d, n))]
    if not train:
        train = [find_file(d, _SUBSET_TRAIN, "CIFAR-10 training batch")]
    test = find_file(d, ["test_batch.bin", "test_batch_first1000.bin"],
                     "CIFAR-10 test batch")
    return partition_arrays((_read_many(train, verify), read_cifar10_batch(test, verify)),
                            shard, rank, world_size, "load_cifar10")


def cifar10_class_names(data_dir=None, verify=True):
    """The ten class names, read from ``batches.meta.txt`` (one per line).

    Falls back to the standard names when the folder has no such file.
    """
    d = find_data_dir(_DIR_NAMES, data_dir)
    try:
        path = find_file(d, ["batches.meta.txt"], "CIFAR-10 class names")
    except DataNotFoundError:
        return list(CLASS_NAMES)
    text = read_file(path, verify).decode("utf-8", errors="replace")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != NUM_CLASSES:
        raise DataError(f"{path}: expected {NUM_CLASSES} class names, found {len(names)}")
    return names
