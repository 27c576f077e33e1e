"""Interactive training of an MLP on MNIST (SINGA's "Interactive Training using Python").

The loop of the document: Feed a batch, ComputeFeature through the layer list ``nn``,
the softmax loss against the labels, display every ``disp_freq`` steps, then
ComputeGradient in reverse order with ``sgd.Update(i+1, nn[h])`` after each layer.
The network and updater are the document's (stanh MLP 2500-2000-1500-1000-500-10,
uniform init, SGD lr=0.001 'step').

Deviations: the document runs one pass (937 steps of 64); the default here is
``--steps 120``. With the document's lr=0.001 and no momentum the loss falls slowly;
``--lr 0.02 --momentum 0.9`` trains much faster. Parameters are saved with
``save_model_parameter`` at the end (``--checkpoint``).

    PYTHONPATH=python python examples/classic/train_mnist.py [--steps N]
"""

import argparse
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(here, "..", "..", "python"))

from singa.classic import (Activation, Dense, ImageInput, LabelInput, Loss, SGD,
                           save_model_parameter)  # noqa: E402
from singa.data import load_mnist  # noqa: E402


def load_dataset(train=True):
    """MNIST as x [N x 784] float32 in [0, 1] and y [N x 1] int labels."""
    (xtr, ytr), (xte, yte) = load_mnist()
    x, y = (xtr, ytr) if train else (xte, yte)
    return (x.reshape(len(x), -1).astype(np.float32) / 255.0), y.reshape(-1, 1)


def test_accuracy(nn, loss, label, x, y, bsize=500):
    """Accuracy of the net on (x, y), forward only."""
    from singa import autograd
    correct = 0
    for i in range(0, len(x), bsize):
        nn[0].Feed(x[i:i + bsize])
        label.Feed(y[i:i + bsize])
        with autograd.no_grad(), autograd.train(False):
            h = nn[0].output
            for layer in nn[1:]:
                h = layer(h)
        from singa import tensor
        correct += int((tensor.to_numpy(h).argmax(1) == y[i:i + bsize, 0]).sum())
    return correct / float(len(x))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=120, help="steps (doc: one pass, 937)")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--disp-freq", type=int, default=10)
    p.add_argument("--test-size", type=int, default=2000, help="test images to score")
    p.add_argument("--checkpoint", default=None, help="where to save the parameters")
    args = p.parse_args(argv)

    input = ImageInput(28, 28)  # image width and height
    label = LabelInput()

    nn = []
    nn.append(input)
    nn.append(Dense(2500, init='uniform'))
    nn.append(Activation('stanh'))
    nn.append(Dense(2000, init='uniform'))
    nn.append(Activation('stanh'))
    nn.append(Dense(1500, init='uniform'))
    nn.append(Activation('stanh'))
    nn.append(Dense(1000, init='uniform'))
    nn.append(Activation('stanh'))
    nn.append(Dense(500, init='uniform'))
    nn.append(Activation('stanh'))
    nn.append(Dense(10, init='uniform'))
    loss = Loss('softmaxloss')

    sgd = SGD(lr=args.lr, lr_type='step', momentum=args.momentum)

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

    xt, yt = load_dataset(train=False)
    acc = test_accuracy(nn, loss, label, xt[:args.test_size], yt[:args.test_size])
    print("test accuracy on {} images: {:.4f}".format(min(args.test_size, len(xt)), acc))
    if args.checkpoint:
        save_model_parameter(nsteps, args.checkpoint, nn)
    return history, acc


if __name__ == "__main__":
    main(sys.argv[1:])
