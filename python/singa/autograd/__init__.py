"""Automatic differentiation (SINGA's ``singa.autograd``).

Set ``autograd.training = True`` before a forward pass whose gradients you need:
operations then record their inputs (``src``) and save what backward needs, and
Dropout/BatchNorm behave as in training. ``backward(loss)`` yields ``(param, grad)``
pairs for every tensor with ``stores_grad=True``.

``autograd.training`` is two switches set together (see ``autograd.mode``): grad mode
(recording) and training mode (Dropout, BatchNorm). Reading it tells whether this thread
records; ``no_grad()``, ``set_grad_enabled(b)`` and ``train(mode)`` override one switch
for the current thread.
"""

import sys
import types

from . import mode
# SINGA's autograd has Tensor and CTensor as attributes (autograd.CTensor in custom ops);
# they stay out of __all__ so that a star import brings only autograd's own API.
from ..tensor import Tensor  # noqa: F401
from .engine import CTensor  # noqa: F401
from .engine import Operation, Operator, Dummy, backward, gradients, infer_dependency
from .mode import is_grad_enabled, is_train_mode, no_grad, set_grad_enabled, train
from ..autocast import autocast
from .anomaly import AnomalyError, detect_anomaly, set_detect_anomaly, is_anomaly_enabled
from ._util import axis_helper, back_broadcast, ctensor2numpy
from .ops_unary import (ReLU, Tanh, Sigmoid, Identity, Cos, Cosh, Acos, Acosh, Sin, Sinh, Asin,
                        Asinh, Tan, Atan, Atanh, Abs, Exp, Sign, SoftSign, SoftPlus, Mish, Sqrt,
                        Log, Negative, Reciprocal, Erf, Ceil, Floor, Round, Rounde, Not, relu,
                        tanh, sigmoid, identity, cos, cosh, acos, acosh, sin, sinh, asin, asinh,
                        tan, atan, atanh, abs, exp, sign, softsign, softplus, mish, sqrt, log,
                        negative, reciprocal, ceil, floor, round, rounde, erf, _not)
from .ops_binary import (Less, Greater, Equal, And, Or, Xor, Add, Sub, Mul, Div, Pow, Matmul,
                         PRelu, Embedding, Max, Min, CosSim, Sum, Mean, add, sub, mul, div, pow,
                         matmul, less, greater, equal, _and, _or, _xor, prelu, embedding, max,
                         min, sum, mean, cossim, add_all)
from .ops_activation import (Elu, SeLU, LeakyRelu, HardSigmoid, Clip, SoftMax, elu, selu,
                             leakyrelu, hardsigmoid, clip, softmax)
from .ops_shape import (Reshape, Flatten, Transpose, Unsqueeze, Squeeze, Expand, Tile, Slice,
                        Split, Concat, Gather, ScatterElements, Where, ConstantOfShape, Cast,
                        OneHot, NonZero, Shape, ReduceSum, ReduceMean, GlobalAveragePool,
                        reshape, flatten, transpose, unsqueeze, squeeze, expand, tile, slice,
                        split, cat, gather, scatter_elements, where, constant_of_shape, cast,
                        onehot, nonzero, shape, reduce_sum, reduce_mean, globalaveragepool)
from .ops_spatial import (Pad, UpSample, DepthToSpace, SpaceToDepth, pad, upsample,
                          depth_to_space, space_to_depth)
from .ops_loss import (SoftMaxCrossEntropy, CrossEntropy, BinaryCrossEntropy, MeanSquareError,
                       RankingLoss, softmax_cross_entropy, cross_entropy, binary_cross_entropy,
                       mse_loss, ranking_loss)
from .ops_nn import (Gemm, AddBias, Dropout, _Conv2d, _Pooling2d, _BatchNorm2d, LRN, gemm,
                     add_bias, dropout, conv2d, pooling_2d, batchnorm_2d, lrn)
from .ops_fused_nn import _Conv2dReLU, _BatchNorm2dReLU, conv2d_relu, batchnorm_2d_relu

