"""Handlers for ONNX's comparisons, logic operators, NaN/Inf tests, ArgMax/ArgMin and
TopK: bool and int64 results computed by the core's kernels (TopK's values are the one
differentiable output)."""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .registry import register

__all__ = ["BoolResult", "ArgExtremum", "TopK"]


class BoolResult(Operation):
    """A core function whose result is a bool tensor (a comparison, a logic operator);
    nothing flows back through it."""

    def __init__(self, fn, name):
        super().__init__()
        self.fn, self.op_name = fn, name

    def forward(self, *xs):
        self.n_inputs = len(xs)
        return self.fn(*xs)

    def backward(self, dy):
        return (None,) * self.n_inputs if self.n_inputs > 1 else None


_COMPARE = {"Less": singa.LTBool, "LessOrEqual": singa.LEBool, "Greater": singa.GTBool,
            "GreaterOrEqual": singa.GEBool, "Equal": singa.EQBool, "And": singa.AndBool,
            "Or": singa.OrBool, "Xor": singa.XorBool}


@register(*_COMPARE)
def _compare(node, ins):
    a, b = ins.t(0), ins.t(1)
    return BoolResult(_COMPARE[node.op_type], node.op_type)(a, b)[0]


def _not(x):
    if x.dtype != tensor_mod.bool_:
        x = autograd.cast(x, tensor_mod.bool_)
    return autograd._not(x)


@register("Not")
def _not_node(node, ins):
    return _not(ins.t(0))


def _full_like(x, value):
    """A one-element tensor of x's dtype holding ``value`` (broadcast by the kernels)."""
    array = np.full((1,) * max(x.ndim(), 1), value,
                    dtype=tensor_mod._DTYPE_TO_NP[x.dtype])
    return tensor_mod.from_numpy(array, x.device, keep_dtype=True)


@register("IsNaN")
def _isnan(node, ins):
    x = ins.t(0)
    # NaN is the one value not equal to itself.
    return _not(BoolResult(singa.EQBool, "IsNaN")(x, x)[0])


@register("IsInf")
def _isinf(node, ins):
    x = ins.t(0)
    positive, negative = node.getattr("detect_positive", 1), node.getattr("detect_negative", 1)
    hits = [BoolResult(singa.EQBool, "IsInf")(x, _full_like(x, sign * np.inf))[0]
            for sign, wanted in ((1, positive), (-1, negative)) if wanted]
    if not hits:
        return BoolResult(singa.LTBool, "IsInf")(x, _full_like(x, -np.inf))[0]
    if len(hits) == 1:
        return hits[0]
    return BoolResult(singa.OrBool, "IsInf")(*hits)[0]


class ArgExtremum(Operation):
    """The int64 index of the largest (or smallest) value along ``axis``: the first on
    ties, or the last with ``last``; ``keepdims`` keeps the axis with length 1."""

    def __init__(self, axis, keepdims=True, last=False, is_max=True):
        super().__init__()
        self.axis, self.keepdims, self.last, self.is_max = int(axis), bool(keepdims), \
            bool(last), bool(is_max)

    def forward(self, x):
        shape = list(x.shape())
        n = shape[self.axis]
        if self.last:
            # The first extremum of the reversed axis is the last one of x.
            reverse = singa.from_numpy(np.arange(n - 1, -1, -1, dtype=np.int64), x.device())
            x = singa.Take(x, reverse, self.axis)
        idx = (singa.ArgMax if self.is_max else singa.ArgMin)(x, self.axis)
        idx = idx.AsType(tensor_mod.int64)
        if self.last:
            top = singa.from_numpy(np.full([1] * max(len(idx.shape()), 1), n - 1, np.int64),
                                   idx.device())
            idx = singa.Sub(top, idx)
        out_shape = [1 if i == self.axis else s for i, s in enumerate(shape)] \
            if self.keepdims else [s for i, s in enumerate(shape) if i != self.axis]
        return singa.Reshape(idx, out_shape)

    def backward(self, dy):
        return None


@register("ArgMax", "ArgMin")
def _argmax(node, ins):
    x = ins.t(0)
    axis = node.getattr("axis", 0) % x.ndim()
    op = ArgExtremum(axis, node.getattr("keepdims", 1), node.getattr("select_last_index", 0),
                     node.op_type == "ArgMax")
    return op(x)[0]


class TopK(Operation):
    """The ``k`` largest (or smallest) values along ``axis`` in order, and their int64
    indices; equal values keep the lower index first. Built from ``k`` arg-extremum
    passes (the core has no sort), each masking the element it took; the gradient goes
    back to the elements taken."""

    def __init__(self, k, axis, largest=True):
        super().__init__()
        self.k, self.axis, self.largest = int(k), int(axis), bool(largest)

    def forward(self, x):
        shape = list(x.shape())
        if not 0 <= self.k <= shape[self.axis]:
            raise ValueError("TopK: k={} for an axis of length {}".format(
                self.k, shape[self.axis]))
        np_type = np.dtype(tensor_mod._DTYPE_TO_NP[x.data_type()])
        fill = (-np.inf if self.largest else np.inf) if np_type.kind == "f" else \
            (np.iinfo(np_type).min if self.largest else np.iinfo(np_type).max)
        kept = [1 if i == self.axis else s for i, s in enumerate(shape)]
        filler = singa.from_numpy(np.full(kept, fill, dtype=np_type), x.device())
        work, picks = x.Clone(), []
        extremum = singa.ArgMax if self.largest else singa.ArgMin
        for _ in range(self.k):
            idx = singa.Reshape(extremum(work, self.axis).AsType(tensor_mod.int64), kept)
            picks.append(idx)
            work = singa.ScatterElements(work, idx, filler, self.axis, False)
        out_shape = [self.k if i == self.axis else s for i, s in enumerate(shape)]
        if picks:
            index = singa.ConcatOn(picks, self.axis)
        else:
            index = singa.from_numpy(np.zeros(out_shape, np.int64), x.device())
        self.save(index=index, xshape=shape)
        values = singa.GatherElements(x, index, self.axis)
        return values, index

    def backward(self, dy, _dindex=None):
        dx = singa.Tensor(list(self.xshape), dy.device(), dy.data_type())
        dx.SetValue(0.0)
        return singa.ScatterElements(dx, self.index, dy, self.axis, True)


@register("TopK")
def _topk(node, ins):
    x = ins.t(0)
    axis = node.getattr("axis", -1) % x.ndim()
    k = node.getattr("k") if node.opset is not None and node.opset < 10 else \
        int(np.asarray(ins.host(1, "k")).reshape(-1)[0])
    # sorted=0 lets any order through; the sorted one is among them.
    try:
        return TopK(k, axis, node.getattr("largest", 1))(x)
    except ValueError as e:
        raise node.error(str(e)) from None
