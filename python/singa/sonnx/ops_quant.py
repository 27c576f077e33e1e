"""Handlers for ONNX's linear (de)quantization to and from uint8 and int32: scales per
tensor, per axis or per block, composed from autograd operations; DynamicQuantizeLinear
finds its own uint8 scale and zero point."""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .registry import register

__all__ = ["DynamicQuantize"]

# Quantized dtypes the core holds, with their saturation bounds.
_BOUNDS = {tensor_mod.uint8: (0, 255), tensor_mod.int32: (-2 ** 31, 2 ** 31 - 1)}


def _spread(param, x, axis, block_size):
    """``param`` (a scale or zero point) shaped to broadcast against x: a scalar as it is,
    a 1-D one along ``axis``, a blocked one repeated ``block_size`` times along it."""
    if param.ndim() == 0 or param.size() == 1 and not block_size:
        return param
    if block_size:
        # Element i of the axis reads block i // block_size (the indices are geometry).
        blocks = np.arange(x.shape[axis]) // block_size
        return autograd.gather(param, axis, tensor_mod.from_numpy(
            blocks.astype(np.int64), x.device, keep_dtype=True))
    shape = [1] * x.ndim()
    shape[axis] = param.size()
    return autograd.reshape(param, shape)


def _axis_and_block(node, x):
    return node.getattr("axis", 1) % max(x.ndim(), 1), node.getattr("block_size", 0)


def _quantized_dtype(node, ins):
    if ins.has(2):
        return ins.t(2).dtype
    onnx_type = node.getattr("output_dtype", 0)
    if onnx_type in (0, 2):  # unset, or TensorProto.UINT8
        return tensor_mod.uint8
    if onnx_type == 6:  # TensorProto.INT32
        return tensor_mod.int32
    raise node.error("output_dtype {} has no singa dtype (uint8 and int32 are held)".format(
        onnx_type))


@register("QuantizeLinear")
def _quantize(node, ins):
    x = ins.t(0)
    axis, block = _axis_and_block(node, x)
    dtype = _quantized_dtype(node, ins)
    if dtype not in _BOUNDS:
        raise node.error("quantizing to {} is not supported (uint8 and int32 are)".format(
            tensor_mod._DTYPE_NAMES.get(dtype, dtype)))
    scale = autograd.cast(_spread(ins.t(1), x, axis, block), tensor_mod.float32)
    q = autograd.rounde(autograd.div(autograd.cast(x, tensor_mod.float32), scale))
    if ins.has(2):
        zero = autograd.cast(_spread(ins.t(2), x, axis, block), tensor_mod.float32)
        q = autograd.add(q, zero)
    low, high = _BOUNDS[dtype]
    return autograd.cast(autograd.clip(q, float(low), float(high)), dtype)


@register("DequantizeLinear")
def _dequantize(node, ins):
    x = ins.t(0)
    axis, block = _axis_and_block(node, x)
    if x.dtype not in _BOUNDS:
        raise node.error("dequantizing {} is not supported (uint8 and int32 are)".format(
            tensor_mod._DTYPE_NAMES.get(x.dtype, x.dtype)))
    scale = _spread(ins.t(1), x, axis, block)
    y = autograd.cast(x, tensor_mod.float32)
    if ins.has(2):
        y = autograd.sub(y, autograd.cast(_spread(ins.t(2), x, axis, block),
                                          tensor_mod.float32))
    y = autograd.mul(y, autograd.cast(scale, tensor_mod.float32))
    return y if scale.dtype == tensor_mod.float32 else autograd.cast(y, scale.dtype)


class DynamicQuantize(Operation):
    """uint8 quantization with the scale and zero point that map [min(x, 0), max(x, 0)]
    onto [0, 255] (ONNX DynamicQuantizeLinear): outputs y, scale, zero point."""

    def forward(self, x):
        dev = x.device()
        zero = singa.from_numpy(np.zeros(1, np.float32), dev)
        high = singa.EltwiseMax(singa.Reshape(singa.ReduceMax(x, None, False), [1]), zero)
        low = singa.EltwiseMin(singa.Reshape(singa.ReduceMin(x, None, False), [1]), zero)
        scale = singa.DivFloat(singa.Sub(high, low), 255.0)
        point = singa.Clip(singa.RoundE(singa.Neg(singa.Div(low, scale))), 0.0, 255.0)
        y = singa.Add(singa.RoundE(singa.Div(x, scale)), point)
        y = singa.Clip(y, 0.0, 255.0).AsType(tensor_mod.uint8)
        return y, singa.Reshape(scale, []), singa.Reshape(point, []).AsType(tensor_mod.uint8)

    def backward(self, dy, dscale, dpoint):
        return None


@register("DynamicQuantizeLinear")
def _dynamic_quantize(node, ins):
    x = ins.t(0)
    if x.dtype != tensor_mod.float32:
        x = autograd.cast(x, tensor_mod.float32)
    return DynamicQuantize()(x)
