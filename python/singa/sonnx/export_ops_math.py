"""ONNX exporters of the element-wise, comparison, activation and loss Operations
(``autograd/ops_unary.py``, ``ops_binary.py``, ``ops_activation.py``, ``ops_loss.py``).
The exporter signature is described in ``export_registry``."""

import math

import numpy as np
from onnx import TensorProto

from .. import singa_wrap as singa
from ..autograd import ops_activation as act
from ..autograd import ops_binary as binary
from ..autograd import ops_loss as loss
from ..autograd import ops_unary as unary
from .export_registry import register_export

__all__ = ["ONE_TO_ONE"]

# singa Operation -> the ONNX operator computing the same function on the same inputs.
ONE_TO_ONE = {
    unary.ReLU: "Relu", unary.Tanh: "Tanh", unary.Sigmoid: "Sigmoid",
    unary.Identity: "Identity", unary.Cos: "Cos", unary.Cosh: "Cosh", unary.Acos: "Acos",
    unary.Acosh: "Acosh", unary.Sin: "Sin", unary.Sinh: "Sinh", unary.Asin: "Asin",
    unary.Asinh: "Asinh", unary.Tan: "Tan", unary.Atan: "Atan", unary.Atanh: "Atanh",
    unary.Abs: "Abs", unary.Exp: "Exp", unary.Sign: "Sign", unary.SoftSign: "Softsign",
    unary.SoftPlus: "Softplus", unary.Mish: "Mish", unary.Sqrt: "Sqrt", unary.Log: "Log",
    unary.Negative: "Neg", unary.Reciprocal: "Reciprocal", unary.Erf: "Erf",
    unary.Ceil: "Ceil", unary.Floor: "Floor", unary.Rounde: "Round",
    binary.Add: "Add", binary.Sub: "Sub", binary.Mul: "Mul", binary.Div: "Div",
    binary.Pow: "Pow", binary.Matmul: "MatMul", binary.PRelu: "PRelu",
    binary.Sum: "Sum", binary.Mean: "Mean", binary.Max: "Max", binary.Min: "Min",
}


def _one_to_one(onnx_op):
    def export(op, ctx, inputs, outputs):
        ctx.node(onnx_op, inputs, outputs)
    export.__doc__ = "Exports as one ONNX {} node.".format(onnx_op)
    return export


for _cls, _onnx_op in ONE_TO_ONE.items():
    register_export(_cls, _one_to_one(_onnx_op))


def _scalar_like(ctx, value, like, hint):
    """A scalar constant with the element type of value ``like`` (CastLike)."""
    c = ctx.constant(np.float32(value), hint)
    return ctx.node("CastLike", [c, like])


def _round_half_away(op, ctx, inputs, outputs):
    # ONNX Round sends halves to even; singa's Round sends them away from zero.
    x = inputs[0]
    half = _scalar_like(ctx, 0.5, x, "half")
    mag = ctx.node("Floor", [ctx.node("Add", [ctx.node("Abs", [x]), half])])
    ctx.node("Mul", [ctx.node("Sign", [x]), mag], outputs)


def _not(op, ctx, inputs, outputs):
    # singa's logical ops take and give numbers (1 for true) of the input's dtype.
    x = inputs[0]
    zero = _scalar_like(ctx, 0.0, x, "zero")
    ctx.node("CastLike", [ctx.node("Equal", [x, zero]), x], outputs)


def _comparison(onnx_op):
    def export(op, ctx, inputs, outputs):
        ctx.node("CastLike", [ctx.node(onnx_op, inputs), inputs[0]], outputs)
    return export


def _logical(onnx_op):
    def export(op, ctx, inputs, outputs):
        a, b = [ctx.node("Cast", [x], to=TensorProto.BOOL) for x in inputs]
        ctx.node("CastLike", [ctx.node(onnx_op, [a, b]), inputs[0]], outputs)
    return export


register_export(unary.Round, _round_half_away)
register_export(unary.Not, _not)
register_export(binary.Less, _comparison("Less"))
register_export(binary.Greater, _comparison("Greater"))
register_export(binary.Equal, _comparison("Equal"))
register_export(binary.And, _logical("And"))
register_export(binary.Or, _logical("Or"))
register_export(binary.Xor, _logical("Xor"))


def _embedding(op, ctx, inputs, outputs):
    # singa truncates float indices to int; ONNX Gather takes int32/int64 indices.
    idx = ctx.node("Cast", [inputs[0]], to=TensorProto.INT64)
    ctx.node("Gather", [inputs[1], idx], outputs, axis=0)


def _cossim(op, ctx, inputs, outputs):
    a, b = inputs
    last = ctx.int64s([-1], "axis")

    def dot(u, v):
        return ctx.node("ReduceSum", [ctx.node("Mul", [u, v]), last], keepdims=0)
    norms = ctx.node("Sqrt", [ctx.node("Mul", [dot(a, a), dot(b, b)])])
    ctx.node("Div", [dot(a, b), norms], outputs)


register_export(binary.Embedding, _embedding)
register_export(binary.CosSim, _cossim)


# ---- activations ----

def _elu(op, ctx, inputs, outputs):
    ctx.node("Elu", inputs, outputs, alpha=op.alpha)


def _selu(op, ctx, inputs, outputs):
    ctx.node("Selu", inputs, outputs, alpha=op.alpha, gamma=op.gamma)


def _leakyrelu(op, ctx, inputs, outputs):
    ctx.node("LeakyRelu", inputs, outputs, alpha=op.a)


