"""MNIST: IDX file readers, the standard train/test loader and the Lasagne split."""

import os

import numpy as np

from ..errors import named_entry
from ._common import DataError, find_data_dir, find_file, read_file, to_float32
from .sharding import partition_arrays

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx_images", "read_idx_labels",
           "read_mnist_pair", "load_mnist", "load_mnist_float", "mnist_split"]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _candidates(stem):
    # The official names; old mirrors also use a dot before "idx".
    dotted = stem.replace("-idx", ".idx")
    return [stem + ".gz", stem, dotted + ".gz", dotted]


def _header(path, data, magic, ndim):
    """Check the magic number and return the ``ndim`` dimensions of an IDX file."""
    head = 4 + 4 * ndim
    if len(data) < head:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, "
                        f"need {head})")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise DataError(f"{path}: bad IDX magic number {got} (expected {magic}); "
                        "not an MNIST " + ("image" if magic == IMAGES_MAGIC
                                          else "label") + " file")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    want = head + int(np.prod(dims, dtype=np.int64))
    if len(data) < want:
        raise DataError(f"{path}: truncated data: header says {dims} "
                        f"({want} bytes) but the file holds {len(data)} bytes")
    if len(data) > want:
        raise DataError(f"{path}: {len(data) - want} unexpected trailing bytes "
                        f"after the {dims} data the header declares")
    return dims, head


def read_idx_images(path, verify=True):
    """Read an IDX image file (gzip or raw).

    Args:
        path: file path.
        verify: check the SHA-256 when the file name is a known official file.

    Returns:
        uint8 array of shape (N, rows, cols).
    """
    path = os.fspath(path)
    data = read_file(path, verify)
    (n, rows, cols), off = _header(path, data, IMAGES_MAGIC, 3)
    return np.frombuffer(data, np.uint8, offset=off).reshape(n, rows, cols).copy()


def read_idx_labels(path, verify=True, num_classes=10):
    """Read an IDX label file (gzip or raw).

    Args:
        path: file path.
        verify: check the SHA-256 when the file name is a known official file.
        num_classes: labels must lie in ``0..num_classes-1`` (None: no check).

    Returns:
        uint8 array of shape (N,).
    """
    path = os.fspath(path)
    data = read_file(path, verify)
    (n,), off = _header(path, data, LABELS_MAGIC, 1)
    labels = np.frombuffer(data, np.uint8, offset=off).copy()
    if num_classes is not None and n and labels.max() >= num_classes:
        i = int(np.argmax(labels >= num_classes))
        raise DataError(f"{path}: label {labels[i]} at index {i} is out of range "
                        f"0..{num_classes - 1}")
    return labels


def read_mnist_pair(images_path, labels_path, verify=True):
    """Read matching image and label files; DataError if their counts differ.

    Returns:
        (images uint8 (N, 28, 28), labels int32 (N,)).
    """
    x = read_idx_images(images_path, verify)
    y = read_idx_labels(labels_path, verify)
    if len(x) != len(y):
        raise DataError(f"{images_path} holds {len(x)} images but {labels_path} "
                        f"holds {len(y)} labels")
    return x, y.astype(np.int32)


def load_mnist(data_dir=None, verify=True, shard=False, rank=None, world_size=None):
    """Load the MNIST training and test sets.

    Args:
        data_dir: folder with the four IDX files (gzip or raw), or a parent with
            an ``mnist/`` folder; default ``$SINGA_DATA_DIR`` or the bundled
            ``examples/data/mnist``.
        verify: check SHA-256 checksums of the official files.
        shard: return only this rank's contiguous part of every split (each rank
            the same count, the remainder dropped), the rank and job size taken
            from the launcher (``singa.dist.launch_info``). Off by default: the
            loaders (DataLoader, ShardLoader) already shard by rank.
        rank, world_size: shard for this rank of this many (implies ``shard``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28) and
        int32 labels (N,); N is 60,000 and 10,000 for the official files.
    """
    d = find_data_dir(["mnist", "MNIST"], data_dir)
    out = []
    for part in ("train", "test"):
        img, lab = _FILES[part]
        out.append(read_mnist_pair(find_file(d, _candidates(img), f"MNIST {part} images"),
                                   find_file(d, _candidates(lab), f"MNIST {part} labels"),
                                   verify))
    return partition_arrays(out, shard, rank, world_size, "load_mnist")


def load_mnist_float(data_dir=None, verify=True, flatten=False, shard=False, rank=None,
                     world_size=None):
    """Like load_mnist, with float32 images scaled to [0, 1].

    Args:
        flatten: return images as (N, 784) instead of (N, 28, 28).
        shard: return only this rank's contiguous part of every split (each rank
            the same count, the remainder dropped), the rank and job size taken
            from the launcher (``singa.dist.launch_info``). Off by default: the
            loaders (DataLoader, ShardLoader) already shard by rank.
        rank, world_size: shard for this rank of this many (implies ``shard``).
    """
    (xtr, ytr), (xte, yte) = partition_arrays(load_mnist(data_dir, verify), shard, rank,
                                              world_size, "load_mnist_float")
    if flatten:
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    return (to_float32(xtr), ytr), (to_float32(xte), yte)


@named_entry("mnist_split")
def mnist_split(data_dir=None, num_valid=10000, normalize=True, flatten=False,
                verify=True, shard=False, rank=None, world_size=None):
    """The Lasagne split: train / validation / test.

    The validation set is the last ``num_valid`` samples of the training file,
    so the official files give 50,000 / 10,000 / 10,000.

    Args:
        data_dir: as for load_mnist.
        num_valid: size of the validation set taken from the end of train.
        normalize: float32 images in [0, 1] (else the raw uint8).
        flatten: images as (N, 784) instead of (N, 28, 28).
        verify: check SHA-256 checksums.
        shard: return only this rank's contiguous part of every split (each rank
            the same count, the remainder dropped), the rank and job size taken
            from the launcher (``singa.dist.launch_info``). Off by default: the
            loaders (DataLoader, ShardLoader) already shard by rank.
        rank, world_size: shard for this rank of this many (implies ``shard``).
            The split is made first, so every rank's validation part comes from
            the same last ``num_valid`` samples.

    Returns:
        ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.
    """
    if normalize:
        (xtr, ytr), (xte, yte) = load_mnist_float(data_dir, verify, flatten)
    else:
        (xtr, ytr), (xte, yte) = load_mnist(data_dir, verify)
        if flatten:
            xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    if not 0 <= num_valid < len(xtr):
        raise ValueError(f"num_valid must be in [0, {len(xtr)}), got {num_valid}")
    cut = len(xtr) - num_valid
    splits = ((xtr[:cut], ytr[:cut]), (xtr[cut:], ytr[cut:]), (xte, yte))
    if num_valid == 0:  # an empty validation split has no part to give each rank
        first, _, last = partition_arrays((splits[0], splits[2]), shard, rank, world_size,
                                          "mnist_split")
        return first, splits[1], last
    return partition_arrays(splits, shard, rank, world_size, "mnist_split")

