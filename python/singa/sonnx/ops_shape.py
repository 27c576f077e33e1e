"""Handlers for ONNX's shape, indexing, constant and spatial-rearrangement operators.
Shape-like inputs (Reshape's shape, Slice's starts, ...) are read as host constants."""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .common import NP_TYPE_TO_SINGA_SUPPORT_TYPE, onnx_type_to_singa_type
from .ops_nd import ScatterAdd
from .registry import HostValue, register

__all__ = ["GatherElements"]


class GatherElements(Operation):
    """y[i][j] = x[index[i][j]][j] (axis 0) and so on; ONNX GatherElements."""

    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x, index):
        self.save(idx=index, xshape=x.shape())
        return singa.GatherElements(x, index, self.axis)

    def backward(self, dy):
        dx = singa.Tensor(list(self.xshape), dy.device(), dy.data_type())
        dx.SetValue(0.0)
        return singa.ScatterElements(dx, self.idx, dy, self.axis, True), None


def _ints(array):
    return [int(v) for v in np.asarray(array).reshape(-1)]


def _attr_or_input(node, ins, name, index, since):
    """An attribute before opset ``since``, the host input ``index`` from it on."""
    if node.opset is not None and node.opset < since:
        value = node.getattr(name)
        return None if value is None else list(value)
    return _ints(ins.host(index, name)) if ins.has(index) else None


@register("Identity")
def _identity(node, ins):
    return autograd.identity(ins.t(0))


