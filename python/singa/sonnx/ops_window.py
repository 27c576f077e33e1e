"""Pooling that the core's pooling handle does not cover (3-D windows, dilation, average
pooling with ceil_mode, LpPool), composed from strided slices of the padded input: each
kernel offset is one slice, combined by max, sum or the p-norm."""

import itertools

import numpy as np

from .. import autograd
from ..tensor import _DTYPE_TO_NP, Tensor
from .registry import register

__all__ = ["window_pool"]


def _geometry(node, shape):
    nd = len(shape) - 2
    kernel = list(node.getattr("kernel_shape"))
    strides = list(node.getattr("strides", [1] * nd))
    dilations = list(node.getattr("dilations", [1] * nd))
    auto_pad = node.getattr("auto_pad", "NOTSET")
    size = list(shape[2:])
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-n // s) for n, s in zip(size, strides)]
        total = [max((o - 1) * s + e - n, 0) for o, s, e, n in zip(out, strides, span, size)]
        small = [t // 2 for t in total]
        begin = small if auto_pad == "SAME_UPPER" else [t - h for t, h in zip(total, small)]
        end = [t - b for t, b in zip(total, begin)]
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
    else:
        pads = list(node.getattr("pads", [0] * (2 * nd)))
        begin, end = pads[:nd], pads[nd:]
    ceil = bool(node.getattr("ceil_mode", 0))
    out = []
    for n, b, e, s, w in zip(size, begin, end, strides, span):
        room = n + b + e - w
        o = (-(-room // s) if ceil else room // s) + 1
        if ceil and (o - 1) * s >= n + b:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    extra = [max((o - 1) * s + w - (n + b + e), 0)
             for o, s, w, n, b, e in zip(out, strides, span, size, begin, end)]
    return kernel, strides, dilations, begin, end, extra, out


def _windows(x, kernel, strides, dilations, out):
    nd = len(kernel)
    for offset in itertools.product(*[range(k) for k in kernel]):
        starts = [o * d for o, d in zip(offset, dilations)]
        ends = [st + (n - 1) * s + 1 for st, n, s in zip(starts, out, strides)]
        yield autograd.slice(x, starts, ends, list(range(2, 2 + nd)), strides)


def window_pool(node, x, kind, p=2):
    """Pools x (N, C, spatial...) with the node's window attributes; ``kind`` is "max",
    "avg" or "lp"."""
    kernel, strides, dilations, begin, end, extra, out = _geometry(node, x.shape)
    total_end = [e + x_ for e, x_ in zip(end, extra)]
    pads = [0, 0] + begin + [0, 0] + total_end
    fill = -np.inf if kind == "max" else 0.0
    padded = autograd.pad(x, "constant", pads, fill) if any(pads) else x
    source = padded if kind != "lp" else autograd.abs(padded)
    if kind == "lp" and p != 1:
        source = autograd.pow(source, _const(np.asarray(float(p)), x))
    parts = list(_windows(source, kernel, strides, dilations, out))
    if kind == "max":
        return parts[0] if len(parts) == 1 else autograd.max(*parts)
    total = autograd.add_all(*parts)
    if kind == "lp":
        return total if p == 1 else autograd.pow(total, _const(np.asarray(1.0 / p), x))
    # The divisor per output: the window's positions inside the input, plus those in
    # the explicit pads when count_include_pad (never the ceil_mode extension).
    inside = np.ones(x.shape[2:])
    inside = np.pad(inside, list(zip(begin, end)),
                    constant_values=1.0 if node.getattr("count_include_pad", 0) else 0.0)
    inside = np.pad(inside, [(0, e) for e in extra])
    count = np.zeros(out)
    for offset in itertools.product(*[range(k) for k in kernel]):
        index = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                      for o, d, n, s in zip(offset, dilations, out, strides))
        count = count + inside[index]
    return autograd.div(total, _const(count.reshape([1, 1] + out), x))


def _const(array, like):
    return Tensor(device=like.device, data=np.ascontiguousarray(
        np.asarray(array, dtype=_DTYPE_TO_NP[like.dtype])), dtype=like.dtype,
        requires_grad=False)


@register("LpPool")
def _lppool(node, ins):
    return window_pool(node, ins.t(0), "lp", node.getattr("p", 2))


@register("GlobalLpPool")
def _global_lppool(node, ins):
    x = ins.t(0)
    p = node.getattr("p", 2)
    axes = list(range(2, x.ndim()))
    powered = autograd.pow(autograd.abs(x), _const(np.asarray(float(p)), x))
    total = autograd.reduce_sum(powered, axes, 1)
    return autograd.pow(total, _const(np.asarray(1.0 / p), x))
