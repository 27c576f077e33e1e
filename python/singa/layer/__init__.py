"""Layers: objects that own parameters and call autograd ops (SINGA's ``singa.layer``).

One module per family: ``base`` (Layer, discovery, modes, call observation, error
context), ``linear`` (Linear, Gemm, Embedding), ``conv`` (Conv2d, SeparableConv2d and
the padding helpers), ``norm`` (BatchNorm2d, LRN), ``pool`` (Pooling2d, Max/AvgPool2d,
Max/AvgPool1d), ``rnn`` (RNN, LSTM), ``simple`` (the layers without parameters) and
``meta`` (SINGA's LayerMeta, which Layer itself does not use).
Everything is importable from ``singa.layer`` as before the split.
"""

from .base import Layer, layer_label, observe_calls
from .base import _check_x, _mismatch  # noqa: F401  (for layers written outside the package)
from .conv import Conv2d, SeparableConv2d
from .conv import _check_spatial, _handle_pads, _pads, _pair  # noqa: F401  (as above)
from .linear import Embedding, Gemm, Linear
from .meta import LayerMeta
from .norm import LRN, BatchNorm2d
from .pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Pooling2d
from .rnn import LSTM, RNN, RNN_Base
from .simple import (Add, BinaryCrossEntropy, Cat, CrossEntropy, Dropout, Flatten,
                     MeanSquareError, ReLU, Reshape, Sigmoid, SoftMax, SoftMaxCrossEntropy,
                     Tanh)

__all__ = ["Layer", "Linear", "Gemm", "Embedding", "Conv2d", "SeparableConv2d", "BatchNorm2d",
           "Pooling2d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "RNN_Base", "RNN", "LSTM",
           "Dropout", "LRN", "ReLU", "Sigmoid", "Tanh", "Add", "Flatten", "SoftMax",
           "SoftMaxCrossEntropy", "MeanSquareError", "CrossEntropy", "BinaryCrossEntropy",
           "Cat", "Reshape", "observe_calls", "layer_label", "LayerMeta"]
