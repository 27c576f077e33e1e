"""Bad input to every public name of singa.layer (issue 18, point 8): constructor
arguments out of range, inputs of the wrong rank, size, type or device. A layer's
message names the layer (its class, and its name once it has one)."""

import numpy as np
import pytest

from singa import layer as L
from singa import singa_wrap as sw

from _bad_input import DEVICES, Bad, arr, check, check_coverage, on_other, params

A23 = arr(2, 3)
A34 = arr(3, 4)
X4 = arr(1, 2, 4, 4)
SHAPES = r"\(2, 3\).*\(3, 4\)"


def called_twice(lay, first, second):
    """Calls ``lay`` on ``first`` (which creates its parameters), then on ``second``."""
    lay(first)
    return lay(second)


def meta_initialize_with(x):
    class Probe(L.Layer, metaclass=L.LayerMeta):
        def initialize(self, x):
            pass

        def forward(self, x):
            return x
    return Probe().initialize(x)


def set_params_of_linear(values):
    lay = L.Linear(2, 3)
    lay.set_params(values)


CASES = [
    Bad("Layer", "forward missing", lambda: L.Layer()(A23), NotImplementedError, r"forward"),
    Bad("Layer", "unknown parameter", lambda: set_params_of_linear({"Z": np.zeros(3)}),
        ValueError, r"'Z'", who=r"parameter"),
    Bad("Layer", "parameter shape", lambda: set_params_of_linear({"W": np.zeros((3, 3))}),
        ValueError, r"\(3, 3\).*\(2, 3\)", who=r"parameter 'W'"),
    Bad("Linear", "negative size", lambda: L.Linear(-3), ValueError, r"-3"),
    Bad("Linear", "size of text", lambda: L.Linear("three"), TypeError, r"'three'"),
    Bad("Linear", "in_features differ", lambda: L.Linear(4, 2)(A23), ValueError,
        r"\(2, 3\).*4"),
    Bad("Linear", "input changes size", lambda: called_twice(L.Linear(2), A23, A34), ValueError,
        r"\(3, 4\).*3"),
    Bad("Linear", "None", lambda: L.Linear(2)(None), TypeError, r"NoneType"),
    # A CUDA build moves a layer's inputs to its parameters' device instead, as SINGA's
    # layers do (layer/base.py: device_check).
    *([] if sw.USE_CUDA else [
        Bad("Linear", "other device",
            lambda: called_twice(L.Linear(2), arr(2, 3), on_other(2, 3)), RuntimeError, DEVICES)]),
    Bad("Gemm", "negative size", lambda: L.Gemm(-2), ValueError, r"-2"),
    Bad("Gemm", "None", lambda: L.Gemm(2)(None), TypeError, r"NoneType"),
    Bad("Gemm", "input changes size", lambda: called_twice(L.Gemm(2), A23, A34), ValueError,
        r"\(3, 4\)"),
    Bad("Embedding", "negative vocab", lambda: L.Embedding(-5, 3), ValueError, r"-5"),
    Bad("Embedding", "id out of range", lambda: L.Embedding(5, 3)(arr(2, dtype=np.int32) * 9),
        IndexError, r"9.*5"),
    Bad("Embedding", "None", lambda: L.Embedding(5, 3)(None), TypeError, r"NoneType"),
    Bad("Conv2d", "zero kernels", lambda: L.Conv2d(0, 3), ValueError, r"0"),
    Bad("Conv2d", "negative kernel", lambda: L.Conv2d(2, -3), ValueError, r"-3"),
    Bad("Conv2d", "2-D input", lambda: L.Conv2d(2, 3)(A23), ValueError, r"\(2, 3\)"),
    Bad("Conv2d", "kernel above input", lambda: L.Conv2d(2, 7)(X4), ValueError, r"7|\(1, 2, 4"),
    Bad("Conv2d", "channels change", lambda: called_twice(L.Conv2d(2, 3, padding=1), X4,
                                                          arr(1, 3, 4, 4)),
        ValueError, r"\(1, 3, 4, 4\)"),
    Bad("Conv2d", "group not a divisor", lambda: L.Conv2d(3, 3, group=2, padding=1)(X4),
        ValueError, r"group|2"),
    Bad("Conv2d", "unknown activation", lambda: L.Conv2d(2, 3, activation="gelu"), ValueError,
        r"'gelu'"),
    Bad("Conv2d", "unknown pad mode", lambda: L.Conv2d(2, 3, pad_mode="FULL"), ValueError,
        r"'FULL'"),
    Bad("Conv2d", "None", lambda: L.Conv2d(2, 3)(None), TypeError, r"NoneType"),
    Bad("Conv2d", "int32 input", lambda: L.Conv2d(2, 3, padding=1)(arr(1, 2, 4, 4,
                                                                       dtype=np.int32)),
        TypeError, r"int32"),
    Bad("SeparableConv2d", "2-D input", lambda: L.SeparableConv2d(2, 3)(A23), ValueError,
        r"\(2, 3\)"),
    Bad("SeparableConv2d", "negative kernel", lambda: L.SeparableConv2d(2, -3), ValueError,
        r"-3"),
    Bad("BatchNorm2d", "3-D input", lambda: L.BatchNorm2d(3)(arr(2, 3, 4)), ValueError,
        r"\(2, 3, 4\)"),
    Bad("BatchNorm2d", "channels differ", lambda: L.BatchNorm2d(3)(X4), ValueError,
        r"\(1, 2, 4, 4\).*3|3.*\(1, 2, 4, 4\)"),
    Bad("BatchNorm2d", "momentum above 1", lambda: L.BatchNorm2d(2, momentum=1.5), ValueError,
        r"1\.5"),
    Bad("BatchNorm2d", "None", lambda: L.BatchNorm2d(2)(None), TypeError, r"NoneType"),
    Bad("BatchNorm2d", "int32 input", lambda: L.BatchNorm2d(2)(arr(1, 2, 4, 4, dtype=np.int32)),
        TypeError, r"int32"),
    Bad("Pooling2d", "kernel above input", lambda: L.Pooling2d(7)(X4), ValueError, r"7"),
    Bad("Pooling2d", "zero kernel", lambda: L.Pooling2d(0), ValueError, r"0"),
    Bad("Pooling2d", "2-D input", lambda: L.Pooling2d(2)(A23), ValueError, r"\(2, 3\)"),
    Bad("MaxPool2d", "kernel above input", lambda: L.MaxPool2d(7)(X4), ValueError, r"7"),
    Bad("MaxPool2d", "negative stride", lambda: L.MaxPool2d(2, -1), ValueError, r"-1"),
    Bad("MaxPool2d", "int32 input", lambda: L.MaxPool2d(2)(arr(1, 2, 4, 4, dtype=np.int32)),
        TypeError, r"int32"),
    Bad("AvgPool2d", "kernel above input", lambda: L.AvgPool2d(7)(X4), ValueError, r"7"),
    Bad("AvgPool2d", "unknown pad mode", lambda: L.AvgPool2d(2, pad_mode="FULL"), ValueError,
        r"'FULL'"),
    Bad("MaxPool1d", "kernel above input", lambda: L.MaxPool1d(7)(arr(1, 2, 4)), ValueError,
        r"7"),
    Bad("MaxPool1d", "5-D input", lambda: L.MaxPool1d(2)(arr(1, 1, 1, 2, 4)), ValueError,
        r"\(1, 1, 1, 2, 4\)"),
    Bad("AvgPool1d", "kernel above input", lambda: L.AvgPool1d(7)(arr(1, 2, 4)), ValueError,
        r"7"),
    Bad("AvgPool1d", "2-D input", lambda: L.AvgPool1d(2)(A23), ValueError, r"\(2, 3\)"),
    Bad("RNN_Base", "step missing", lambda: L.RNN_Base().step_forward(A23), NotImplementedError,
        r"step_forward"),
    Bad("RNN", "zero hidden", lambda: L.RNN(3, 0), ValueError, r"0"),
    Bad("RNN", "unknown nonlinearity", lambda: L.RNN(3, 2, nonlinearity="gelu"), ValueError,
        r"'gelu'"),
    Bad("RNN", "input size differs", lambda: L.RNN(4, 2)([A23], arr(2, 2)), ValueError,
        r"\(2, 3\).*4|4.*\(2, 3\)"),
    Bad("RNN", "None", lambda: L.RNN(3, 2)(None, arr(2, 2)), TypeError, r"got None"),
    Bad("LSTM", "zero hidden", lambda: L.LSTM(3, 0), ValueError, r"0"),
    Bad("LSTM", "input size differs", lambda: L.LSTM(4, 2)([A23], (arr(2, 2), arr(2, 2))),
        ValueError, r"\(2, 3\).*4|4.*\(2, 3\)"),
    Bad("LSTM", "None", lambda: L.LSTM(3, 2)(None, (arr(2, 2), arr(2, 2))), TypeError,
        r"got None"),
    Bad("Dropout", "ratio above 1", lambda: L.Dropout(1.5), ValueError, r"1\.5"),
    Bad("Dropout", "None", lambda: L.Dropout()(None), TypeError, r"NoneType"),
    Bad("LRN", "zero size", lambda: L.LRN(0), ValueError, r"0"),
    Bad("LRN", "1-D input", lambda: L.LRN()(arr(4)), ValueError, r"\(4,\)"),
    Bad("ReLU", "None", lambda: L.ReLU()(None), TypeError, r"NoneType"),
    Bad("Sigmoid", "None", lambda: L.Sigmoid()(None), TypeError, r"NoneType"),
    Bad("Tanh", "list", lambda: L.Tanh()([1.0]), TypeError, r"list"),
    Bad("Add", "shapes", lambda: L.Add()(A23, A34), ValueError, SHAPES),
    Bad("Add", "other device", lambda: L.Add()(arr(2, 3), on_other(2, 3)), RuntimeError,
        DEVICES),
    Bad("Flatten", "axis out of range", lambda: L.Flatten(5)(A23), IndexError, r"5"),
    Bad("SoftMax", "axis out of range", lambda: L.SoftMax(5)(A23), IndexError, r"axis 5"),
    Bad("SoftMaxCrossEntropy", "batch differs", lambda: L.SoftMaxCrossEntropy()(A23, arr(3, 3)),
        ValueError, r"\(2, 3\).*\(3, 3\)"),
    Bad("MeanSquareError", "shapes", lambda: L.MeanSquareError()(A23, A34), ValueError, SHAPES),
    Bad("CrossEntropy", "batch differs", lambda: L.CrossEntropy()(A23, arr(3, 3)), ValueError,
        r"\(2, 3\).*\(3, 3\)"),
    Bad("BinaryCrossEntropy", "shapes", lambda: L.BinaryCrossEntropy()(A23, A34), ValueError,
        SHAPES),
    Bad("Cat", "shapes", lambda: L.Cat(0)([A23, A34]), ValueError, SHAPES),
    Bad("Cat", "axis out of range", lambda: L.Cat(5)([A23, A23]), IndexError, r"5"),
    Bad("Reshape", "wrong size", lambda: L.Reshape((4, 4))(A23), ValueError, r"\(4, 4\)"),
    Bad("Reshape", "None", lambda: L.Reshape((6,))(None), TypeError, r"NoneType"),
    Bad("observe_calls", "not callable", lambda: L.observe_calls(5), TypeError, r"5"),
    Bad("LayerMeta", "initialize on a number", lambda: meta_initialize_with(5), TypeError,
        r"int", who=r"initialize"),
]

EXEMPT = {
    "layer_label": "formats the name and class of any object for messages; no input is bad",
}


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case):
    check(case)


def test_every_public_name_has_bad_input_cases():
    check_coverage(L, CASES, EXEMPT)
