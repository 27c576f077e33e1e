"""Activations with parameters (ELU, SELU, leaky ReLU, hard sigmoid, clip) and softmax."""

from .. import singa_wrap as singa
from ..errors import ArgumentError
from ._util import as_float, full_like
from .engine import Operation

__all__ = ["Elu", "SeLU", "LeakyRelu", "HardSigmoid", "Clip", "SoftMax", "elu", "selu",
           "leakyrelu", "hardsigmoid", "clip", "softmax"]


class Elu(Operation):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    gamma = 1.0  # SeLU scales the ELU by gamma

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = as_float("Elu", "alpha", alpha)

    def forward(self, x):
        pos = singa.GTFloat(x, 0.0)
        neg = singa.MultFloat(singa.SubFloat(singa.Exp(singa.EltwiseMin(x, full_like(x, 0.0))), 1.0),
                              self.alpha)
        y = singa.__add__(x * pos, neg * singa.RSubFloat(1.0, pos))
        self.save(pos=pos, y=y)
        return y if self.gamma == 1.0 else singa.MultFloat(y, self.gamma)

    def backward(self, dy):
        # d/dx = 1 for x > 0, alpha * exp(x) = y + alpha otherwise (y the unscaled ELU)
        neg_grad = singa.AddFloat(self.y, self.alpha)
        d = singa.__add__(self.pos, neg_grad * singa.RSubFloat(1.0, self.pos))
        return dy * (d if self.gamma == 1.0 else singa.MultFloat(d, self.gamma))


class SeLU(Elu):
    """y = gamma * (x for x > 0, alpha * (exp(x) - 1) otherwise)."""

    def __init__(self, alpha=1.67326, gamma=1.0507):
        super().__init__(alpha)
        self.gamma = as_float("SeLU", "gamma", gamma)


class LeakyRelu(Operation):
    """y = x for x > 0, a * x otherwise."""

    def __init__(self, a=0.01):
        super().__init__()
        self.a = as_float("LeakyRelu", "a", a)

    def forward(self, x):
        pos = singa.GTFloat(x, 0.0)
        slope = singa.AddFloat(singa.MultFloat(pos, 1.0 - self.a), self.a)
        self.save(slope=slope)
        return x * slope

    def backward(self, dy):
        return dy * self.slope


class HardSigmoid(Operation):
    """y = max(0, min(1, alpha * x + gamma))."""

    def __init__(self, alpha=0.2, gamma=0.5):
        super().__init__()
        self.alpha = as_float("HardSigmoid", "alpha", alpha)
        self.gamma = as_float("HardSigmoid", "gamma", gamma)

    def forward(self, x):
        z = singa.AddFloat(singa.MultFloat(x, self.alpha), self.gamma)
        self.save(z=z)
        return singa.Clip(z, 0.0, 1.0)

    def backward(self, dy):
        inside = singa.__mul__(singa.GTFloat(self.z, 0.0), singa.LTFloat(self.z, 1.0))
        return singa.MultFloat(dy * inside, self.alpha)


class Clip(Operation):
    """y = min(max(x, min), max); either bound may be None."""

    def __init__(self, min=None, max=None):
        super().__init__()
        self.min = -float("inf") if min is None else as_float("Clip", "min", min)
        self.max = float("inf") if max is None else as_float("Clip", "max", max)
        if self.min > self.max:
            raise ArgumentError("Clip: min {} is greater than max {}".format(min, max))

    def forward(self, x):
        self.save(x=x)
        return singa.Clip(x, self.min, self.max)

    def backward(self, dy):
        inside = singa.__mul__(singa.GEFloat(self.x, self.min), singa.LEFloat(self.x, self.max))
        return dy * inside


class SoftMax(Operation):
    """y = exp(x) / sum(exp(x)) along ``axis``."""

    def __init__(self, axis=1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        axis = self.axis if x.nDim() > 1 else 0
        y = singa.SoftMax(x, axis)
        self.save(y=y, ax=axis)
        return y

    def backward(self, dy):
        return singa.SoftMaxBackward(dy, self.ax, self.y)


# ---------------------------------------------------------- functional forms

def elu(x, alpha=1.0):
    return Elu(alpha)(x)[0]


def selu(x, alpha=1.67326, gamma=1.0507):
    return SeLU(alpha, gamma)(x)[0]


def leakyrelu(x, a=0.01):
    return LeakyRelu(a)(x)[0]


def hardsigmoid(x, alpha=0.2, gamma=0.5):
    return HardSigmoid(alpha, gamma)(x)[0]


def clip(x, min=None, max=None):
    return Clip(min, max)(x)[0]


def softmax(x, axis=1):
    return SoftMax(axis)(x)[0]