__all__ = ["Operation", "Operator", "Dummy", "backward", "gradients", "infer_dependency",
           "is_grad_enabled", "is_train_mode", "no_grad", "set_grad_enabled", "train", "autocast",
           "AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "axis_helper", "back_broadcast", "ctensor2numpy", "ReLU", "Tanh", "Sigmoid", "Identity",
           "Cos", "Cosh", "Acos", "Acosh", "Sin", "Sinh", "Asin", "Asinh", "Tan", "Atan", "Atanh",
           "Abs", "Exp", "Sign", "SoftSign", "SoftPlus", "Mish", "Sqrt", "Log", "Negative",
           "Reciprocal", "Erf", "Ceil", "Floor", "Round", "Rounde", "Not", "relu", "tanh",
           "sigmoid", "identity", "cos", "cosh", "acos", "acosh", "sin", "sinh", "asin", "asinh",
           "tan", "atan", "atanh", "abs", "exp", "sign", "softsign", "softplus", "mish", "sqrt",
           "log", "negative", "reciprocal", "ceil", "floor", "round", "rounde", "erf", "_not",
           "Less", "Greater", "Equal", "And", "Or", "Xor", "Add", "Sub", "Mul", "Div", "Pow",
           "Matmul", "PRelu", "Embedding", "Max", "Min", "CosSim", "Sum", "Mean", "add", "sub",
           "mul", "div", "pow", "matmul", "less", "greater", "equal", "_and", "_or", "_xor",
           "prelu", "embedding", "max", "min", "sum", "mean", "cossim", "add_all", "Elu", "SeLU", "LeakyRelu",
           "HardSigmoid", "Clip", "SoftMax", "elu", "selu", "leakyrelu", "hardsigmoid", "clip",
           "softmax", "Reshape", "Flatten", "Transpose", "Unsqueeze", "Squeeze", "Expand", "Tile",
           "Slice", "Split", "Concat", "Gather", "ScatterElements", "Pad", "UpSample", "Where",
           "ConstantOfShape", "Cast", "OneHot", "NonZero", "Shape", "ReduceSum", "ReduceMean",
           "GlobalAveragePool", "DepthToSpace", "SpaceToDepth", "reshape", "flatten", "transpose",
           "unsqueeze", "squeeze", "expand", "tile", "slice", "split", "cat", "gather",
           "scatter_elements", "pad", "upsample", "depth_to_space", "space_to_depth", "where",
           "constant_of_shape", "cast", "onehot", "nonzero", "shape", "reduce_sum", "reduce_mean",
           "globalaveragepool", "SoftMaxCrossEntropy", "CrossEntropy", "BinaryCrossEntropy",
           "MeanSquareError", "RankingLoss", "softmax_cross_entropy", "cross_entropy",
           "binary_cross_entropy", "mse_loss", "ranking_loss", "Gemm", "AddBias", "Dropout",
           "_Conv2d", "_Pooling2d", "_BatchNorm2d", "LRN", "gemm", "add_bias", "dropout", "conv2d",
           "pooling_2d", "batchnorm_2d", "lrn", "_Conv2dReLU", "_BatchNorm2dReLU", "conv2d_relu",
           "batchnorm_2d_relu", "Layer", "Linear", "Conv2d", "SeparableConv2d",
           "BatchNorm2d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "Pooling2d", "RNN_Base",
           "RNN", "LSTM"]

# SINGA 2.x scripts build models from `autograd.Layer`, `autograd.Conv2d`, ...;
# those names resolve to singa.layer on first use (layer imports autograd itself).
_LAYER_ALIASES = ("Layer", "Linear", "Conv2d", "SeparableConv2d", "BatchNorm2d", "MaxPool2d",
                  "AvgPool2d", "MaxPool1d", "AvgPool1d", "Pooling2d", "RNN_Base", "RNN", "LSTM")


class _AutogradModule(types.ModuleType):
    """The module's class: SINGA's ``autograd.training`` flag is a property over the two
    switches, so assigning it reaches every thread and reading it reflects overrides."""

    @property
    def training(self):
        return mode.is_grad_enabled()

    @training.setter
    def training(self, value):
        mode.set_defaults(value)

    def __getattr__(self, name):
        if name in _LAYER_ALIASES:
            from .. import layer
            return getattr(layer, name)
        raise AttributeError("module 'singa.autograd' has no attribute {!r}".format(name))


sys.modules[__name__].__class__ = _AutogradModule
