"""Handlers for ONNX's Mod, Range, OneHot and CumSum: remainders, index sequences and
running sums, each through singa autograd Operations (Range's bounds are host scalars)."""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .registry import HostValue, register

__all__ = ["IntegerMod"]

_FLOAT_DTYPES = (tensor_mod.float32, tensor_mod.float16, tensor_mod.float64)


class IntegerMod(Operation):
    """The remainder of integer tensors in the core: NumPy's ``%`` (the divisor's sign)
    or C's fmod (the dividend's sign). Integer data carries no gradient."""

    def __init__(self, fmod):
        super().__init__()
        self.fmod = bool(fmod)

    def forward(self, a, b):
        native = getattr(singa, "FMod" if self.fmod else "Mod", None)
        if native is not None:
            return native(a, b)
        # A core without integer Mod: the quotient in float64 is exact for int32
        # operands (|a / b - k| >= 1 / |b| is wider than float64's rounding step).
        shape = list(np.broadcast_shapes(tuple(a.shape()), tuple(b.shape())))
        dtype = a.data_type()
        a64 = singa.Broadcast(a, shape).AsType(tensor_mod.float64)
        b64 = singa.Broadcast(b, shape).AsType(tensor_mod.float64)
        ratio = singa.Div(a64, b64)
        quotient = singa.EltwiseMult(singa.Sign(ratio), singa.Floor(singa.Abs(ratio))) \
            if self.fmod else singa.Floor(ratio)
        return singa.Sub(a64, singa.EltwiseMult(quotient, b64)).AsType(dtype)

    def backward(self, dy):
        return None, None


def _trunc(x):
    """Rounds toward zero: sign(x) * floor(|x|) (zero gradient, like floor)."""
    return autograd.mul(autograd.sign(x), autograd.floor(autograd.abs(x)))


@register("Mod")
def _mod(node, ins):
    a, b = ins.t(0), ins.t(1)
    fmod = bool(node.getattr("fmod", 0))
    if a.dtype in _FLOAT_DTYPES and b.dtype in _FLOAT_DTYPES:
        # a - trunc(a / b) * b is C's fmod (the dividend's sign), a - floor(a / b) * b
        # NumPy's % (the divisor's sign; floats allowed from opset 28); both are
        # differentiable in a and b.
        ratio = autograd.div(a, b)
        quotient = _trunc(ratio) if fmod else autograd.floor(ratio)
        return autograd.sub(a, autograd.mul(quotient, b))
    if a.dtype in _FLOAT_DTYPES or b.dtype in _FLOAT_DTYPES:
        raise node.error("inputs of dtypes {} and {} differ".format(
            tensor_mod._DTYPE_NAMES.get(a.dtype, a.dtype),
            tensor_mod._DTYPE_NAMES.get(b.dtype, b.dtype)))
    try:
        return IntegerMod(fmod)(a, b)[0]
    except TypeError as e:
        raise node.error(str(e)) from None


@register("Range")
def _range(node, ins):
    # start, limit and delta are scalars: the sequence is geometry, like a Shape.
    start, limit, delta = (ins.host(i, name) for i, name in
                           enumerate(("start", "limit", "delta")))
    dtype = np.asarray(start).dtype
    s, e, d = (np.asarray(v).reshape(-1)[0].item() for v in (start, limit, delta))
    if d == 0:
        raise node.error("delta is 0")
    count = max(int(np.ceil((e - s) / d)), 0)
    return HostValue((s + np.arange(count) * d).astype(dtype))


@register("OneHot")
def _onehot(node, ins):
    indices = ins.t(0)
    depth = np.asarray(ins.host(1, "depth")).reshape(-1)[0]
    values = np.asarray(ins.host(2, "values")).reshape(-1)
    if depth != int(depth):
        raise node.error("depth {} is not a whole number".format(depth))
    if indices.dtype in _FLOAT_DTYPES:
        # ONNX allows float indices; they name whole classes.
        indices = autograd.cast(_trunc(indices), tensor_mod.int32)
    y = autograd.onehot(node.getattr("axis", -1), indices, int(depth),
                        [values[0].item(), values[1].item()])
    out_dtype = tensor_mod._NP_TO_DTYPE.get(values.dtype)
    if out_dtype is None:
        raise node.error("values of dtype {} have no singa dtype".format(values.dtype))
    return y if y.dtype == out_dtype else autograd.cast(y, out_dtype)


class CumSum(Operation):
    """Running sum along ``axis`` (ONNX CumSum): ``exclusive`` leaves the element itself
    out, ``reverse`` sums from the end. The gradient is the running sum of dy taken the
    other way round."""

    def __init__(self, axis, exclusive=False, reverse=False):
        super().__init__()
        self.axis, self.exclusive, self.reverse = int(axis), bool(exclusive), bool(reverse)

    def forward(self, x):
        return _cumsum(x, self.axis, self.exclusive, self.reverse)

    def backward(self, dy):
        return _cumsum(dy, self.axis, self.exclusive, not self.reverse)


def _cumsum(x, axis, exclusive, reverse):
    native = getattr(singa, "CumSum", None)
    if native is not None:
        return native(x, axis, exclusive, reverse)
    # Without the core kernel: a matrix product with a triangle of ones along ``axis``
    # (the triangle is geometry, built from the axis length alone).
    # y[..., j] = sum_i x[..., i] * m[i, j] with m[i, j] = 1 where i <= j (i < j when
    # exclusive; mirrored when reverse).
    n = x.shape()[axis]
    ones = np.ones((n, n), dtype=tensor_mod._DTYPE_TO_NP[x.data_type()])
    k = 1 if exclusive else 0
    tri = np.tril(ones, -k) if reverse else np.triu(ones, k)
    nd = len(x.shape())
    perm = [i for i in range(nd) if i != axis] + [axis]
    moved = singa.Transpose(x, perm).Clone()
    flat = singa.Reshape(moved, [moved.Size() // n, n])
    summed = singa.Mult(flat, singa.from_numpy(tri, x.device()))
    summed = singa.Reshape(summed, [moved.shape()[i] for i in range(nd)])
    back = [perm.index(i) for i in range(nd)]
    return singa.Transpose(summed, back).Clone()


@register("CumSum")
def _cumsum_node(node, ins):
    x = ins.t(0)
    axis = int(np.asarray(ins.host(1, "axis")).reshape(-1)[0]) % x.ndim()
    return CumSum(axis, node.getattr("exclusive", 0), node.getattr("reverse", 0))(x)[0]
