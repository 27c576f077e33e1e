"""CNN on CIFAR-10 with the classic API (the "CNN Example" of SINGA's Python binding).

The document's network (Caffe's cifar10 "full" net): three 5x5 convolutions (32, 32,
64 filters, padding 2) with max/average 3x3 stride-2 pooling, ReLU and LRN, then a
softmax layer with weight decay multiplier 250; SGD with weight decay 0.004 and the
'manual' schedule (lr 0.001 until step 60000, then 0.0001, then 0.00001).

Deviations: ``nb_epoch`` counts training steps (mini-batches of 64); the document
trains 1000 steps and tests 30 batches of 1000 every 300 steps, the default here is
150 steps, testing 10 batches of 100 every 50 (``--steps``, ``--test-freq``). SGD
momentum 0.9 is added (as the interactive document's CNN has it); ``--momentum 0``
restores the document's updater. The bundled data are the first 4,000 training and
1,000 test images of CIFAR-10 (point SINGA_DATA_DIR at the full batches to use them).
Pooling rounds output sizes down (32-16-... become 15, 7, 3), where Caffe rounds up.

    PYTHONPATH=python python examples/classic/cifar10_cnn.py [--steps N]
"""

import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "python"))

from singa.classic import (Activation, AvgPooling2D, Cluster, Convolution2D, Dense, LRN2D,
                           MaxPooling2D, SGD, Sequential)  # noqa: E402
from singa.classic.datasets import cifar10  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=150, help="training steps (doc: 1000)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (doc: none)")
    p.add_argument("--test-batch", type=int, default=100, help="doc: 1000")
    p.add_argument("--test-steps", type=int, default=10, help="doc: 30")
    p.add_argument("--test-freq", type=int, default=50, help="doc: 300")
    p.add_argument("--lr-scale", type=float, default=1.0,
                   help="multiplies the document's step_lr (tests use 10 to learn fast)")
    p.add_argument("--workspace", default=None)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    X_train, X_test, workspace = cifar10.load_data(workspace=args.workspace)

    m = Sequential('cnn', [sys.argv[0]] + list(argv or []))
    m.verbose = not args.quiet

    m.add(Convolution2D(32, 5, 1, 2, w_std=0.0001, b_lr=2))
    m.add(MaxPooling2D(pool_size=(3,3), stride=2))
    m.add(Activation('relu'))
    m.add(LRN2D(3, alpha=0.00005, beta=0.75))

    m.add(Convolution2D(32, 5, 1, 2, b_lr=2))
    m.add(Activation('relu'))
    m.add(AvgPooling2D(pool_size=(3,3), stride=2))
    m.add(LRN2D(3, alpha=0.00005, beta=0.75))

    m.add(Convolution2D(64, 5, 1, 2))
    m.add(Activation('relu'))
    m.add(AvgPooling2D(pool_size=(3,3), stride=2))

    m.add(Dense(10, w_wd=250, b_lr=2, b_wd=0, activation='softmax'))

    s = args.lr_scale
    sgd = SGD(decay=0.004, momentum=args.momentum, lr_type='manual', step=(0,60000,65000),
              step_lr=(0.001*s, 0.0001*s, 0.00001*s))
    topo = Cluster(workspace)
    m.compile(updater=sgd, cluster=topo)
    m.fit(X_train, nb_epoch=args.steps, with_test=True)
    result = m.evaluate(X_test, args.test_batch, test_steps=args.test_steps,
                        test_freq=args.test_freq)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
