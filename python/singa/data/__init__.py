"""Datasets and mini-batch loading (pure Python + NumPy).

- MNIST: ``load_mnist``, ``load_mnist_float``, ``mnist_split`` and the IDX
  readers ``read_idx_images`` / ``read_idx_labels``.
- CIFAR-10: ``load_cifar10``, ``read_cifar10_batch``, ``cifar10_class_names``.
- Iteration: ``DataLoader`` and ``minibatches`` (seeded shuffling, background
  prefetch); SINGA's ``ImageBatchIter`` over a list file of images.

Data are looked up in ``data_dir`` if given, else ``$SINGA_DATA_DIR``, else the
``examples/data/`` folder bundled with the repository. Malformed or corrupted
files raise ``DataError`` (a ``ValueError``) naming the file.
"""

import sys as _sys
import types as _types

from ._common import (DataError, DataNotFoundError, ENV_VAR, KNOWN_SHA256,
                      find_data_dir, to_float32)
from .cifar10 import (CLASS_NAMES as CIFAR10_CLASSES, cifar10_class_names,
                      load_cifar10, read_cifar10_batch)
from .image_iter import ImageBatchIter
from .loader import BatchIterator, DataLoader, minibatches
from .mnist import (load_mnist, load_mnist_float, mnist_split, read_idx_images,
                    read_idx_labels, read_mnist_pair)

__all__ = [
    "DataError", "DataNotFoundError", "ENV_VAR", "KNOWN_SHA256", "find_data_dir",
    "to_float32",
    "load_mnist", "load_mnist_float", "mnist_split", "read_idx_images",
    "read_idx_labels", "read_mnist_pair",
    "load_cifar10", "read_cifar10_batch", "cifar10_class_names", "CIFAR10_CLASSES",
    "DataLoader", "BatchIterator", "minibatches", "ImageBatchIter",
]

# Macrobatch shards on disk and the streaming loader over them.
from .shards import (BadImageWarning, ShardError, load_index, read_shard,
                     read_shard_header, write_shard)
from .stream import ShardLoader

__all__ += [
    "ShardError", "BadImageWarning", "load_index", "read_shard", "read_shard_header",
    "write_shard", "write_shards", "write_shards_from_arrays", "ShardLoader",
]

# write_shards and write_shards_from_arrays live in the module singa.data.write_shards
# and are loaded on first use: importing that module here would make
# `python -m singa.data.write_shards` find it imported before it runs (and warn).
_WRITER_FUNCTIONS = ("write_shards", "write_shards_from_arrays")


def _shard_writer():
    """The module singa.data.write_shards, its functions bound to this package."""
    import importlib
    module = importlib.import_module(__name__ + ".write_shards")
    for name in _WRITER_FUNCTIONS:
        globals()[name] = getattr(module, name)
    return module


def __getattr__(name):
    if name in _WRITER_FUNCTIONS:
        return getattr(_shard_writer(), name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))


class _DataPackage(_types.ModuleType):
    """Keeps ``singa.data.write_shards`` the function: the import system binds every
    submodule it loads to its package under the submodule's name, which here would
    put the module singa.data.write_shards in place of the function."""

    def __setattr__(self, name, value):
        if name == "write_shards" and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _DataPackage
