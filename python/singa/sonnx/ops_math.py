"""Handlers for ONNX's element-wise, activation, softmax, reduction and matrix
operators."""

import math

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from ..autograd import Operation
from ..tensor import _DTYPE_TO_NP, Tensor
from .registry import register

__all__ = ["Affine", "ReduceExtremum", "LogSoftMax", "ThresholdedRelu", "Shrink"]


class Affine(Operation):
    """y = a * x + b for Python numbers a and b (the scalar glue of composed ops)."""

    def __init__(self, a=1.0, b=0.0):
        super().__init__()
        self.a, self.b = float(a), float(b)

    def forward(self, x):
        y = singa.MultFloat(x, self.a) if self.a != 1.0 else x
        return singa.AddFloat(y, self.b) if self.b != 0.0 else (y if y is not x else x.Clone())

    def backward(self, dy):
        return singa.MultFloat(dy, self.a) if self.a != 1.0 else dy


def affine(x, a=1.0, b=0.0):
    return Affine(a, b)(x)[0]


class ReduceExtremum(Operation):
    """Max (or min) over ``axes``; the gradient goes to every element equal to the
    extremum, shared equally among ties."""

    def __init__(self, axes, keepdims, is_max=True):
        super().__init__()
        self.axes, self.keepdims, self.is_max = list(axes), bool(keepdims), is_max

    def forward(self, x):
        reduce = singa.ReduceMax if self.is_max else singa.ReduceMin
        kept = reduce(x, self.axes, True)
        self.save(x=x, kept=kept)
        return kept if self.keepdims else singa.Reshape(
            kept, [s for i, s in enumerate(x.shape()) if i not in self.axes])

    def backward(self, dy):
        x = self.x
        hit = singa.EQ(x, singa.Broadcast(self.kept, list(x.shape()))).AsType(dy.data_type())
        count = singa.ReduceSum(hit, self.axes, True)
        g = singa.Div(singa.Reshape(dy, list(self.kept.shape())), count)
        return singa.Broadcast(g, list(x.shape())) * hit


class LogSoftMax(Operation):
    """y = x - log(sum(exp(x))) along ``axis``."""

    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        y = singa.LogSoftMax(x, self.axis)
        self.save(y=y)
        return y

    def backward(self, dy):
        total = singa.ReduceSum(dy, [self.axis], True)
        return dy - singa.Exp(self.y) * singa.Broadcast(total, list(dy.shape()))


class ThresholdedRelu(Operation):
    """y = x where x > alpha, else 0."""

    def __init__(self, alpha):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        mask = singa.GTFloat(x, self.alpha).AsType(x.data_type())
        self.save(mask=mask)
        return x * mask

    def backward(self, dy):
        return dy * self.mask


_UNARY = {
    "Relu": autograd.relu, "Tanh": autograd.tanh, "Sigmoid": autograd.sigmoid,
    "Cos": autograd.cos, "Cosh": autograd.cosh, "Acos": autograd.acos, "Acosh": autograd.acosh,
    "Sin": autograd.sin, "Sinh": autograd.sinh, "Asin": autograd.asin, "Asinh": autograd.asinh,
    "Tan": autograd.tan, "Atan": autograd.atan, "Atanh": autograd.atanh, "Abs": autograd.abs,
    "Exp": autograd.exp, "Sign": autograd.sign, "Softsign": autograd.softsign,
    "Softplus": autograd.softplus, "Mish": autograd.mish, "Sqrt": autograd.sqrt,
    "Log": autograd.log, "Neg": autograd.negative, "Reciprocal": autograd.reciprocal,
    "Erf": autograd.erf, "Ceil": autograd.ceil, "Floor": autograd.floor,
    # ONNX rounds halves to even, which is singa's rounde.
    "Round": autograd.rounde,
}

_BINARY = {
    "Add": autograd.add, "Sub": autograd.sub, "Mul": autograd.mul, "Div": autograd.div,
    "Pow": autograd.pow, "MatMul": autograd.matmul, "PRelu": autograd.prelu,
}

_VARIADIC = {"Max": autograd.max, "Min": autograd.min, "Sum": autograd.sum,
             "Mean": autograd.mean}


@register(*_UNARY)
def _unary(node, ins):
    return _UNARY[node.op_type](ins.t(0))


@register(*_BINARY)
def _binary(node, ins):
    a, b = ins.t(0), ins.t(1)
    if node.op_type == "PRelu" and node.opset is not None and node.opset < 7 and \
            b.ndim() == 1 and a.ndim() > 2 and b.shape[0] == a.shape[1]:
        # Before opset 7 a 1-D slope holds one value per channel (axis 1).
        b = autograd.reshape(b, [b.shape[0]] + [1] * (a.ndim() - 2))
    if node.op_type == "Pow" and b.dtype != a.dtype:
        b = autograd.cast(b, a.dtype)
    return _BINARY[node.op_type](a, b)