def _hardsigmoid(op, ctx, inputs, outputs):
    ctx.node("HardSigmoid", inputs, outputs, alpha=op.alpha, beta=op.gamma)


def _clip(op, ctx, inputs, outputs):
    x = inputs[0]
    lo = "" if math.isinf(op.min) else _scalar_like(ctx, op.min, x, "min")
    hi = "" if math.isinf(op.max) else _scalar_like(ctx, op.max, x, "max")
    args = [x, lo, hi]
    while args[-1] == "":
        args.pop()
    ctx.node("Clip", args, outputs)


def _softmax(op, ctx, inputs, outputs):
    ctx.node("Softmax", inputs, outputs, axis=op.axis)


register_export(act.Elu, _elu)
register_export(act.SeLU, _selu)
register_export(act.LeakyRelu, _leakyrelu)
register_export(act.HardSigmoid, _hardsigmoid)
register_export(act.Clip, _clip)
register_export(act.SoftMax, _softmax)


# ---- losses: each gives a (1,) tensor, as singa's do ----

def _as_vector(ctx, scalar, outputs):
    ctx.node("Reshape", [scalar, ctx.int64s([1], "shape")], outputs)


def _target(ctx, op, inputs, attr):
    """The target: the second input, or the constant the constructor was given."""
    if len(inputs) > 1:
        return inputs[1], None
    t = getattr(op, attr)
    arr = np.asarray(singa.to_numpy(t) if isinstance(t, singa.Tensor) else t)
    return ctx.constant(arr, "target"), arr


def _is_labels(ctx, t_name, t_arr, x_name):
    shape = t_arr.shape if t_arr is not None else ctx.shape(t_name)
    classes = ctx.shape(x_name)[1]
    return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1 and classes != 1)


def _mean_row_loss(ctx, x, logp, t, labels, outputs):
    """mean over rows of -log p[label] (labels) or of -sum(t * log p) (rows)."""
    if labels:
        idx = ctx.node("Cast", [ctx.node("Reshape", [t, ctx.int64s([-1], "flat")])],
                       to=TensorProto.INT64)
        nll = ctx.node("NegativeLogLikelihoodLoss", [logp, idx], reduction="mean")
        _as_vector(ctx, nll, outputs)
        return
    rows = ctx.node("ReduceSum", [ctx.node("Mul", [ctx.node("CastLike", [t, x]), logp]),
                                  ctx.int64s([1], "axis")], keepdims=0)
    _as_vector(ctx, ctx.node("Neg", [ctx.node("ReduceMean", [rows], keepdims=0)]), outputs)


def _softmax_cross_entropy(op, ctx, inputs, outputs):
    x = inputs[0]
    t, arr = _target(ctx, op, inputs, "t")
    logp = ctx.node("LogSoftmax", [x], axis=1)
    _mean_row_loss(ctx, x, logp, t, _is_labels(ctx, t, arr, x), outputs)


def _cross_entropy(op, ctx, inputs, outputs):
    x = inputs[0]
    t, arr = _target(ctx, op, inputs, "target")
    _mean_row_loss(ctx, x, ctx.node("Log", [x]), t, _is_labels(ctx, t, arr, x), outputs)


def _batch_count(ctx, x):
    """The batch size of x as a (1,) tensor of x's dtype (dynamic)."""
    n = ctx.node("Shape", [x], start=0, end=1)
    return ctx.node("CastLike", [n, x])


def _binary_cross_entropy(op, ctx, inputs, outputs):
    x = inputs[0]
    t, _ = _target(ctx, op, inputs, "target")
    t = ctx.node("CastLike", [t, x])
    eps = 1e-12
    xc = ctx.node("Clip", [x, _scalar_like(ctx, eps, x, "eps"),
                           _scalar_like(ctx, 1.0 - eps, x, "one_minus_eps")])
    one = _scalar_like(ctx, 1.0, x, "one")
    pos = ctx.node("Mul", [t, ctx.node("Log", [xc])])
    neg = ctx.node("Mul", [ctx.node("Sub", [one, t]),
                           ctx.node("Log", [ctx.node("Sub", [one, xc])])])
    total = ctx.node("ReduceSum", [ctx.node("Add", [pos, neg])], keepdims=0)
    ctx.node("Neg", [ctx.node("Div", [total, _batch_count(ctx, x)])], outputs)


def _mean_square_error(op, ctx, inputs, outputs):
    x = inputs[0]
    t, _ = _target(ctx, op, inputs, "target")
    err = ctx.node("Sub", [x, ctx.node("CastLike", [t, x])])
    _as_vector(ctx, ctx.node("ReduceMean", [ctx.node("Mul", [err, err])], keepdims=0),
               outputs)


def _ranking_loss(op, ctx, inputs, outputs):
    pos, neg = inputs
    margin = ctx.node("Add", [ctx.node("Sub", [neg, pos]), _scalar_like(ctx, op.M, pos, "M")])
    hinge = ctx.node("Relu", [margin])
    total = ctx.node("ReduceSum", [hinge], keepdims=0)
    ctx.node("Div", [total, _batch_count(ctx, pos)], outputs)


register_export(loss.SoftMaxCrossEntropy, _softmax_cross_entropy)
register_export(loss.CrossEntropy, _cross_entropy)
register_export(loss.BinaryCrossEntropy, _binary_cross_entropy)
register_export(loss.MeanSquareError, _mean_square_error)
register_export(loss.RankingLoss, _ranking_loss)

