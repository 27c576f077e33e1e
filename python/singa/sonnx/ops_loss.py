"""Handlers for ONNX's loss operators (NegativeLogLikelihoodLoss,
SoftmaxCrossEntropyLoss). The class-index targets select entries of the input through
GatherElements, so the gradient reaches the scores; the per-element weights are
constants."""

from .. import autograd
from .. import singa_wrap as singa
from ..tensor import Tensor
from .ops_math import LogSoftMax
from .ops_shape import GatherElements
from .registry import register

__all__ = []


def _const(ct):
    return Tensor(data=ct, requires_grad=False)


def _nll(node, x, target, weight):
    """The loss tensor (or its reduction) of scores ``x`` (N, C, d...) at ``target``."""
    t = target.data
    valid = None
    ignore = node.getattr("ignore_index")
    if ignore is not None:
        hit = singa.EQFloat(t, float(ignore))
        valid = singa.RSubFloat(1.0, hit.AsType(x.dtype))
        # Ignored positions pick class 0 (with weight 0), so every index is in range.
        t = singa.Sub(t, singa.__mul__(t, hit.AsType(t.data_type())))
    shape = list(target.shape)
    index = singa.Reshape(t, [shape[0], 1] + shape[1:])
    picked = GatherElements(1)(x, _const(index))[0]
    picked = autograd.reshape(picked, shape)
    if weight is not None:
        w = singa.Reshape(singa.Take(weight.data, singa.Reshape(t, [int(t.Size())]), 0),
                          shape)
        w = w.AsType(x.dtype)
        if valid is not None:
            w = singa.__mul__(w, valid)
    elif valid is not None:
        w = valid
    else:
        w = None
    loss = autograd.negative(picked if w is None else autograd.mul(picked, _const(w)))
    reduction = node.getattr("reduction", "mean")
    if reduction == "none":
        return loss
    total = autograd.reduce_sum(loss, None, 0)
    if reduction == "sum":
        return total
    if reduction != "mean":
        raise node.error("reduction {!r} is not 'none', 'sum' or 'mean'".format(reduction))
    if w is None:
        return autograd.div(total, _const(_scalar(float(loss.size()), x)))
    return autograd.div(total, _const(singa.ReduceSum(w, None, False)))


def _scalar(value, like):
    out = singa.Tensor([], like.device, like.dtype)
    out.SetValue(value)
    return out


@register("NegativeLogLikelihoodLoss")
def _nll_loss(node, ins):
    return _nll(node, ins.t(0), ins.t(1), ins.t(2))


@register("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(node, ins):
    x = ins.t(0)
    log_prob = LogSoftMax(1)(x)[0]
    loss = _nll(node, log_prob, ins.t(1), ins.t(2))
    return loss, log_prob
