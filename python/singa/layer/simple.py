"""Layers without parameters: Dropout, activations, Add, Flatten, SoftMax, the losses,
Cat and Reshape."""

from .. import autograd
from .base import Layer

__all__ = ["Dropout", "ReLU", "Sigmoid", "Tanh", "Add", "Flatten", "SoftMax",
           "SoftMaxCrossEntropy", "MeanSquareError", "CrossEntropy", "BinaryCrossEntropy",
           "Cat", "Reshape"]


class Dropout(Layer):
    """Zeroes inputs with probability ``ratio`` in training (survivors scaled by
    1 / (1 - ratio)); the identity in evaluation."""

    def __init__(self, ratio=0.5):
        super(Dropout, self).__init__()
        if not 0.0 <= ratio < 1.0:
            raise ValueError("Dropout: ratio must be in [0, 1), got {}".format(ratio))
        self.ratio = float(ratio)

    def forward(self, x):
        return autograd.dropout(x, ratio=self.ratio)


class ReLU(Layer):
    """max(x, 0)."""

    def forward(self, x):
        return autograd.relu(x)


class Sigmoid(Layer):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return autograd.sigmoid(x)


class Tanh(Layer):
    """tanh(x)."""

    def forward(self, x):
        return autograd.tanh(x)


class Add(Layer):
    """a + b (broadcasting)."""

    def forward(self, a, b):
        return autograd.add(a, b)


class Flatten(Layer):
    """Reshapes to 2-D: (prod(shape[:axis]), prod(shape[axis:]))."""

    def __init__(self, axis=1):
        super(Flatten, self).__init__()
        self.axis = axis

    def forward(self, x):
        return autograd.flatten(x, self.axis)


class SoftMax(Layer):
    """Softmax along ``axis``."""

    def __init__(self, axis=1):
        super(SoftMax, self).__init__()
        self.axis = axis

    def forward(self, x):
        return autograd.softmax(x, self.axis)


class SoftMaxCrossEntropy(Layer):
    """Mean cross-entropy of softmax(x) against labels t (class ids or one-hot)."""

    def forward(self, x, t):
        return autograd.softmax_cross_entropy(x, t)


class MeanSquareError(Layer):
    """Mean squared error between x and t."""

    def forward(self, x, t):
        return autograd.mse_loss(x, t)


class CrossEntropy(Layer):
    """Cross-entropy of probabilities x against targets t."""

    def forward(self, x, t):
        return autograd.cross_entropy(x, t)


class BinaryCrossEntropy(Layer):
    """Binary cross-entropy of probabilities x against 0/1 targets t."""

    def forward(self, x, t):
        return autograd.binary_cross_entropy(x, t)


class Cat(Layer):
    """Concatenates a list of Tensors along ``axis``."""

    def __init__(self, axis=0):
        super(Cat, self).__init__()
        self.axis = axis

    def forward(self, xs):
        return autograd.cat(xs, self.axis)


class Reshape(Layer):
    """Reshapes x to ``shape`` (given to the constructor or to forward)."""

    def __init__(self, shape=None):
        super(Reshape, self).__init__()
        self.shape = shape

    def forward(self, x, shape=None):
        shape = self.shape if shape is None else shape
        if shape is None:
            raise ValueError("Reshape: no target shape given")
        return autograd.reshape(x, shape)
