"""MNIST for the classic API (the bundled IDX files, read by singa.data)."""

import os

from ...data import load_mnist
from ..cluster import Data
from . import workspace_root

__all__ = ["load_data"]


def load_data(workspace=None, nb_rbm=0, checkpoint_steps=0, data_dir=None, batch_size=None,
              test_batch_size=100, **fields):
    """Returns ``(X_train, X_test, workspace)``.

    Images are flattened to 784 values scaled to [0, 1] (x / 255, SINGA's
    ``std_value=255``).

    Args:
        workspace: the job folder; default ``<workspace root>/mnist``, or
            ``<root>/rbm<nb_rbm>`` for the RBM/autoencoder jobs.
        nb_rbm: the RBM job number: ``X_train.checkpoint`` then names the workspaces of
            RBMs 1..nb_rbm-1, whose newest checkpoints initialise the lower levels (see
            Energy.fit and the Autoencoder).
        checkpoint_steps: if > 0, use ``step<checkpoint_steps>-worker0`` of those
            workspaces instead of the newest.
        data_dir: where the MNIST files are (default the bundled copy).
        batch_size: training batch size (64, or 100 for the RBM/autoencoder jobs).
        test_batch_size: test batch size.
    """
    root = workspace_root()
    nb_rbm = int(nb_rbm)
    if workspace is None:
        workspace = os.path.join(root, "rbm{}".format(nb_rbm) if nb_rbm > 0 else "mnist")
    os.makedirs(workspace, exist_ok=True)
    (xtr, ytr), (xte, yte) = load_mnist(data_dir)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    checkpoints = None
    if nb_rbm > 1:
        base = os.path.dirname(os.path.abspath(workspace))
        checkpoints = []
        for i in range(nb_rbm - 1, 0, -1):  # newest (highest) RBM first
            ws = os.path.join(base, "rbm{}".format(i))
            if checkpoint_steps:
                checkpoints.append(os.path.join(ws, "checkpoint",
                                                "step{}-worker0".format(checkpoint_steps)))
            else:
                checkpoints.append(ws)
    bs = batch_size or (100 if nb_rbm > 0 else 64)
    X_train = Data(load="memory", phase="train", x=xtr, y=ytr, batch_size=bs, std=255.0,
                   checkpoint=checkpoints, workspace=workspace, **fields)
    X_test = Data(load="memory", phase="test", x=xte, y=yte, batch_size=test_batch_size,
                  std=255.0, workspace=workspace)
    return X_train, X_test, workspace
