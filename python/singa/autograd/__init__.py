"""Automatic differentiation (SINGA's ``singa.autograd``).

Set ``autograd.training = True`` before a forward pass whose gradients you need:
operations then record their inputs (``src``) and save what backward needs.
``backward(loss)`` yields ``(param, grad)`` pairs for every tensor with
``stores_grad=True``.
"""

# Operations save inputs for backward only when this is True (SINGA's default is False).
training = False

from .engine import (Operation, Operator, Dummy, backward, gradients, infer_dependency,  # noqa: E402
                     no_grad)
from .ops_math import *  # noqa: E402,F401,F403
from .ops_math import (ReLU, Tanh, Sigmoid, Identity, Cos, Cosh, Acos, Acosh, Sin, Sinh,  # noqa: E402,F401
                       Asin, Asinh, Tan, Atan, Atanh, Abs, Exp, Sign, SoftSign, SoftPlus, Sqrt,
                       Log, Negative, Reciprocal, Erf, Ceil, Floor, Round, Rounde, Not, Less,
                       Greater, Equal, And, Or, Xor, Add, Sub, Mul, Div, Pow, Matmul, PRelu,
                       Embedding, Max, Min, Sum, Mean, Elu, SeLU, LeakyRelu, HardSigmoid, Clip,
                       SoftMax, _not, _and, _or, _xor)
from .ops_shape import *  # noqa: E402,F401,F403
from .ops_shape import (Reshape, Flatten, Transpose, Unsqueeze, Squeeze, Expand, Tile,  # noqa: E402,F401
                        Slice, Split, Concat, Gather, ScatterElements, Pad, UpSample, Where,
                        ConstantOfShape, Cast, OneHot, NonZero, Shape, ReduceSum, ReduceMean,
                        GlobalAveragePool)
from .ops_loss import *  # noqa: E402,F401,F403
from .ops_loss import (SoftMaxCrossEntropy, CrossEntropy, BinaryCrossEntropy,  # noqa: E402,F401
                       MeanSquareError, RankingLoss)
from .ops_nn import *  # noqa: E402,F401,F403
from .ops_nn import (Gemm, AddBias, Dropout, _Conv2d, _Pooling2d, _BatchNorm2d, LRN)  # noqa: E402,F401

# SINGA 2.x scripts build models from `autograd.Layer`, `autograd.Conv2d`, ...;
# those names resolve to singa.layer on first use (layer imports autograd itself).
_LAYER_ALIASES = ("Layer", "Linear", "Conv2d", "SeparableConv2d", "BatchNorm2d", "MaxPool2d",
                  "AvgPool2d", "MaxPool1d", "AvgPool1d", "Pooling2d", "RNN", "LSTM")


def __getattr__(name):
    if name in _LAYER_ALIASES:
        from .. import layer
        return getattr(layer, name)
    raise AttributeError("module 'singa.autograd' has no attribute {!r}".format(name))
