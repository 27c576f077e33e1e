"""ONNX exporters of the shape, indexing, reduction and spatial Operations
(``autograd/ops_shape.py``, ``ops_spatial.py``). The exporter signature is described in
``export_registry``."""

import numpy as np
from onnx import TensorProto, helper

from .. import singa_wrap as singa
from ..tensor import Tensor
from ..autograd import ops_shape as shp
from ..autograd import ops_spatial as spatial
from .export_registry import ExportError, onnx_dtype, register_export

__all__ = []


def _array(v, dtype=None):
    """A constant operand an op was constructed with (Tensor, core tensor, list) as NumPy."""
    if isinstance(v, Tensor):
        v = v.data
    arr = np.asarray(singa.to_numpy(v) if isinstance(v, singa.Tensor) else v)
    return arr if dtype is None else arr.astype(dtype)


def _reshape(op, ctx, inputs, outputs):
    ctx.node("Reshape", [inputs[0], ctx.int64s(op.shape, "shape")], outputs)


def _flatten(op, ctx, inputs, outputs):
    ctx.node("Flatten", inputs, outputs, axis=op.axis)


def _transpose(op, ctx, inputs, outputs):
    ctx.node("Transpose", inputs, outputs, perm=op.perm)


def _unsqueeze(op, ctx, inputs, outputs):
    ctx.node("Unsqueeze", [inputs[0], ctx.int64s(op.axis, "axes")], outputs)


def _squeeze(op, ctx, inputs, outputs):
    if op.axis:
        ctx.node("Squeeze", [inputs[0], ctx.int64s(op.axis, "axes")], outputs)
        return
    # singa squeezed the size-1 axes of the traced shape: name them, so that a batch of
    # one at run time keeps its batch axis
    axes = [i for i, s in enumerate(ctx.shape(inputs[0])) if s == 1]
    ctx.node("Squeeze", [inputs[0], ctx.int64s(axes, "axes")], outputs)


def _expand(op, ctx, inputs, outputs):
    ctx.node("Expand", [inputs[0], ctx.int64s(op.shape, "shape")], outputs)


def _tile(op, ctx, inputs, outputs):
    # np.tile semantics: repeats and rank are padded with leading ones to the same length
    x, reps = inputs[0], list(op.repeats)
    rank = ctx.rank(x)
    if len(reps) > rank:
        x = ctx.node("Unsqueeze", [x, ctx.int64s(range(len(reps) - rank), "axes")])
    reps = [1] * (rank - len(reps)) + reps
    ctx.node("Tile", [x, ctx.int64s(reps, "repeats")], outputs)


def _slice(op, ctx, inputs, outputs):
    ctx.node("Slice", [inputs[0], ctx.int64s(op.starts, "starts"), ctx.int64s(op.ends, "ends"),
                       ctx.int64s(op.axes, "axes"), ctx.int64s(op.steps, "steps")], outputs)


def _split(op, ctx, inputs, outputs):
    if op.parts is None:
        ctx.node("Split", inputs, outputs, axis=op.axis, num_outputs=len(outputs))
        return
    ctx.node("Split", [inputs[0], ctx.int64s(op.parts, "split")], outputs, axis=op.axis)


def _concat(op, ctx, inputs, outputs):
    ctx.node("Concat", inputs, outputs, axis=op.axis)


def _gather(op, ctx, inputs, outputs):
    idx = ctx.constant(_array(op.indices, np.int64), "indices")
    ctx.node("Gather", [inputs[0], idx], outputs, axis=op.axis)


def _scatter_elements(op, ctx, inputs, outputs):
    idx = ctx.constant(_array(op.indices, np.int64), "indices")
    if len(inputs) > 1:
        updates = inputs[1]
    else:
        updates = ctx.node("CastLike", [ctx.constant(_array(op.updates), "updates"), inputs[0]])
    ctx.node("ScatterElements", [inputs[0], idx, updates], outputs, axis=op.axis)


def _where(op, ctx, inputs, outputs):
    cond = ctx.node("Cast", [ctx.constant(_array(op.condition), "condition")],
                    to=TensorProto.BOOL)
    ctx.node("Where", [cond] + inputs, outputs)


def _constant_of_shape(op, ctx, inputs, outputs):
    shape = ctx.node("Cast", [inputs[0]], to=TensorProto.INT64)
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [op.value])
    ctx.node("ConstantOfShape", [shape], outputs, value=value)


def _cast(op, ctx, inputs, outputs):
    ctx.node("Cast", inputs, outputs, to=onnx_dtype(op.to))


