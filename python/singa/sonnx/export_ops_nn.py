"""ONNX exporters of the neural-network Operations (``autograd/ops_nn.py``): Gemm, AddBias,
Dropout, convolution, pooling, batch normalisation, LRN. The exporter signature is
described in ``export_registry``.

The layers of ``singa.layer`` export through the Operations they call: Linear is MatMul and
AddBias, Conv2d/SeparableConv2d are Conv (grouped for the depthwise part), the pooling
layers MaxPool/AveragePool (the 1-D ones between two Reshapes), BatchNorm2d is
BatchNormalization, and RNN/LSTM are their time steps unrolled into MatMul, Add, Sigmoid,
Tanh and Mul nodes, since the layers compute them with those Operations. The fused
Operations (``autograd/ops_fused_nn.py``: Conv2d and BatchNorm2d with activation='RELU')
export as the node pair they fuse, Conv + Relu and BatchNormalization + Relu.
"""

import numpy as np

from .. import singa_wrap as singa
from ..autograd import ops_fused_nn as fused
from ..autograd import ops_nn as nn
from .export_registry import ExportError, register_export

__all__ = []


def _gemm(op, ctx, inputs, outputs):
    ctx.node("Gemm", inputs, outputs, alpha=op.alpha, beta=op.beta, transA=int(op.transA),
             transB=int(op.transB))


def _add_bias(op, ctx, inputs, outputs):
    x, b = inputs
    # a 1-D bias added to rows already broadcasts along the last axis
    try:
        plain = op.axis == 0 and len(ctx.shape(b)) == 1
    except ExportError:  # an unknown shape takes the general form
        plain = False
    if not plain:
        shape = [1, -1] if op.axis == 0 else [-1, 1]
        b = ctx.node("Reshape", [b, ctx.int64s(shape, "shape")])
    ctx.node("Add", [x, b], outputs)


def _dropout(op, ctx, inputs, outputs):
    # the exported model is for inference, where dropout passes its input through
    ctx.node("Identity", inputs, outputs)


def _pads(handle):
    """ONNX pads (top, left, bottom, right) of a conv or pooling handle."""
    return [handle.pad_top, handle.pad_left, handle.pad_bottom, handle.pad_right]


def _conv(op, ctx, inputs, outputs):
    h = op.handle
    ctx.node("Conv", inputs, outputs, kernel_shape=[h.kernel_h, h.kernel_w],
             strides=[h.stride_h, h.stride_w], pads=_pads(h),
             dilations=[h.dilation_h, h.dilation_w], group=h.group)


def _floor_size(n, pad, k, s):
    return (n + pad - k) // s + 1


def _pool(op, ctx, inputs, outputs):
    h = op.handle
    # the handle's output size; where it exceeds the floor formula, singa rounded up
    floor_h = _floor_size(h.height, h.pad_top + h.pad_bottom, h.kernel_h, h.stride_h)
    floor_w = _floor_size(h.width, h.pad_left + h.pad_right, h.kernel_w, h.stride_w)
    ceil = int(h.pooled_height > floor_h or h.pooled_width > floor_w)
    attrs = dict(kernel_shape=[h.kernel_h, h.kernel_w], strides=[h.stride_h, h.stride_w],
                 pads=_pads(h), ceil_mode=ceil)
    if h.is_max_pooling:
        ctx.node("MaxPool", inputs, outputs, **attrs)
    else:
        ctx.node("AveragePool", inputs, outputs, count_include_pad=int(h.count_include_pad),
                 **attrs)


def _batchnorm(op, ctx, inputs, outputs):
    # inference form: the running statistics as they are now
    mean = ctx.constant(np.asarray(singa.to_numpy(op.running_mean)), "running_mean")
    var = ctx.constant(np.asarray(singa.to_numpy(op.running_var)), "running_var")
    ctx.node("BatchNormalization", list(inputs) + [mean, var], outputs,
             epsilon=float(op.handle.eps))


def _conv_relu(op, ctx, inputs, outputs):
    # ONNX has no fused node: Conv then Relu (runtimes fuse the pair themselves)
    conv_out = [ctx.temp("conv")]
    _conv(op, ctx, inputs, conv_out)
    ctx.node("Relu", conv_out, outputs)


def _batchnorm_relu(op, ctx, inputs, outputs):
    norm_out = [ctx.temp("batchnorm")]
    _batchnorm(op, ctx, inputs, norm_out)
    ctx.node("Relu", norm_out, outputs)


def _lrn(op, ctx, inputs, outputs):
    ctx.node("LRN", inputs, outputs, size=op.size, alpha=op.alpha, beta=op.beta, bias=op.k)


register_export(nn.Gemm, _gemm)
register_export(nn.AddBias, _add_bias)
register_export(nn.Dropout, _dropout)
register_export(nn._Conv2d, _conv)
register_export(nn._Pooling2d, _pool)
register_export(nn._BatchNorm2d, _batchnorm)
register_export(nn.LRN, _lrn)
register_export(fused._Conv2dReLU, _conv_relu)
register_export(fused._BatchNorm2dReLU, _batchnorm_relu)
