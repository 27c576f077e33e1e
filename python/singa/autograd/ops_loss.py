"""Loss functions. Each returns a (1,)-shaped Tensor, as SINGA's losses do.

As in SINGA, a loss Operation takes its target in the constructor and the predictions
as its one input (``MeanSquareError(t)(x)``); its ``backward(dy=1.0)`` then returns the
one gradient dx, with dy a number or a tensor. ``CrossEntropy()(x, t)``,
``BinaryCrossEntropy()(x, t)`` and ``MeanSquareError()(x, t)`` take the target as a
second input instead and return a gradient for each input.
"""

import numpy as np

from .. import singa_wrap as singa
from ..tensor import Tensor
from ..errors import ArgumentError
from ._util import check_same_shape, is_constant, is_float
from .engine import Operation

__all__ = ["SoftMaxCrossEntropy", "CrossEntropy", "BinaryCrossEntropy", "MeanSquareError",
           "RankingLoss", "softmax_cross_entropy", "cross_entropy", "binary_cross_entropy",
           "mse_loss", "ranking_loss"]


_HALVES = (singa.kFloat16, singa.kBFloat16)


def _float32_loss(loss):
    """Losses of 16-bit float predictions are float32 (a mean of many terms)."""
    return loss.AsType(singa.kFloat32) if loss.data_type() in _HALVES else loss


def _grad_as(dx, like):
    """dx in the 16-bit float dtype of the prediction ``like`` (the float32 loss's dy would
    otherwise promote it): gradients have their input's dtype."""
    dt = like.data_type()
    return dx.AsType(dt) if dt in _HALVES and dx.data_type() != dt else dx


def _targets(t):
    return t.data if isinstance(t, Tensor) else t


def _scaled(dx, dy, factor):
    """dx * dy * factor, for dy a number (SINGA's default 1.0) or a (1,) tensor."""
    if isinstance(dy, (int, float)):
        return singa.MultFloat(dx, float(dy) * factor)
    return dx * singa.MultFloat(dy, factor)


class _TargetLoss(Operation):
    """A loss whose target comes either with the constructor (SINGA's form: one input,
    one gradient) or as the second input (a gradient per input)."""

    def __init__(self, t=None):
        super().__init__()
        self.target = None if t is None else _targets(t)

    def _pick_target(self, t):
        name = type(self).__name__
        if t is None:
            if self.target is None:
                raise ArgumentError("{0}: no target; pass it to the constructor ({0}(t)(x)) "
                                    "or as the second input ({0}()(x, t))".format(name))
            return self.target
        if self.target is not None:
            raise ArgumentError("{}: the target was given to the constructor and again as an "
                                "input; give it once".format(name))
        return t

    def _gradients(self, dx, dt=None):
        """dx alone for a constructor target, else one gradient per input."""
        return dx if self.target is not None else (dx, dt)


def _batch_mean(per_sample):
    """Mean of a 1-D per-sample loss as a (1,) tensor."""
    return singa.Reshape(singa.ReduceMean(per_sample, None, False), [1])


def _batch_size(x):
    return x.shape()[0] if x.nDim() > 0 else 1


def _check_batch(op, x, t):
    if x.nDim() != 2:
        raise ArgumentError("{}: predictions must be 2-D (batch, classes), got shape {}"
                         .format(op, x.shape()))
    if t.shape()[0] != x.shape()[0]:
        raise ArgumentError("{}: {} targets {} for a batch of {} predictions {}".format(
            op, t.shape()[0], t.shape(), x.shape()[0], x.shape()))


def _is_soft(x, t):
    """Whether t holds one target row per prediction row rather than class indices."""
    labels = t.nDim() == 1 or (t.nDim() == 2 and t.shape()[1] == 1 and x.shape()[1] != 1)
    return not labels and t.shape() == x.shape()


def _normalised_rows(op, t, like):
    """t scaled so that every row sums to 1; a row summing to 0 is a ValueError."""
    tf = t if is_float(t) else t.AsType(like.data_type())
    sums = singa.ReduceSum(tf, [1], True)
    zero = np.flatnonzero(singa.to_numpy(sums).reshape(-1) == 0)
    if zero.size:
        raise ArgumentError("{}: target row(s) {} sum to 0; soft targets need a positive sum per "
                         "row".format(op, zero[:8].tolist()))
    return singa.__div__(tf, sums)


class SoftMaxCrossEntropy(Operation):
    """Mean over the batch of -sum(t * log softmax(x)) per row.

    ``t`` holds class indices (N,) or one-hot/probability rows (N, C). Soft target rows
    are normalised to sum to 1 first, in the forward and the backward alike, as SINGA
    intends (its gradient (p - t) / N is that of the normalised loss). PyTorch takes the
    rows as given instead, whose gradient is (p * sum(t) - t) / N. A row summing to 0
    raises ValueError.
    """

    def __init__(self, t):
        super().__init__()
        self.t = _targets(t)

    def forward(self, x):
        _check_batch("SoftMaxCrossEntropy", x, self.t)
        if _is_soft(x, self.t):
            self.t = _normalised_rows("SoftMaxCrossEntropy", self.t, x)
        p = singa.SoftMax(x, 1)
        loss = _batch_mean(singa.CrossEntropyFwd(p, self.t))
        self.save(p=p)
        return loss

    def backward(self, dy=1.0):
        n = self.p.shape()[0]
        dx = singa.SoftmaxCrossEntropyBwd(self.p, self.t)
        # dy scales the gradient (SINGA ignores it; we do not).
        return _grad_as(_scaled(dx, dy, 1.0 / n), self.p)


