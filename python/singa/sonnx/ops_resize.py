"""Handlers for ONNX's Resize and Upsample. Interpolation is separable: along each
resized axis the output is a weighted sum of a few gathered input slices, the taps'
indices and weights following from the geometry (sizes, scales, modes) alone, so the
gradient flows back through Gather to the input."""

import math

import numpy as np

from .. import autograd
from ..tensor import Tensor
from .registry import register

__all__ = []


def _source_coordinate(mode, x, scale, n_in, n_out, roi):
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else -0.5
    if mode == "half_pixel_symmetric":
        adjustment = n_out / (scale * n_in)
        offset = n_in / 2.0 * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "align_corners":
        return 0.0 if n_out == 1 else x * (n_in - 1) / (n_out - 1)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if n_out == 1:
            return (end - start) * (n_in - 1) / 2.0 + start * (n_in - 1)
        return x * (end - start) * (n_in - 1) / (n_out - 1) + start * (n_in - 1)
    raise ValueError("coordinate_transformation_mode {!r}".format(mode))


def _nearest(ratio, rule):
    if rule == "round_prefer_floor":
        return [ratio <= 0.5, ratio > 0.5]
    if rule == "round_prefer_ceil":
        return [ratio < 0.5, ratio >= 0.5]
    if rule == "floor":
        return [1.0, 0.0]
    if rule == "ceil":
        return [0.0, 1.0]
    raise ValueError("nearest_mode {!r}".format(rule))


def _cubic(ratio, a):
    def kernel(d):
        d = abs(d)
        if d <= 1:
            return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
        if d < 2:
            return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
        return 0.0
    return [kernel(ratio + 1), kernel(ratio), kernel(1 - ratio), kernel(2 - ratio)]


def _coefficients(opts, ratio, scale):
    """Weights of the taps left and right of a source coordinate (ratio in (0, 1])."""
    mode = opts["mode"]
    if mode == "nearest":
        if ratio == 1.0:  # on an input sample: take it, whatever the rounding rule
            return [0.0, 1.0]
        return [float(c) for c in _nearest(ratio, opts["nearest_mode"])]
    antialias = opts["antialias"] and scale < 1.0
    if mode == "linear":
        if not antialias:
            return [1.0 - ratio, ratio]
        start = int(math.floor(-1.0 / scale) + 1)
        weights = [max(0.0, 1 - abs((i - ratio) * scale))
                   for i in range(start, start + 2 - 2 * start)]
    else:
        if not antialias:
            return _cubic(ratio, opts["cubic_coeff_a"])
        start = int(math.floor(-2.0 / scale) + 1)
        weights = [_cubic_weight(scale * (i - ratio), opts["cubic_coeff_a"])
                   for i in range(start, 2 - start)]
    total = sum(weights)
    return [w / total for w in weights]


def _cubic_weight(d, a):
    d = abs(d)
    if d <= 1:
        return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
    if d < 2:
        return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
    return 0.0


