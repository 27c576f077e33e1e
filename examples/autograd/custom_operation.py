"""Writing a new autograd Operation in Python, checking it, and training with it.

GELU (tanh approximation) is defined below as a subclass of ``autograd.Operation``
whose forward and backward work on core tensors (``singa_wrap.Tensor``) with the
core's functions. ``singa.testing.gradcheck`` compares its backward with central
differences, and a 2-layer MLP that uses it learns a two-class problem (two
concentric rings, which no linear model separates) with plain SGD:

    python examples/autograd/custom_operation.py --steps 300
"""

import argparse
import math

import numpy as np

from singa import autograd, singa_wrap, tensor, testing

_C = math.sqrt(2.0 / math.pi)
_A = 0.044715


class GELU(autograd.Operation):
    """y = 0.5 x (1 + tanh(c (x + a x^3))), c = sqrt(2 / pi), a = 0.044715."""

    def forward(self, x):
        x3 = singa_wrap.__mul__(singa_wrap.Square(x), x)
        u = singa_wrap.MultFloat(singa_wrap.__add__(x, singa_wrap.MultFloat(x3, _A)), _C)
        t = singa_wrap.Tanh(u)
        # Kept only when a backward pass can follow (grad mode on, an input needs a grad).
        self.save(x=x, t=t)
        return singa_wrap.MultFloat(singa_wrap.__mul__(x, singa_wrap.AddFloat(t, 1.0)), 0.5)

    def backward(self, dy):
        x, t = self.x, self.t
        # dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)
        sech2 = singa_wrap.AddFloat(singa_wrap.MultFloat(singa_wrap.Square(t), -1.0), 1.0)
        du = singa_wrap.MultFloat(
            singa_wrap.AddFloat(singa_wrap.MultFloat(singa_wrap.Square(x), 3.0 * _A), 1.0), _C)
        d = singa_wrap.__add__(singa_wrap.AddFloat(t, 1.0),
                               singa_wrap.__mul__(singa_wrap.__mul__(x, sech2), du))
        return singa_wrap.__mul__(dy, singa_wrap.MultFloat(d, 0.5))


def gelu(x):
    return GELU()(x)[0]


def rings(n, rng):
    """Two classes on concentric rings of radius 1 and 2 (with noise)."""
    labels = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + labels + rng.normal(0, 0.15, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x.astype(np.float32), labels.astype(np.int32)


def param(shape, std, rng):
    return tensor.Tensor(data=(rng.normal(0, std, shape)).astype(np.float32),
                         requires_grad=True, stores_grad=True)


def train(steps=300, lr=0.5, hidden=16, n=400, seed=0, log_every=50, verbose=True):
    """Trains a 2-hidden-16-2 MLP with GELU on the rings; returns (losses, accuracy)."""
    rng = np.random.default_rng(seed)
    x_np, y_np = rings(n, rng)
    x, y = tensor.from_numpy(x_np), tensor.from_numpy(y_np)
    w1, b1 = param((2, hidden), 1.0, rng), param((hidden,), 0.0, rng)
    w2, b2 = param((hidden, 2), 1.0 / math.sqrt(hidden), rng), param((2,), 0.0, rng)

    def forward(inp):
        h = gelu(autograd.add_bias(autograd.matmul(inp, w1), b1))
        return autograd.add_bias(autograd.matmul(h, w2), b2)

    autograd.training = True
    losses = []
    for step in range(steps):
        loss = autograd.softmax_cross_entropy(forward(x), y)
        losses.append(float(tensor.to_numpy(loss)[0]))
        # Each parameter's gradient arrives as soon as it is final: update it at once.
        for p, g in autograd.backward(loss):
            singa_wrap.Axpy(-lr, g.data, p.data)
        if verbose and (step % log_every == 0 or step == steps - 1):
            print("step {:4d}  loss {:.4f}".format(step, losses[-1]))
    autograd.training = False
    pred = tensor.to_numpy(forward(x)).argmax(axis=1)
    accuracy = float((pred == y_np).mean())
    if verbose:
        print("final accuracy {:.3f}".format(accuracy))
    return losses, accuracy


def check_gradient():
    """GELU's backward against central differences (float64)."""
    x = np.linspace(-3, 3, 13).reshape(1, 13)
    return testing.gradcheck(gelu, [x])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("gradcheck(GELU):", check_gradient())
    train(args.steps, args.lr, seed=args.seed)


if __name__ == "__main__":
    main()
