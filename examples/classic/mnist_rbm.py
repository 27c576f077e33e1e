"""RBM on MNIST with the classic API (the "RBM Example" of SINGA's Python binding).

The document trains RBM number 3 of a stack (``out_dim=[1000, 500, 250]``) for 6000
steps. Lower levels come from the checkpoints of earlier runs (``--rbmid 1`` then
``--rbmid 2`` ...) when they exist; otherwise this run trains them first, ``--steps``
steps each. ``nb_epoch`` counts training steps (mini-batches of 100).

Default run: 3 levels x 150 steps (the document: 6000 steps for the top level).

    PYTHONPATH=python python examples/classic/mnist_rbm.py [--steps N] [--rbmid K]
"""

import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "python"))

from singa.classic import (Cluster, Energy, RBM, SGD)  # noqa: E402
from singa.classic.datasets import mnist  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=150, help="CD steps per level (doc: 6000)")
    p.add_argument("--rbmid", type=int, default=3, help="the RBM job number (1..4)")
    p.add_argument("--workspace", default=None, help="job folder (default rbm<rbmid>)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    rbmid = args.rbmid
    X_train, X_test, workspace = mnist.load_data(nb_rbm=rbmid, workspace=args.workspace)
    m = Energy('rbm' + str(rbmid), [sys.argv[0]] + list(argv or []))
    m.verbose = not args.quiet

    out_dim = [1000, 500, 250, 30][:rbmid]
    m.add(RBM(out_dim, w_std=0.1, b_wd=0))

    sgd = SGD(lr=0.1, decay=0.0002, momentum=0.8)
    topo = Cluster(workspace)
    m.compile(optimizer=sgd, cluster=topo)
    result = m.fit(X_train, alg='cd', nb_epoch=args.steps)
    test = m.evaluate(X_test, batch_size=100, test_steps=10)
    return result, test


if __name__ == "__main__":
    main(sys.argv[1:])