def _taps(opts, n_in, n_out, scale, roi):
    """(indices, weights, inside) arrays of shape (n_out, taps) for one axis, and the
    per-output mask of coordinates inside the input (tf_crop_and_resize)."""
    rows_i, rows_w, inside = [], [], []
    for x in range(n_out):
        src = _source_coordinate(opts["coordinate_transformation_mode"], x, scale, n_in,
                                 n_out, roi)
        inside.append(0.0 <= src <= n_in - 1 or
                      opts["coordinate_transformation_mode"] != "tf_crop_and_resize")
        base = math.floor(src)
        ratio = 1.0 if float(src).is_integer() else src - base
        coeffs = _coefficients(opts, ratio, scale)
        # The taps sit around the source, the left one at or before it.
        left = (base if ratio < 1.0 else base - 1) - (len(coeffs) // 2 - 1)
        idx = [left + k for k in range(len(coeffs))]
        if opts["exclude_outside"]:
            coeffs = [c if 0 <= i < n_in else 0.0 for c, i in zip(coeffs, idx)]
            total = sum(coeffs)
            coeffs = [c / total for c in coeffs]
        rows_i.append([min(max(i, 0), n_in - 1) for i in idx])
        rows_w.append(coeffs)
    return np.asarray(rows_i, np.int32), np.asarray(rows_w), np.asarray(inside)


def _resize_axis(x, axis, opts, n_out, scale, roi):
    n_in = x.shape[axis]
    idx, weights, inside = _taps(opts, n_in, n_out, scale, roi)
    shape = [1] * x.ndim()
    shape[axis] = n_out
    y = None
    np_dtype = np.float64 if x.dtype == 4 else np.float32
    for k in range(idx.shape[1]):
        w = weights[:, k]
        if not w.any():
            continue
        part = autograd.gather(x, axis, idx[:, k])
        if not np.all(w == 1.0):
            wt = Tensor(device=x.device, data=w.reshape(shape).astype(np_dtype),
                        dtype=x.dtype, requires_grad=False)
            part = autograd.mul(part, wt)
        y = part if y is None else autograd.add(y, part)
    if y is None:
        y = autograd.mul(autograd.gather(x, axis, idx[:, 0]), Tensor(
            device=x.device, data=np.zeros(shape, np_dtype), dtype=x.dtype,
            requires_grad=False))
    if not inside.all():
        keep = Tensor(device=x.device, data=inside.reshape(shape).astype(np_dtype),
                      dtype=x.dtype, requires_grad=False)
        fill = Tensor(device=x.device, data=((~inside) * opts["extrapolation_value"])
                      .reshape(shape).astype(np_dtype), dtype=x.dtype, requires_grad=False)
        y = autograd.add(autograd.mul(y, keep), fill)
    return y


def _options(node):
    legacy = node.op_type == "Upsample" or (node.opset is not None and node.opset < 11)
    mode = node.getattr("mode", "nearest")
    if mode in ("bilinear", "trilinear"):
        mode = "linear"
    return {
        "mode": mode,
        "coordinate_transformation_mode": "asymmetric" if legacy else
        node.getattr("coordinate_transformation_mode", "half_pixel"),
        "nearest_mode": "floor" if legacy else node.getattr("nearest_mode",
                                                             "round_prefer_floor"),
        "cubic_coeff_a": node.getattr("cubic_coeff_a", -0.75),
        "exclude_outside": bool(node.getattr("exclude_outside", 0)),
        "extrapolation_value": node.getattr("extrapolation_value", 0.0),
        "antialias": bool(node.getattr("antialias", 0)),
    }


def _host_list(ins, i, what):
    if not ins.has(i):
        return None
    value = ins.host(i, what).reshape(-1)
    return value.tolist() if value.size else None


@register("Resize", "Upsample")
def _resize(node, ins):
    x = ins.t(0)
    nd = x.ndim()
    opts = _options(node)
    if opts["mode"] not in ("nearest", "linear", "cubic"):
        raise node.error("mode {!r} is not nearest, linear or cubic".format(opts["mode"]))
    roi = sizes = None
    if node.op_type == "Upsample":
        scales = node.getattr("scales") if node.opset is not None and node.opset < 9 else \
            _host_list(ins, 1, "scales")
    elif node.opset is not None and node.opset < 11:
        scales = _host_list(ins, 1, "scales")
    else:
        roi = _host_list(ins, 1, "roi")
        scales = _host_list(ins, 2, "scales")
        sizes = _host_list(ins, 3, "sizes")
    axes = node.getattr("axes")
    axes = list(range(nd)) if axes is None else [a % nd for a in axes]
    full_roi = [0.0] * nd + [1.0] * nd
    if roi is not None:
        for k, a in enumerate(axes):
            full_roi[a], full_roi[a + nd] = roi[k], roi[k + len(axes)]
    out_shape, factors = list(x.shape), [1.0] * nd
    if sizes is not None:
        ratios = [sizes[k] / x.shape[a] for k, a in enumerate(axes)]
        policy = node.getattr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            r = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [r] * len(axes)
            sizes = [int(math.floor(x.shape[a] * r + 0.5)) for a in axes]
        for k, a in enumerate(axes):
            out_shape[a], factors[a] = int(sizes[k]), ratios[k]
    elif scales is not None:
        for k, a in enumerate(axes):
            factors[a] = float(scales[k])
            out_shape[a] = int(math.floor(x.shape[a] * factors[a]))
    else:
        raise node.error("needs scales or sizes")
    y = x
    for a in range(nd):
        if out_shape[a] == x.shape[a] and factors[a] == 1.0 and \
                opts["coordinate_transformation_mode"] != "tf_crop_and_resize":
            continue
        y = _resize_axis(y, a, opts, out_shape[a], factors[a],
                         (full_roi[a], full_roi[a + nd]))
    return y if y is not x else autograd.identity(x)