@register("Reshape")
def _reshape(node, ins):
    x = ins.t(0)
    shape = node.getattr("shape") if node.opset is not None and node.opset < 5 else \
        _ints(ins.host(1, "shape"))
    shape = list(shape)
    if not node.getattr("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    elif 0 in shape and -1 in shape:
        raise node.error("allowzero with both 0 and -1 in shape {}".format(shape))
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0:
            raise node.error("cannot infer -1 in shape {} for {}".format(shape, x.shape))
        shape[shape.index(-1)] = x.size() // known
    if int(np.prod(shape, dtype=np.int64)) != x.size():
        raise node.error("cannot reshape {} to {}".format(x.shape, shape))
    return autograd.reshape(x, shape)


@register("Transpose")
def _transpose(node, ins):
    x = ins.t(0)
    perm = node.getattr("perm", list(range(x.ndim()))[::-1])
    return autograd.transpose(x, list(perm))


@register("Squeeze")
def _squeeze(node, ins):
    x = ins.t(0)
    axes = _attr_or_input(node, ins, "axes", 1, 13)
    nd = x.ndim()
    axes = [i for i in range(nd) if x.shape[i] == 1] if axes is None else [a % nd for a in axes]
    for a in axes:
        if x.shape[a] != 1:
            raise node.error("axis {} of shape {} is not 1".format(a, x.shape))
    return autograd.reshape(x, [s for i, s in enumerate(x.shape) if i not in axes])


@register("Unsqueeze")
def _unsqueeze(node, ins):
    x = ins.t(0)
    axes = _attr_or_input(node, ins, "axes", 1, 13)
    out_nd = x.ndim() + len(axes)
    axes = sorted(a % out_nd for a in axes)
    shape, rest = [], iter(x.shape)
    for i in range(out_nd):
        shape.append(1 if i in axes else next(rest))
    return autograd.reshape(x, shape)


@register("Concat")
def _concat(node, ins):
    xs = [t for t in ins.tensors() if t is not None]
    axis = node.getattr("axis") % xs[0].ndim()
    return autograd.cat(xs, axis)


@register("Split")
def _split(node, ins):
    x = ins.t(0)
    axis = node.getattr("axis", 0) % x.ndim()
    parts = _attr_or_input(node, ins, "split", 1, 13)
    n_out = len(node.outputs)
    if parts is None:
        size = x.shape[axis]
        count = node.getattr("num_outputs", n_out)
        step = -(-size // count)
        parts = [min(step, size - i * step) for i in range(count)]
    return autograd.split(x, axis, parts)


@register("Slice")
def _slice(node, ins):
    x = ins.t(0)
    if node.opset is not None and node.opset < 10:
        starts, ends = list(node.getattr("starts")), list(node.getattr("ends"))
        axes, steps = node.getattr("axes"), None
    else:
        starts, ends = _ints(ins.host(1, "starts")), _ints(ins.host(2, "ends"))
        axes = _ints(ins.host(3, "axes")) if ins.has(3) else None
        steps = _ints(ins.host(4, "steps")) if ins.has(4) else None
    axes = list(range(len(starts))) if axes is None else [a % x.ndim() for a in axes]
    # Python's slice clamps ONNX's huge sentinels (INT64_MAX) by itself.
    return autograd.slice(x, starts, ends, axes, steps)


@register("Gather")
def _gather(node, ins):
    x, idx = ins.t(0), ins.t(1)
    return autograd.gather(x, node.getattr("axis", 0), idx)


@register("GatherElements")
def _gather_elements(node, ins):
    x, idx = ins.t(0), ins.t(1)
    return GatherElements(node.getattr("axis", 0) % x.ndim())(x, idx)[0]


@register("ScatterElements", "Scatter")
def _scatter_elements(node, ins):
    x, idx, updates = ins.t(0), ins.t(1), ins.t(2)
    if node.getattr("reduction", "none") == "add":
        return ScatterAdd(node.getattr("axis", 0) % x.ndim())(x, updates, idx)[0]
    if node.getattr("reduction", "none") != "none":
        raise node.error("reduction {!r} is not supported (none and add are)".format(
            node.getattr("reduction")))
    return autograd.ScatterElements(idx, None, node.getattr("axis", 0) % x.ndim())(x, updates)[0]


@register("Expand")
def _expand(node, ins):
    x = ins.t(0)
    return autograd.expand(x, _ints(ins.host(1, "shape")))


@register("Tile")
def _tile(node, ins):
    return autograd.tile(ins.t(0), _ints(ins.host(1, "repeats")))


@register("Pad")
def _pad(node, ins):
    x = ins.t(0)
    mode = node.getattr("mode", "constant")
    if node.opset is not None and node.opset < 11:
        pads, value = list(node.getattr("pads")), node.getattr("value", 0.0)
    else:
        pads = _ints(ins.host(1, "pads"))
        value = float(ins.host(2, "constant_value").reshape(-1)[0]) if ins.has(2) else 0.0
        if ins.has(3):
            axes = [a % x.ndim() for a in _ints(ins.host(3, "axes"))]
            full = [0] * (2 * x.ndim())
            for k, a in enumerate(axes):
                full[a], full[a + x.ndim()] = pads[k], pads[k + len(axes)]
            pads = full
    if mode not in ("constant", "edge", "reflect"):
        raise node.error("mode {!r} is not supported".format(mode))
    return autograd.pad(x, mode, pads, value)


@register("Cast")
def _cast(node, ins):
    x = ins.t(0)
    try:
        to = onnx_type_to_singa_type(node.getattr("to"))
    except TypeError as e:
        raise node.error(str(e)) from None
    return autograd.cast(x, to)


def _constant_array(node):
    attrs = node.attrs
    if "value" in attrs:
        return np.asarray(attrs["value"])
    if "value_float" in attrs:
        return np.asarray(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.asarray(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.asarray(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.asarray(attrs["value_ints"], dtype=np.int64)
    raise node.error("only tensor, float(s) and int(s) constants are supported, got "
                     "attributes {}".format(sorted(attrs)))


@register("Constant")
def _constant(node, ins):
    return HostValue(_constant_array(node))


@register("ConstantOfShape")
def _constant_of_shape(node, ins):
    shape = _ints(ins.host(0, "shape"))
    value = node.getattr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    try:
        dtype = NP_TYPE_TO_SINGA_SUPPORT_TYPE[value.dtype]
    except KeyError:
        raise node.error("value of dtype {} has no singa dtype".format(value.dtype)) from None
    out = tensor_mod.Tensor(tuple(shape), ins.device, dtype, requires_grad=False)
    out.set_value(value[0].item())
    return out


@register("Shape")
def _shape(node, ins):
    # Only the tensor's metadata is read: nothing is computed.
    x = ins.t(0)
    dims = list(x.shape)
    start, end = node.getattr("start", 0), node.getattr("end", len(dims))
    return HostValue(np.asarray(dims[slice(start, end)], dtype=np.int64))


@register("Size")
def _size(node, ins):
    return HostValue(np.asarray(ins.t(0).size(), dtype=np.int64))


@register("Where")
def _where(node, ins):
    cond, a, b = ins.t(0), ins.t(1), ins.t(2)
    return autograd.where(a, b, cond)


@register("DepthToSpace", "SpaceToDepth")
def _depth_space(node, ins):
    fn = autograd.depth_to_space if node.op_type == "DepthToSpace" else autograd.space_to_depth
    return fn(ins.t(0), node.getattr("blocksize"), node.getattr("mode", "DCR"))


@register("CenterCropPad")
def _center_crop_pad(node, ins):
    x = ins.t(0)
    shape = _ints(ins.host(1, "shape"))
    axes = node.getattr("axes")
    axes = list(range(x.ndim())) if axes is None else [a % x.ndim() for a in axes]
    y = x
    for a, want in zip(axes, shape):
        have = y.shape[a]
        if want < have:
            start = (have - want) // 2
            y = autograd.slice(y, [start], [start + want], [a])
        elif want > have:
            pads = [0] * (2 * y.ndim())
            pads[a] = (want - have) // 2
            pads[a + y.ndim()] = want - have - pads[a]
            y = autograd.pad(y, "constant", pads, 0.0)
    return y if y is not x else autograd.identity(x)
