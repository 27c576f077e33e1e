"""Datasets of the classic API: ``from singa.classic.datasets import mnist, cifar10``.

Each module's ``load_data()`` returns ``(X_train, X_test, workspace)``: two
:class:`~singa.classic.cluster.Data` sources over the bundled data (read with
``singa.data``) and the job's workspace folder.
"""

import os
import tempfile

from ... import config

ENV_WORKSPACE = config.CLASSIC_WORKSPACE


def workspace_root():
    """Where default workspaces live: ``$SINGA_CLASSIC_WORKSPACE``, else
    ``examples/classic/workspace`` of a source checkout, else a temp folder."""
    root = config.classic_workspace()
    if not root:
        here = os.path.dirname(os.path.abspath(__file__))
        repo = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
        ex = os.path.join(repo, "examples", "classic")
        if os.path.isdir(ex) and os.access(ex, os.W_OK):
            root = os.path.join(ex, "workspace")
        else:
            root = os.path.join(tempfile.gettempdir(), "singa-classic-workspace")
    os.makedirs(root, exist_ok=True)
    ignore = os.path.join(root, ".gitignore")
    if not os.path.exists(ignore):  # run outputs, never to be committed
        try:
            with open(ignore, "w") as f:
                f.write("*\n")
        except OSError:
            pass
    return root


from . import mnist, cifar10  # noqa: E402,F401

__all__ = ["mnist", "cifar10", "workspace_root", "ENV_WORKSPACE"]
