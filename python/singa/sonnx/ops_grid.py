"""Handler for ONNX's GridSample (2-D and 3-D; nearest, linear, cubic; zeros, border,
reflection padding). The sampling positions come from the grid tensor, so every step -
unnormalising, reflecting, tap weights, the flat index of each tap - runs through
autograd operations; the taps are read with GatherElements."""

import itertools

import numpy as np

from .. import autograd
from .. import tensor as tensor_mod
from .ops_math import affine
from .ops_shape import GatherElements
from .registry import register

__all__ = []

_CUBIC_A = -0.75


def _const(value, like):
    return tensor_mod.Tensor(device=like.device, data=np.full(
        (1,) * like.ndim(), value, dtype=tensor_mod._DTYPE_TO_NP[like.dtype]),
        dtype=like.dtype, requires_grad=False)


def _less(a, value):
    return autograd.less(a, _const(value, a))


def _reflect(x, low, high):
    """x folded back into [low, high] by reflecting at the borders, as often as needed
    (values inside stay as they are)."""
    span = high - low
    below = _less(x, low)
    outside = autograd.add(below, autograd.greater(x, _const(high, x)))
    dist = autograd.where(affine(x, -1.0, low), affine(x, 1.0, -high), below)
    folds = autograd.floor(affine(dist, 1.0 / span))
    rest = autograd.sub(dist, affine(folds, span))
    odd = autograd.sub(folds, affine(autograd.floor(affine(folds, 0.5)), 2.0))
    # Even folds land at low + rest (from below) or high - rest (from above); odd the other.
    from_low, from_high = affine(rest, 1.0, low), affine(rest, -1.0, high)
    even_value = autograd.where(from_low, from_high, below)
    odd_value = autograd.where(from_high, from_low, below)
    return autograd.where(autograd.where(odd_value, even_value, odd), x, outside)


def _cubic_weights(t):
    """Keys' cubic convolution weights of the taps at -1, 0, 1, 2 for offset t in [0, 1)."""
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return affine(autograd.mul(autograd.mul(d, d), affine(d, a + 2, -(a + 3))), 1.0, 1.0)

    def far(d):  # 1 < |d| < 2
        return affine(autograd.mul(affine(autograd.mul(affine(d, a, -5 * a), d), 1.0, 8 * a),
                                   d), 1.0, -4 * a)

    return [far(affine(t, 1.0, 1.0)), near(t), near(affine(t, -1.0, 1.0)),
            far(affine(t, -1.0, 2.0))]


def _axis_taps(x, size, mode, padding, align):
    """[(index, weight)] along one axis: the tap positions (float, whole numbers) and
    their weights (zero for a tap outside the data under zeros padding)."""
    low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
    if mode == "nearest":
        x = autograd.rounde(x)
    if padding == "border":
        outside = autograd.add(_less(x, low), autograd.greater(x, _const(high, x)))
        x = autograd.where(autograd.clip(x, 0.0, size - 1.0), x, outside)
    elif padding == "reflection":
        x = _reflect(x, low, high)
    if mode == "nearest":
        taps = [(x, None)]
    else:
        base = autograd.floor(x)
        t = autograd.sub(x, base)
        weights = [affine(t, -1.0, 1.0), t] if mode == "linear" else _cubic_weights(t)
        offsets = [0, 1] if mode == "linear" else [-1, 0, 1, 2]
        taps = [(affine(base, 1.0, o), w) for o, w in zip(offsets, weights)]
    out = []
    for index, weight in taps:
        if padding == "zeros":
            valid = autograd.mul(autograd.greater(index, _const(-1.0, index)),
                                 _less(index, float(size)))
            weight = valid if weight is None else autograd.mul(weight, valid)
            index = autograd.clip(index, 0.0, size - 1.0)
        elif padding == "border":
            index = autograd.clip(index, 0.0, size - 1.0)
        else:
            # Read the way the reference reads: reflected, truncated, kept inside.
            # (Truncating toward zero is flooring once the index is clipped to >= 0.)
            index = autograd.floor(autograd.clip(_reflect(index, low, high), 0.0, size - 1.0))
        out.append((index, weight))
    return out


@register("GridSample")
def _grid_sample(node, ins):
    x, grid = ins.t(0), ins.t(1)
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(node.getattr("mode", "linear"),
                                                         node.getattr("mode", "linear"))
    padding = node.getattr("padding_mode", "zeros")
    align = bool(node.getattr("align_corners", 0))
    if mode not in ("nearest", "linear", "cubic") or \
            padding not in ("zeros", "border", "reflection"):
        raise node.error("mode {!r} / padding_mode {!r} is not supported".format(mode, padding))
    dims = list(x.shape[2:])
    n, c, nd = x.shape[0], x.shape[1], len(dims)
    out_dims = list(grid.shape[1:-1])
    points = int(np.prod(out_dims, dtype=np.int64))
    flat_grid = autograd.reshape(grid, [n, 1, points, nd])
    per_axis = []
    for axis, size in enumerate(dims):
        # The grid's last axis lists coordinates fastest-axis first (x, y[, z]).
        g = autograd.reshape(autograd.slice(flat_grid, [nd - 1 - axis], [nd - axis], [3]),
                             [n, 1, points])
        pos = affine(g, (size - 1) / 2.0, (size - 1) / 2.0) if align else \
            affine(g, size / 2.0, (size - 1) / 2.0)
        per_axis.append(_axis_taps(pos, size, mode, padding, align))
    strides = [int(np.prod(dims[i + 1:], dtype=np.int64)) for i in range(nd)]
    data = autograd.reshape(x, [n, c, int(np.prod(dims, dtype=np.int64))])
    total = None
    for combo in itertools.product(*per_axis):
        flat = None
        weight = None
        for (index, w), stride in zip(combo, strides):
            part = affine(index, float(stride))
            flat = part if flat is None else autograd.add(flat, part)
            if w is not None:
                weight = w if weight is None else autograd.mul(weight, w)
        gather_at = autograd.expand(autograd.cast(flat, tensor_mod.int64), [n, c, points])
        value = GatherElements(2)(data, gather_at)[0]
        if weight is not None:
            value = autograd.mul(value, weight)
        total = value if total is None else autograd.add(total, value)
    return autograd.reshape(total, [n, c] + out_dims)