@register("CastLike")
def _cast_like(node, ins):
    return autograd.cast(ins.t(0), ins.t(1).dtype)


@register(*_VARIADIC)
def _variadic(node, ins):
    xs = ins.tensors()
    if len(xs) == 1:
        return autograd.identity(xs[0])
    return _VARIADIC[node.op_type](*xs)


@register("Elu")
def _elu(node, ins):
    return autograd.elu(ins.t(0), node.getattr("alpha", 1.0))


@register("Selu")
def _selu(node, ins):
    return autograd.selu(ins.t(0), node.getattr("alpha", 1.67326319217681884765625),
                         node.getattr("gamma", 1.05070102214813232421875))


@register("Celu")
def _celu(node, ins):
    alpha = node.getattr("alpha", 1.0)
    return affine(autograd.elu(affine(ins.t(0), 1.0 / alpha), 1.0), alpha)


@register("LeakyRelu")
def _leakyrelu(node, ins):
    return autograd.leakyrelu(ins.t(0), node.getattr("alpha", 0.01))


@register("HardSigmoid")
def _hardsigmoid(node, ins):
    return autograd.hardsigmoid(ins.t(0), node.getattr("alpha", 0.2), node.getattr("beta", 0.5))


@register("HardSwish")
def _hardswish(node, ins):
    x = ins.t(0)
    return autograd.mul(x, autograd.hardsigmoid(x, 1.0 / 6.0, 0.5))


def _swish(x, alpha):
    return autograd.mul(x, autograd.sigmoid(affine(x, alpha)))


@register("Swish")
def _swish_op(node, ins):
    return _swish(ins.t(0), node.getattr("alpha", 1.0))


@register("SwiGLU")
def _swiglu(node, ins):
    a, b = ins.t(0), ins.t(1)
    if a.shape != b.shape:
        raise node.error("A {} and B {} must have the same shape".format(a.shape, b.shape))
    return autograd.mul(_swish(a, node.getattr("alpha", 1.0)), b)


@register("ThresholdedRelu")
def _thresholded_relu(node, ins):
    return ThresholdedRelu(node.getattr("alpha", 1.0))(ins.t(0))[0]


@register("Gelu")
def _gelu(node, ins):
    x = ins.t(0)
    if node.getattr("approximate", "none") == "tanh":
        cube = autograd.mul(x, autograd.mul(x, x))
        inner = affine(autograd.add(x, affine(cube, 0.044715)), math.sqrt(2.0 / math.pi))
        return autograd.mul(x, affine(autograd.tanh(inner), 0.5, 0.5))
    return autograd.mul(x, affine(autograd.erf(affine(x, 1.0 / math.sqrt(2.0))), 0.5, 0.5))


@register("Clip")
def _clip(node, ins):
    if node.opset is not None and node.opset < 11:
        low, high = node.getattr("min"), node.getattr("max")
    else:
        low = ins.host(1, "min").item() if ins.has(1) else None
        high = ins.host(2, "max").item() if ins.has(2) else None
    if low is not None and high is not None and low > high:
        low = high  # ONNX: every value becomes max
    return autograd.clip(ins.t(0), low, high)


def _softmax_axis(node, ndim):
    axis = node.getattr("axis", -1 if (node.opset or 13) >= 13 else 1)
    if not -ndim <= axis < max(ndim, 1):
        raise node.error("axis {} is out of range for rank {}".format(axis, ndim))
    return axis % max(ndim, 1)


@register("Softmax", "LogSoftmax")
def _softmax(node, ins):
    x = ins.t(0)
    axis = _softmax_axis(node, x.ndim())

    def apply(t, ax):
        if node.op_type == "Softmax":
            return autograd.softmax(t, ax)
        return LogSoftMax(ax)(t)[0]

    if (node.opset or 13) >= 13 or axis == x.ndim() - 1:
        return apply(x, axis)
    # Before opset 13 the input is coerced to 2-D at axis and normalised per row.
    y = apply(autograd.flatten(x, axis), 1)
    return autograd.reshape(y, list(x.shape))


def _reduce_axes(node, ins, ndim, axes_input_from):
    if (node.opset or 18) >= axes_input_from:
        axes = ins.host(1, "axes").tolist() if ins.has(1) else None
    else:
        axes = node.getattr("axes")
    if not axes:
        if node.getattr("noop_with_empty_axes", 0):
            return None
        return list(range(ndim))
    return sorted(int(a) % ndim for a in axes)


_REDUCE_AXES_INPUT_FROM = {"ReduceSum": 13}


@register("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2",
          "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")