class CrossEntropy(_TargetLoss):
    """Mean over the batch of -sum(t * log(x)) for probabilities x."""

    def forward(self, x, t=None):
        t = self._pick_target(t)
        _check_batch("CrossEntropy", x, t)
        loss = _batch_mean(singa.CrossEntropyFwd(x, t))
        self.save(x=x, t=t)
        return loss

    def backward(self, dy=1.0):
        x, t = self.x, self.t
        n, c = x.shape()
        if t.nDim() == 1 or (t.nDim() == 2 and t.shape()[1] == 1 and c != 1):
            t = singa.OneHot(singa.Reshape(t, [n]), c, 1.0, 0.0, x.data_type())
        dx = singa.Neg(t.AsType(x.data_type()) / x)
        return self._gradients(_grad_as(_scaled(dx, dy, 1.0 / n), x))


class BinaryCrossEntropy(_TargetLoss):
    """-sum(t log(x) + (1 - t) log(1 - x)) / batch size, for probabilities x
    (SINGA divides the sum by x.shape[0]: a mean over samples of the per-sample sum)."""

    def forward(self, x, t=None):
        t = self._pick_target(t)
        check_same_shape("BinaryCrossEntropy", x, t, "predictions and targets")
        eps = 1e-12
        xc = singa.Clip(x, eps, 1.0 - eps)
        pos = t * singa.Log(xc)
        neg = singa.RSubFloat(1.0, t) * singa.Log(singa.RSubFloat(1.0, xc))
        n = _batch_size(x)
        loss = singa.Reshape(singa.MultFloat(singa.ReduceSum(pos + neg, None, False), -1.0 / n),
                             [1])
        self.save(xc=xc, t=t, n=n)
        return _float32_loss(loss)

    def backward(self, dy=1.0):
        # d/dx = (x - t) / (x (1 - x)) / n
        num = self.xc - self.t
        den = self.xc * singa.RSubFloat(1.0, self.xc)
        return self._gradients(_grad_as(_scaled(num / den, dy, 1.0 / self.n), self.xc))


class MeanSquareError(_TargetLoss):
    """Mean over all elements of (x - t)^2."""

    def forward(self, x, t=None):
        t = self._pick_target(t)
        check_same_shape("MeanSquareError", x, t, "predictions and targets")
        err = x - t
        self.save(err=err)
        return _float32_loss(singa.Reshape(singa.ReduceMean(singa.Square(err), None, False), [1]))

    def backward(self, dy=1.0):
        dx = _grad_as(_scaled(self.err, dy, 2.0 / self.err.Size()), self.err)
        return self._gradients(dx, singa.Neg(dx))


class RankingLoss(Operation):
    """sum(max(0, M - (pos - neg))) / batch size: pushes positive scores above negative
    ones by M (SINGA divides by pos.shape[0])."""

    def __init__(self, M=0.2):
        super().__init__()
        self.M = float(M)

    def forward(self, pos, neg):
        check_same_shape("RankingLoss", pos, neg, "positive and negative scores")
        margin = singa.AddFloat(neg - pos, self.M)
        active = singa.GTFloat(margin, 0.0)
        n = _batch_size(pos)
        self.save(active=active, n=n)
        return _float32_loss(singa.Reshape(
            singa.MultFloat(singa.ReduceSum(margin * active, None, False), 1.0 / n), [1]))

    def backward(self, dy=1.0):
        g = _grad_as(_scaled(self.active, dy, 1.0 / self.n), self.active)
        return singa.Neg(g), g


def softmax_cross_entropy(x, t):
    """Softmax of logits x followed by cross-entropy against targets t."""
    return SoftMaxCrossEntropy(t)(x)[0]


# The target gets no gradient from these two, so it goes to the constructor, as in SINGA
# (``loss.creator.backward()`` returns dx alone).
def cross_entropy(x, t):
    return CrossEntropy(t)(x)[0]


def binary_cross_entropy(x, t):
    return BinaryCrossEntropy(t)(x)[0]


def mse_loss(x, t):
    """Mean squared error. A target that is plain data goes to the constructor, as in
    SINGA (``loss.creator.backward()`` returns dx); one that gradients can reach (a
    parameter, or the output of recorded operations) is a second input and gets -dx."""
    if is_constant(t):
        return MeanSquareError(t)(x)[0]
    return MeanSquareError()(x, t)[0]


def ranking_loss(pos, neg, M=0.2):
    return RankingLoss(M)(pos, neg)[0]