def _onehot(op, ctx, inputs, outputs):
    depth = ctx.constant(np.array(op.depth, np.int64), "depth")
    values = ctx.constant(np.array(op.values, np.float32), "values")
    # onnxruntime implements OneHot for int64 indices with an int64 depth
    idx = ctx.node("Cast", [inputs[0]], to=TensorProto.INT64)
    ctx.node("OneHot", [idx, depth, values], outputs, axis=op.axis)


def _nonzero(op, ctx, inputs, outputs):
    ctx.node("Cast", [ctx.node("NonZero", inputs)], outputs, to=TensorProto.INT32)


def _shape(op, ctx, inputs, outputs):
    ctx.node("Cast", [ctx.node("Shape", inputs)], outputs, to=TensorProto.INT32)


def _reduce(onnx_op):
    def export(op, ctx, inputs, outputs):
        axes = op.axes
        if axes is None:
            ctx.node(onnx_op, inputs, outputs, keepdims=int(op.keepdims))
            return
        axes = [axes] if isinstance(axes, int) else list(axes)
        ctx.node(onnx_op, [inputs[0], ctx.int64s(axes, "axes")], outputs,
                 keepdims=int(op.keepdims))
    return export


def _global_average_pool(op, ctx, inputs, outputs):
    if op.data_format == "channels_first":
        ctx.node("GlobalAveragePool", inputs, outputs)
        return
    rank = ctx.rank(inputs[0])
    ctx.node("ReduceMean", [inputs[0], ctx.int64s(range(1, rank - 1), "axes")], outputs,
             keepdims=1)


register_export(shp.Reshape, _reshape)
register_export(shp.Flatten, _flatten)
register_export(shp.Transpose, _transpose)
register_export(shp.Unsqueeze, _unsqueeze)
register_export(shp.Squeeze, _squeeze)
register_export(shp.Expand, _expand)
register_export(shp.Tile, _tile)
register_export(shp.Slice, _slice)
register_export(shp.Split, _split)
register_export(shp.Concat, _concat)
register_export(shp.Gather, _gather)
register_export(shp.ScatterElements, _scatter_elements)
register_export(shp.Where, _where)
register_export(shp.ConstantOfShape, _constant_of_shape)
register_export(shp.Cast, _cast)
register_export(shp.OneHot, _onehot)
register_export(shp.NonZero, _nonzero)
register_export(shp.Shape, _shape)
register_export(shp.ReduceSum, _reduce("ReduceSum"))
register_export(shp.ReduceMean, _reduce("ReduceMean"))
register_export(shp.GlobalAveragePool, _global_average_pool)


# ---- spatial ----

def _pad(op, ctx, inputs, outputs):
    args = [inputs[0], ctx.int64s(op.pads, "pads")]
    if op.mode == "constant":
        args.append(ctx.node("CastLike", [ctx.constant(np.float32(op.constant), "value"),
                                          inputs[0]]))
    ctx.node("Pad", args, outputs, mode=op.mode)


def _upsample(op, ctx, inputs, outputs):
    # integer nearest-neighbour repeats: output index i reads input floor(i / scale)
    scales = ctx.constant(np.array(op.scales, np.float32), "scales")
    ctx.node("Resize", [inputs[0], "", scales], outputs, mode="nearest",
             coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def _depth_to_space(op, ctx, inputs, outputs):
    ctx.node("DepthToSpace", inputs, outputs, blocksize=op.blocksize, mode=op.mode)


def _space_to_depth(op, ctx, inputs, outputs):
    if op.mode == "DCR":
        ctx.node("SpaceToDepth", inputs, outputs, blocksize=op.blocksize)
        return
    if op.mode != "CRD":
        raise ExportError("to_onnx: {}: SpaceToDepth mode {!r} is not DCR or CRD".format(
            op.name, op.mode))
    # ONNX's SpaceToDepth has only the DCR order: CRD is the inverse of DepthToSpace CRD,
    # written out as reshape - transpose - reshape
    n, c, h, w = ctx.shape(inputs[0])
    b = op.blocksize
    x = ctx.node("Reshape", [inputs[0], ctx.int64s([0, c, h // b, b, w // b, b], "shape")])
    x = ctx.node("Transpose", [x], perm=[0, 1, 3, 5, 2, 4])
    ctx.node("Reshape", [x, ctx.int64s([0, c * b * b, h // b, w // b], "shape")], outputs)


register_export(spatial.Pad, _pad)
register_export(spatial.UpSample, _upsample)
register_export(spatial.DepthToSpace, _depth_to_space)
register_export(spatial.SpaceToDepth, _space_to_depth)