def _reduce(node, ins):
    x = ins.t(0)
    axes = _reduce_axes(node, ins, x.ndim(), _REDUCE_AXES_INPUT_FROM.get(node.op_type, 18))
    keep = node.getattr("keepdims", 1)
    op = node.op_type
    if axes is None:
        return autograd.identity(x)
    if op in ("ReduceMax", "ReduceMin"):
        return ReduceExtremum(axes, keep, op == "ReduceMax")(x)[0]
    if op == "ReduceMean":
        return autograd.reduce_mean(x, axes, keep)
    if op == "ReduceL1":
        x = autograd.abs(x)
    elif op in ("ReduceL2", "ReduceSumSquare"):
        x = autograd.mul(x, x)
    elif op == "ReduceLogSumExp":
        # Shifted by the (constant) maximum so that exp cannot overflow.
        with autograd.no_grad():
            shift = Tensor(data=ReduceExtremum(axes, True)(x)[0].data, requires_grad=False)
        total = autograd.reduce_sum(autograd.exp(autograd.sub(x, shift)), axes, 1)
        y = autograd.add(autograd.log(total), shift)
        return y if keep else autograd.squeeze(y, axes)
    y = autograd.reduce_sum(x, axes, keep)
    if op == "ReduceL2":
        return autograd.sqrt(y)
    if op == "ReduceLogSum":
        return autograd.log(y)
    return y


@register("Gemm")
def _gemm(node, ins):
    a, b, c = ins.t(0), ins.t(1), ins.t(2)
    return autograd.gemm(a, b, c, node.getattr("alpha", 1.0), node.getattr("beta", 1.0),
                         node.getattr("transA", 0), node.getattr("transB", 0))


def _host_const(array, like):
    """A constant Tensor of ``like``'s dtype and device holding ``array``."""
    return Tensor(device=like.device, data=np.ascontiguousarray(
        array.astype(_DTYPE_TO_NP[like.dtype])), dtype=like.dtype, requires_grad=False)


@register("Trilu")
def _trilu(node, ins):
    x = ins.t(0)
    k = int(ins.host(1, "k").reshape(-1)[0]) if ins.has(1) else 0
    rows, cols = x.shape[-2], x.shape[-1]
    offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]
    keep = offset >= k if node.getattr("upper", 1) else offset <= k
    return autograd.mul(x, _host_const(keep, x))


class Shrink(Operation):
    """y = x + bias where x < -lambd, x - bias where x > lambd, else 0."""

    def __init__(self, lambd, bias):
        super().__init__()
        self.lambd, self.bias = float(lambd), float(bias)

    def forward(self, x):
        low = singa.LTFloat(x, -self.lambd).AsType(x.data_type())
        high = singa.GTFloat(x, self.lambd).AsType(x.data_type())
        self.save(mask=low + high)
        return singa.AddFloat(x, self.bias) * low + singa.SubFloat(x, self.bias) * high

    def backward(self, dy):
        return dy * self.mask


@register("Shrink")
def _shrink(node, ins):
    return Shrink(node.getattr("lambd", 0.5), node.getattr("bias", 0.0))(ins.t(0))[0]


@register("ReduceProd")
def _reduce_prod(node, ins):
    # The product of the slices along each axis: the gradient (products of the others)
    # comes from Mul's, and zeros need no special case.
    x = ins.t(0)
    axes = _reduce_axes(node, ins, x.ndim(), 18)
    if axes is None:
        return autograd.identity(x)
    y = x
    for a in axes:
        n = y.shape[a]
        if n == 0:  # the empty product is 1
            shape = list(y.shape)
            shape[a] = 1
            y = _host_const(np.ones(shape), y)
            continue
        parts = autograd.split(y, a, [1] * n) if n > 1 else [y]
        acc = parts[0]
        for part in parts[1:]:
            acc = autograd.mul(acc, part)
        y = acc
    if not node.getattr("keepdims", 1):
        y = autograd.reshape(y, [s for i, s in enumerate(x.shape) if i not in axes])
    return y


@register("Hardmax")
def _hardmax(node, ins):
    x = ins.t(0)
    axis = _softmax_axis(node, x.ndim())
    if (node.opset or 13) < 13:
        flat = autograd.flatten(x, axis)
        return autograd.reshape(_one_hot_max(flat, 1), list(x.shape))
    return _one_hot_max(x, axis)


def _one_hot_max(x, axis):
    """1 at the first maximum along ``axis``, 0 elsewhere (no gradient flows)."""
    moved = singa.Contiguous(singa.Transpose(x.data, [i for i in range(x.ndim()) if i != axis]
                                             + [axis])) if axis != x.ndim() - 1 else x.data
    n = moved.shape()[-1]
    rows = singa.Reshape(moved, [int(moved.Size() // max(n, 1)), n])
    index = singa.ArgMax(rows, 1)
    onehot = singa.OneHot(index, n, 1.0, 0.0, x.dtype)
    onehot = singa.Reshape(onehot, list(moved.shape()))
    if axis != x.ndim() - 1:
        order = [i for i in range(x.ndim()) if i != axis] + [axis]
        back = [order.index(i) for i in range(x.ndim())]
        onehot = singa.Contiguous(singa.Transpose(onehot, back))
    return Tensor(data=onehot, requires_grad=False)
