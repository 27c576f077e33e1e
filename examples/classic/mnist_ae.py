"""Deep autoencoder on MNIST with the classic API (the "AutoEncoder Example").

784-1000-500-250-30 encoder with tied (``param_share=True``) decoder weights, sigmoid
units (the 30-d code is linear), AdaGrad(lr=0.01), mean squared error. When the RBM
example has been run for RBMs 1..4 (``mnist_rbm.py --rbmid 4`` leaves all four
levels in the ``rbm4`` workspace) the encoder starts from those weights, as in the
document; otherwise from gaussian(0, 0.01) weights. ``nb_epoch`` counts training
steps (mini-batches of 100).

Default run: 400 steps (the document: 12200).

    PYTHONPATH=python python examples/classic/mnist_ae.py [--steps N]
"""

import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "python"))

from singa.classic import (AdaGrad, Autoencoder, Cluster, Sequential)  # noqa: E402
from singa.classic.datasets import mnist  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=400, help="training steps (doc: 12200)")
    p.add_argument("--workspace", default=None)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    rbmid = 4
    X_train, X_test, workspace = mnist.load_data(nb_rbm=rbmid + 1, workspace=args.workspace)
    m = Sequential('autoencoder', [sys.argv[0]] + list(argv or []))
    m.verbose = not args.quiet

    hid_dim = [1000, 500, 250, 30]
    m.add(Autoencoder(hid_dim, out_dim=784, activation='sigmoid', param_share=True))

    agd = AdaGrad(lr=0.01)
    topo = Cluster(workspace)
    m.compile(loss='mean_squared_error', optimizer=agd, cluster=topo)
    result = m.fit(X_train, alg='bp', nb_epoch=args.steps)
    test = m.evaluate(X_test, batch_size=100, test_steps=10)
    return result, test


if __name__ == "__main__":
    main(sys.argv[1:])
