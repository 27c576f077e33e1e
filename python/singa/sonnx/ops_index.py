"""Handlers for ONNX's Mod, BitShift, Range, OneHot, CumSum, CumProd and ReverseSequence:
remainders, shifts, index sequences, running sums and products and reordered sequences,
each through singa autograd Operations (Range's bounds are host scalars)."""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .ops_shape import GatherElements
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
        return (singa.FMod if self.fmod else singa.Mod)(a, b)

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
    return IntegerMod(fmod)(a, b)[0]


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
    return singa.CumSum(x, axis, exclusive, reverse)


@register("CumSum")
def _cumsum_node(node, ins):
    x = ins.t(0)
    axis = int(np.asarray(ins.host(1, "axis")).reshape(-1)[0]) % x.ndim()
    return CumSum(axis, node.getattr("exclusive", 0), node.getattr("reverse", 0))(x)[0]


class BitShift(Operation):
    """x << s or x >> s (arithmetic for signed types) on integer tensors, as ONNX
    defines it for shifts outside [0, width): 0, or -1 for negative x shifted right.
    Built from exact integer powers of two: x * 2**s wraps like a shift."""

    def __init__(self, left):
        super().__init__()
        self.left = bool(left)

    def forward(self, x, s):
        np_type = np.dtype(tensor_mod._DTYPE_TO_NP[x.data_type()])
        shape = list(np.broadcast_shapes(tuple(x.shape()), tuple(s.shape())))
        x = singa.Broadcast(x, shape)

        def const(v):
            return singa.from_numpy(np.full([1] * len(shape), v, np_type), x.device())

        width = np_type.itemsize * 8
        valid = singa.AndBool(singa.GEBool(s, const(0)), singa.LTBool(s, const(width)))
        power = singa.Pow(const(2), singa.Where(valid, s, const(0)))
        if self.left:
            return singa.Where(valid, singa.EltwiseMult(x, power), const(0))
        # floor(x / 2**s): x minus its non-negative remainder divides exactly.
        shifted = singa.Div(singa.Sub(x, singa.Mod(x, power)), power)
        negative_fill = const(-1 if np_type.kind == "i" else 0)
        outside = singa.Where(singa.LTBool(x, const(0)), negative_fill, const(0))
        return singa.Where(valid, shifted, outside)

    def backward(self, dy):
        return None, None


@register("BitShift")
def _bitshift(node, ins):
    x, s = ins.t(0), ins.t(1)
    if x.dtype in _FLOAT_DTYPES or x.dtype == tensor_mod.bool_:
        raise node.error("inputs must be integers, got {}".format(
            tensor_mod._DTYPE_NAMES.get(x.dtype, x.dtype)))
    direction = node.getattr("direction")
    if direction not in ("LEFT", "RIGHT"):
        raise node.error("direction must be 'LEFT' or 'RIGHT', got {!r}".format(direction))
    return BitShift(direction == "LEFT")(x, s)[0]


@register("CumProd")
def _cumprod(node, ins):
    x = ins.t(0)
    axis = int(np.asarray(ins.host(1, "axis")).reshape(-1)[0]) % x.ndim()
    n = x.shape[axis]
    order = list(range(n))[::-1] if node.getattr("reverse", 0) else list(range(n))
    exclusive = bool(node.getattr("exclusive", 0))
    # The running product, one slice of the axis at a time (the core has no scan kernel).
    running, parts = None, {}
    for i in order:
        step = autograd.slice(x, [i], [i + 1], [axis])
        if exclusive:
            parts[i] = running if running is not None else _ones_like(step)
        running = step if running is None else autograd.mul(running, step)
        if not exclusive:
            parts[i] = running
    if n == 0:
        return autograd.identity(x)
    return autograd.cat([parts[i] for i in range(n)], axis)


def _ones_like(t):
    return tensor_mod.Tensor(device=t.device, data=np.ones(
        t.shape, tensor_mod._DTYPE_TO_NP[t.dtype]), dtype=t.dtype, requires_grad=False)


@register("ReverseSequence")
def _reverse_sequence(node, ins):
    x = ins.t(0)
    # The lengths say which positions swap: they are read as shape-like host values.
    lengths = [int(v) for v in np.asarray(ins.host(1, "sequence_lens")).reshape(-1)]
    batch_axis, time_axis = node.getattr("batch_axis", 1), node.getattr("time_axis", 0)
    steps = x.shape[time_axis]
    if len(lengths) != x.shape[batch_axis] or any(not 0 <= n <= steps for n in lengths):
        raise node.error("sequence_lens {} for {} sequences of {} steps".format(
            lengths, x.shape[batch_axis], steps))
    # source[t, b]: the time step output t of sequence b reads (geometry from the lengths).
    source = np.array([[n - 1 - t if t < n else t for n in lengths] for t in range(steps)],
                      np.int64)
    if batch_axis < time_axis:
        source = source.T
    shape = [1] * x.ndim()
    shape[time_axis], shape[batch_axis] = steps, len(lengths)
    index = np.broadcast_to(source.reshape(shape), x.shape)
    index = tensor_mod.from_numpy(np.ascontiguousarray(index), x.device, keep_dtype=True)
    return GatherElements(time_axis)(x, index)[0]
