"""CIFAR-10 for the classic API (the bundled subset or the full batches, via singa.data)."""

import os

import numpy as np

from ...data import load_cifar10
from ..cluster import Data
from . import workspace_root

__all__ = ["load_data"]


def load_data(workspace=None, data_dir=None, batch_size=64, test_batch_size=100, **fields):
    """Returns ``(X_train, X_test, workspace)``.

    Images are (3, 32, 32) with the training set's mean image subtracted (raw 0..255
    scale), as SINGA's CIFAR-10 job does. The bundled data are the first 4,000 training
    and 1,000 test images; point ``data_dir`` (or ``$SINGA_DATA_DIR``) at the official
    binary batches for the full set.
    """
    if workspace is None:
        workspace = os.path.join(workspace_root(), "cifar10")
    os.makedirs(workspace, exist_ok=True)
    (xtr, ytr), (xte, yte) = load_cifar10(data_dir)
    mean = xtr.astype(np.float32).mean(axis=0)
    X_train = Data(load="memory", phase="train", x=xtr, y=ytr, batch_size=batch_size,
                   mean=mean, workspace=workspace, **fields)
    X_test = Data(load="memory", phase="test", x=xte, y=yte, batch_size=test_batch_size,
                  mean=mean, workspace=workspace)
    return X_train, X_test, workspace
