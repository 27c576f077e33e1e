"""Datasets and mini-batch loading (pure Python + NumPy).

- MNIST: ``load_mnist``, ``load_mnist_float``, ``mnist_split`` and the IDX
  readers ``read_idx_images`` / ``read_idx_labels``.
- CIFAR-10: ``load_cifar10``, ``read_cifar10_batch``, ``cifar10_class_names``.
- Iteration: ``DataLoader`` and ``minibatches`` (seeded shuffling, background
  prefetch).

Data are looked up in ``data_dir`` if given, else ``$SINGA_DATA_DIR``, else the
``examples/data/`` folder bundled with the repository. Malformed or corrupted
files raise ``DataError`` (a ``ValueError``) naming the file.
"""

from ._common import (DataError, DataNotFoundError, ENV_VAR, KNOWN_SHA256,
                      find_data_dir, to_float32)
from .cifar10 import (CLASS_NAMES as CIFAR10_CLASSES, cifar10_class_names,
                      load_cifar10, read_cifar10_batch)
from .loader import BatchIterator, DataLoader, minibatches
from .mnist import (load_mnist, load_mnist_float, mnist_split, read_idx_images,
                    read_idx_labels, read_mnist_pair)

__all__ = [
    "DataError", "DataNotFoundError", "ENV_VAR", "KNOWN_SHA256", "find_data_dir",
    "to_float32",
    "load_mnist", "load_mnist_float", "mnist_split", "read_idx_images",
    "read_idx_labels", "read_mnist_pair",
    "load_cifar10", "read_cifar10_batch", "cifar10_class_names", "CIFAR10_CLASSES",
    "DataLoader", "BatchIterator", "minibatches",
]

# Macrobatch shards on disk and the streaming loader over them.
from .shards import (BadImageWarning, ShardError, load_index, read_shard,
                     read_shard_header, write_shard, write_shards,
                     write_shards_from_arrays)
from .stream import ShardLoader

__all__ += [
    "ShardError", "BadImageWarning", "load_index", "read_shard", "read_shard_header",
    "write_shard", "write_shards", "write_shards_from_arrays", "ShardLoader",
]
