"""Interactive training of a CNN on CIFAR-10 (SINGA's "Interactive Training using Python").

The document's CNN (three 5x5 convolutions with pooling, ReLU and LRN, a 10-way
dense layer, softmax loss) and updater (SGD with weight decay 0.004, momentum 0.9,
the 'manual' schedule 0.001 / 0.0001 / 0.00001 at steps 0 / 60000 / 65000), driven
step by step with Feed, ComputeFeature, ComputeGradient and Update.

Deviations: the document runs one pass over a 10,000-image batch (156 steps of 64);
the bundled subset has 4,000 training images, and the default here is ``--steps 60``.
Images are mean-subtracted (the training set's mean image), as SINGA's job does.

    PYTHONPATH=python python examples/classic/train_cifar10.py [--steps N]
"""

import argparse
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "python"))

from singa.classic import (Activation, AvgPooling2D, Convolution2D, Dense, ImageInput, LRN2D,
                           LabelInput, Loss, MaxPooling2D, SGD, save_model_parameter)  # noqa: E402
from singa.data import load_cifar10  # noqa: E402


def load_dataset(train=True):
    """CIFAR-10 as x [N x 3072] float32 (mean image subtracted) and y [N x 1]."""
    (xtr, ytr), (xte, yte) = load_cifar10()
    mean = xtr.reshape(len(xtr), -1).astype(np.float32).mean(axis=0)
    x, y = (xtr, ytr) if train else (xte, yte)
    return x.reshape(len(x), -1).astype(np.float32) - mean, y.reshape(-1, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60, help="steps (doc: one pass)")
    p.add_argument("--disp-freq", type=int, default=10)
    p.add_argument("--lr-scale", type=float, default=1.0,
                   help="multiplies the document's step_lr (tests use 10 to learn fast)")
    p.add_argument("--checkpoint", default=None, help="where to save the parameters")
    args = p.parse_args(argv)

    input = ImageInput(32, 32, 3) # image width, height, channel
    label = LabelInput()

    nn = []
    nn.append(input)
    nn.append(Convolution2D(32, 5, 1, 2, w_std=0.0001, b_lr=2))
    nn.append(MaxPooling2D(pool_size=(3,3), stride=2))
    nn.append(Activation('relu'))
    nn.append(LRN2D(3, alpha=0.00005, beta=0.75))
    nn.append(Convolution2D(32, 5, 1, 2, b_lr=2))
    nn.append(Activation('relu'))
    nn.append(AvgPooling2D(pool_size=(3,3), stride=2))
    nn.append(LRN2D(3, alpha=0.00005, beta=0.75))
    nn.append(Convolution2D(64, 5, 1, 2))
    nn.append(Activation('relu'))
    nn.append(AvgPooling2D(pool_size=(3,3), stride=2))
    nn.append(Dense(10, w_wd=250, b_lr=2, b_wd=0))
    loss = Loss('softmaxloss')

    s = args.lr_scale
    sgd = SGD(decay=0.004, momentum=0.9, lr_type='manual', step=(0,60000,65000), step_lr=(0.001*s, 0.0001*s, 0.00001*s))

    bsize = 64      # batchsize
    disp_freq = args.disp_freq  # step to show the training accuracy

    x, y = load_dataset()
    history = []
    nsteps = min(args.steps, x.shape[0] // bsize)

    for i in range(nsteps):

        # (Step1) Input data containing "bsize" samples
        xb, yb = x[i*bsize:(i+1)*bsize, :], y[i*bsize:(i+1)*bsize, :]
        nn[0].Feed(xb)
        label.Feed(yb)

        # (Step2-a) Transform data according to the neuralnet (nn) structure
        for h in range(1, len(nn)):
            nn[h].ComputeFeature(nn[h-1])

        # (Step2-b) Provide label to compute loss function
        loss.ComputeFeature(nn[-1], label)
        history.append((loss.loss, loss.accuracy))

        # (Step2-c) Print out performance, e.g., loss and accuracy
        if (i+1) % disp_freq == 0:
            print('  Step {:>3}: '.format(i+1), end='')
            loss.display()

        # (Step3) Compute gradient in a reverse order
        loss.ComputeGradient()
        for h in range(len(nn)-1, 0, -1):
            nn[h].ComputeGradient()
            # (Step 4) Update parameter
            sgd.Update(i+1, nn[h])

    if args.checkpoint:
        save_model_parameter(nsteps, args.checkpoint, nn)
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
