"""Bad input to every public name of singa.autograd (issue 18, point 8).

Ops are checked through both forms SINGA has: the Operation class (``ReLU()(x)``) and
the function (``relu(x)``). Messages name the Operation class, which is the op a
traceback and the anomaly report show, so a function's cases look for its class's name.
"""

import numpy as np
import pytest

from singa import autograd as ag
from singa import layer
from singa import singa_wrap as sw
from singa import tensor

from _bad_input import DEVICES, Bad, arr, check, check_coverage, on_other, params

A23 = arr(2, 3)
A34 = arr(3, 4)
X4 = arr(1, 2, 4, 4)
SHAPES = r"\(2, 3\).*\(3, 4\)"

# unary ops: function name -> Operation class
UNARY = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "identity": "Identity",
         "cos": "Cos", "cosh": "Cosh", "acos": "Acos", "acosh": "Acosh", "sin": "Sin",
         "sinh": "Sinh", "asin": "Asin", "asinh": "Asinh", "tan": "Tan", "atan": "Atan",
         "atanh": "Atanh", "abs": "Abs", "exp": "Exp", "sign": "Sign", "softsign": "SoftSign",
         "softplus": "SoftPlus", "mish": "Mish", "sqrt": "Sqrt", "log": "Log",
         "negative": "Negative", "reciprocal": "Reciprocal", "erf": "Erf", "ceil": "Ceil",
         "floor": "Floor", "round": "Round", "rounde": "Rounde", "_not": "Not", "elu": "Elu",
         "selu": "SeLU", "leakyrelu": "LeakyRelu", "hardsigmoid": "HardSigmoid",
         "softmax": "SoftMax", "flatten": "Flatten", "shape": "Shape", "nonzero": "NonZero",
         "globalaveragepool": "GlobalAveragePool"}
# element-wise binary ops (broadcasting): function name -> Operation class
BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
          "less": "Less", "greater": "Greater", "equal": "Equal", "_and": "And", "_or": "Or",
          "_xor": "Xor", "max": "Max", "min": "Min"}

CASES = []
for _fn, _cls in UNARY.items():
    CASES += [
        Bad(_fn, "None", lambda f=getattr(ag, _fn): f(None), TypeError, r"input 0.*NoneType",
            who=r"\b{}\b".format(_cls)),
        Bad(_fn, "ndarray", lambda f=getattr(ag, _fn): f(np.ones((2, 3), np.float32)),
            TypeError, r"ndarray", who=r"\b{}\b".format(_cls)),
        Bad(_cls, "None", lambda c=getattr(ag, _cls): c()(None), TypeError, r"NoneType"),
    ]
for _fn, _cls in BINARY.items():
    CASES += [
        Bad(_fn, "shapes", lambda f=getattr(ag, _fn): f(A23, A34), ValueError, SHAPES,
            who=r"\b{}\b".format(_cls)),
        Bad(_fn, "other device", lambda f=getattr(ag, _fn): f(arr(2, 3), on_other(2, 3)),
            RuntimeError, DEVICES, who=r"\b{}\b".format(_cls)),
        Bad(_fn, "None", lambda f=getattr(ag, _fn): f(A23, None), TypeError,
            r"input 1.*NoneType", who=r"\b{}\b".format(_cls)),
        Bad(_cls, "shapes", lambda c=getattr(ag, _cls): c()(A23, A34), ValueError, SHAPES),
    ]

CASES += [
    # engine, modes, anomaly detection, helpers
    Bad("Operation", "forward missing", lambda: ag.Operation()(A23), NotImplementedError,
        r"forward"),
    Bad("Operation", "list input", lambda: ag.Operation()([1, 2]), TypeError, r"list"),
    Bad("Operator", "list input", lambda: ag.Operator()([1, 2]), TypeError, r"list",
        who=r"Operation"),
    Bad("Dummy", "called", lambda: ag.Dummy(A23)(A23), NotImplementedError, r"forward"),
    Bad("backward", "not a scalar", lambda: list(ag.backward(A23)), ValueError, r"\(2, 3\)"),
    Bad("backward", "None", lambda: list(ag.backward(None)), TypeError, r"NoneType"),
    Bad("gradients", "None", lambda: ag.gradients(None), TypeError, r"NoneType",
        who=r"backward"),
    Bad("infer_dependency", "None", lambda: ag.infer_dependency(None), TypeError, r"NoneType"),
    Bad("set_grad_enabled", "text", lambda: ag.set_grad_enabled("no"), TypeError, r"'no'"),
    Bad("train", "text", lambda: ag.train("off"), TypeError, r"'off'"),
    Bad("no_grad", "an argument", lambda: ag.no_grad(False), TypeError, r"1|2", who=r"__init__"),
    Bad("autocast", "float16", lambda: ag.autocast("float16"), ValueError, r"'float16'"),
    Bad("autocast", "enabled text", lambda: ag.autocast("bfloat16", enabled="no"), TypeError,
        r"'no'"),
    Bad("autocast", "emulate int", lambda: ag.autocast("bfloat16", emulate=1), TypeError,
        r"emulate.*1"),
    Bad("detect_anomaly", "text", lambda: ag.detect_anomaly("on"), TypeError, r"'on'"),
    Bad("set_detect_anomaly", "text", lambda: ag.set_detect_anomaly("off"), TypeError,
        r"'off'"),
    Bad("axis_helper", "None", lambda: ag.axis_helper(None, (2,)), TypeError,
        r"y_shape.*None"),
    Bad("back_broadcast", "shape", lambda: ag.back_broadcast((3, 4), (4,), A23.data),
        ValueError, r"\(2, 3\).*\(3, 4\)"),
    Bad("back_broadcast", "Tensor", lambda: ag.back_broadcast((2, 3), (3,), A23), TypeError,
        r"Tensor"),
    Bad("ctensor2numpy", "Tensor", lambda: ag.ctensor2numpy(A23), TypeError, r"Tensor"),
    # binary ops with their own rules
    Bad("matmul", "not aligned", lambda: ag.matmul(A23, A23), ValueError,
        r"\(2, 3\).*\(2, 3\)", who=r"Matmul"),
    Bad("matmul", "other device", lambda: ag.matmul(arr(2, 3), on_other(3, 2)), RuntimeError,
        DEVICES, who=r"Matmul"),
    Bad("Matmul", "None", lambda: ag.Matmul()(A23, None), TypeError, r"NoneType"),
    Bad("prelu", "slope shape", lambda: ag.prelu(A23, arr(4)), ValueError, r"\(2, 3\).*\(4,\)",
        who=r"PRelu"),
    Bad("PRelu", "None", lambda: ag.PRelu()(A23, None), TypeError, r"NoneType"),
    Bad("embedding", "table not 2-D", lambda: ag.embedding(arr(2), arr(5, 3, 1)), ValueError,
        r"\(5, 3, 1\)", who=r"Embedding"),
    Bad("embedding", "id out of range",
        lambda: ag.embedding(arr(2, dtype=np.int32) * 9, arr(5, 3)), IndexError, r"9.*5",
        who=r"Embedding"),
    Bad("Embedding", "None", lambda: ag.Embedding()(None, arr(5, 3)), TypeError, r"NoneType"),
    Bad("cossim", "shapes", lambda: ag.cossim(A23, A34), ValueError, SHAPES, who=r"CosSim"),
    Bad("cossim", "other device", lambda: ag.cossim(arr(2, 3), on_other(2, 3)), RuntimeError,
        DEVICES, who=r"CosSim"),
    Bad("CosSim", "None", lambda: ag.CosSim()(A23, None), TypeError, r"NoneType"),
    Bad("sum", "shapes", lambda: ag.sum(A23, A34), ValueError, SHAPES, who=r"\bSum\b"),
    Bad("sum", "None", lambda: ag.sum(A23, None), TypeError, r"NoneType", who=r"\bSum\b"),
    Bad("Sum", "other device", lambda: ag.Sum()(arr(2, 3), on_other(2, 3)), RuntimeError,
        DEVICES),
    Bad("mean", "shapes", lambda: ag.mean(A23, A34), ValueError, SHAPES, who=r"\bMean\b"),
    Bad("Mean", "None", lambda: ag.Mean()(None), TypeError, r"NoneType"),
    Bad("add_all", "shapes", lambda: ag.add_all(A23, A34), ValueError, SHAPES, who=r"Add"),
    Bad("add_all", "None", lambda: ag.add_all(A23, None), TypeError, r"NoneType", who=r"Add"),
    # activations with parameters
    Bad("clip", "min above max", lambda: ag.clip(A23, 2.0, 1.0), ValueError, r"2.*1",
        who=r"Clip"),
    Bad("Clip", "text bound", lambda: ag.Clip("a", 1.0)(A23), TypeError, r"'a'"),
    Bad("SoftMax", "axis out of range", lambda: ag.SoftMax(5)(A23), IndexError, r"axis 5"),
    Bad("softmax", "axis out of range", lambda: ag.softmax(A23, 5), IndexError, r"axis 5",
        who=r"SoftMax"),
    Bad("Elu", "text alpha", lambda: ag.Elu("a")(A23), TypeError, r"'a'"),
    Bad("SeLU", "text gamma", lambda: ag.SeLU(gamma="g")(A23), TypeError, r"'g'"),
    Bad("LeakyRelu", "text slope", lambda: ag.LeakyRelu("s")(A23), TypeError, r"'s'"),
    Bad("HardSigmoid", "text alpha", lambda: ag.HardSigmoid("a")(A23), TypeError, r"'a'"),
    # shape ops
    Bad("reshape", "wrong size", lambda: ag.reshape(A23, (4, 4)), ValueError, r"\(4, 4\)",
        who=r"Reshape"),
    Bad("Reshape", "None", lambda: ag.Reshape((6,))(None), TypeError, r"NoneType"),
    Bad("Flatten", "axis out of range", lambda: ag.Flatten(5)(A23), IndexError, r"5"),
    Bad("flatten", "axis out of range", lambda: ag.flatten(A23, 5), IndexError, r"5",
        who=r"Flatten"),
    Bad("transpose", "repeated axes", lambda: ag.transpose(A23, (0, 0)), ValueError,
        r"\[0, 0\].*\(2, 3\)", who=r"Transpose"),
    Bad("Transpose", "None", lambda: ag.Transpose((1, 0))(None), TypeError, r"NoneType"),
    Bad("unsqueeze", "axis out of range", lambda: ag.unsqueeze(A23, 7), IndexError, r"7",
        who=r"Unsqueeze"),
    Bad("Unsqueeze", "None", lambda: ag.Unsqueeze(0)(None), TypeError, r"NoneType"),
    Bad("squeeze", "axis of size 3", lambda: ag.squeeze(A23, 1), ValueError, r"1.*3|3.*1",
        who=r"Squeeze"),
    Bad("Squeeze", "axis out of range", lambda: ag.Squeeze(5)(A23), IndexError, r"5"),
    Bad("expand", "not broadcastable", lambda: ag.expand(A23, (4, 3)), ValueError,
        r"\(2, 3\).*\[4, 3\]", who=r"Expand"),
    Bad("Expand", "None", lambda: ag.Expand((2, 3))(None), TypeError, r"NoneType"),
    Bad("tile", "negative", lambda: ag.tile(A23, [-1, 1]), ValueError, r"-1", who=r"Tile"),
    Bad("Tile", "None", lambda: ag.Tile([1, 1])(None), TypeError, r"NoneType"),
    Bad("slice", "axis out of range", lambda: ag.slice(A23, [0], [1], [5]), IndexError, r"5",
        who=r"Slice"),
    Bad("Slice", "zero step", lambda: ag.Slice([0], [1], [0], [0])(A23), ValueError, r"step.*zero"),
    Bad("split", "parts do not add up", lambda: ag.split(A23, 1, [1, 1]), ValueError,
        r"\[1, 1\].*3|3.*\[1, 1\]", who=r"Split"),
    Bad("Split", "axis out of range", lambda: ag.Split(5, [1, 1])(A23), IndexError, r"5"),
    Bad("cat", "shapes", lambda: ag.cat([A23, A34], 0), ValueError, SHAPES, who=r"Concat"),
    Bad("cat", "other device", lambda: ag.cat([arr(2, 3), on_other(2, 3)], 0), RuntimeError,
        DEVICES, who=r"Concat"),
    Bad("Concat", "axis out of range", lambda: ag.Concat(5)(A23, A23), IndexError, r"5"),
    Bad("gather", "index out of range", lambda: ag.gather(A23, 1, [7]), IndexError, r"7",
        who=r"Gather"),
    Bad("Gather", "axis out of range", lambda: ag.Gather(5, [0])(A23), IndexError, r"5"),
    Bad("Gather", "fractional index", lambda: ag.Gather(1, [0.5])(A23), TypeError, r"0\.5"),
    Bad("scatter_elements", "index out of range",
        lambda: ag.scatter_elements(A23, np.array([[9, 0, 0]]), np.ones((1, 3), np.float32)),
        IndexError, r"9", who=r"ScatterElements"),
    Bad("ScatterElements", "shapes differ",
        lambda: ag.ScatterElements(np.zeros((1, 3), np.int64), np.ones((2, 2), np.float32))(
            A23), ValueError, r"\(2, 2\).*\(1, 3\)"),
    Bad("where", "shapes", lambda: ag.where(A23, A34, np.ones((2, 3), bool)), ValueError,
        SHAPES, who=r"Where"),
    Bad("Where", "None", lambda: ag.Where(np.ones((2, 3), bool))(A23, None), TypeError,
        r"NoneType"),
    Bad("constant_of_shape", "negative dim",
        lambda: ag.constant_of_shape(tensor.from_numpy(np.array([2, -1], np.int32))),
        ValueError, r"-1", who=r"ConstantOfShape"),
    Bad("ConstantOfShape", "None", lambda: ag.ConstantOfShape()(None), TypeError, r"NoneType"),
    Bad("cast", "unknown dtype", lambda: ag.cast(A23, 99), TypeError, r"99", who=r"Cast"),
    Bad("Cast", "None", lambda: ag.Cast(tensor.float32)(None), TypeError, r"NoneType"),
    Bad("onehot", "negative depth", lambda: ag.onehot(-1, arr(3), -2, [0, 1]), ValueError,
        r"-2", who=r"OneHot"),
    Bad("OneHot", "axis out of range", lambda: ag.OneHot(5, 3, [0, 1])(arr(3)), IndexError,
        r"5"),
    Bad("reduce_sum", "axis out of range", lambda: ag.reduce_sum(A23, [5]), IndexError, r"5",
        who=r"ReduceSum"),
    Bad("ReduceSum", "None", lambda: ag.ReduceSum()(None), TypeError, r"NoneType"),
    Bad("reduce_mean", "axis out of range", lambda: ag.reduce_mean(A23, [5]), IndexError,
        r"5", who=r"ReduceMean"),
    Bad("ReduceMean", "None", lambda: ag.ReduceMean()(None), TypeError, r"NoneType"),
    Bad("GlobalAveragePool", "2-D", lambda: ag.GlobalAveragePool()(A23), ValueError,
        r"\(2, 3\)"),
    Bad("GlobalAveragePool", "unknown format", lambda: ag.GlobalAveragePool("nhwc"),
        ValueError, r"'nhwc'"),
    # spatial ops
    Bad("pad", "unknown mode", lambda: ag.pad(X4, "wrap", [0, 0, 1, 1, 0, 0, 1, 1]),
        ValueError, r"'wrap'", who=r"Pad"),
    Bad("Pad", "wrong pads length", lambda: ag.Pad("constant", [1, 1])(X4), ValueError,
        r"\[1, 1\]|2"),
    Bad("upsample", "unknown mode", lambda: ag.upsample(X4, "cubic", [1, 1, 2, 2]),
        ValueError, r"'cubic'", who=r"UpSample"),
    Bad("UpSample", "wrong scales length", lambda: ag.UpSample("nearest", [2, 2])(X4),
        ValueError, r"\[2, 2\]|2"),
    Bad("depth_to_space", "channels not divisible", lambda: ag.depth_to_space(X4, 3),
        ValueError, r"channels 2.*9", who=r"DepthToSpace"),
    Bad("DepthToSpace", "unknown mode", lambda: ag.DepthToSpace(2, "XYZ")(arr(1, 4, 2, 2)),
        ValueError, r"'XYZ'"),
    Bad("space_to_depth", "size not divisible", lambda: ag.space_to_depth(X4, 3), ValueError,
        r"3", who=r"SpaceToDepth"),
    Bad("SpaceToDepth", "None", lambda: ag.SpaceToDepth(2)(None), TypeError, r"NoneType"),
    # losses
    Bad("softmax_cross_entropy", "batch differs",
        lambda: ag.softmax_cross_entropy(A23, arr(3, 3)), ValueError, r"\(2, 3\).*\(3, 3\)",
        who=r"SoftMaxCrossEntropy"),
    Bad("SoftMaxCrossEntropy", "None", lambda: ag.SoftMaxCrossEntropy(arr(2, 3))(None),
        TypeError, r"NoneType"),
    Bad("SoftMaxCrossEntropy", "label out of range",
        lambda: ag.SoftMaxCrossEntropy(tensor.from_numpy(np.array([0, 5], np.int32)))(A23),
        IndexError, r"label 5.*3 classes"),
    Bad("cross_entropy", "batch differs", lambda: ag.cross_entropy(A23, arr(3, 3)),
        ValueError, r"\(2, 3\).*\(3, 3\)", who=r"CrossEntropy"),
    Bad("CrossEntropy", "None", lambda: ag.CrossEntropy()(None, A23), TypeError, r"NoneType"),
    Bad("binary_cross_entropy", "shapes", lambda: ag.binary_cross_entropy(A23, A34),
        ValueError, SHAPES, who=r"BinaryCrossEntropy"),
    Bad("BinaryCrossEntropy", "None", lambda: ag.BinaryCrossEntropy()(None, A23), TypeError,
        r"NoneType"),
    Bad("mse_loss", "shapes", lambda: ag.mse_loss(A23, A34), ValueError, SHAPES,
        who=r"MeanSquareError"),
    Bad("mse_loss", "other device", lambda: ag.mse_loss(arr(2, 3), on_other(2, 3)),
        RuntimeError, DEVICES, who=r"MeanSquareError"),
    Bad("MeanSquareError", "None", lambda: ag.MeanSquareError()(None, A23), TypeError,
        r"NoneType"),
    Bad("ranking_loss", "shapes", lambda: ag.ranking_loss(A23, A34), ValueError, SHAPES,
        who=r"RankingLoss"),
    Bad("RankingLoss", "None", lambda: ag.RankingLoss()(A23, None), TypeError, r"NoneType"),
    # nn ops
    Bad("gemm", "not 2-D", lambda: ag.gemm(arr(2, 3, 1), A34), ValueError, r"\(2, 3, 1\)",
        who=r"Gemm"),
    Bad("gemm", "not aligned", lambda: ag.gemm(A23, A23), ValueError, r"\(2, 3\).*\(2, 3\)",
        who=r"Gemm"),
    Bad("Gemm", "text alpha", lambda: ag.Gemm("a"), TypeError, r"'a'"),
    Bad("add_bias", "bias length", lambda: ag.add_bias(A23, arr(4)), ValueError,
        r"\(2, 3\).*\(4,\)|\(4,\).*\(2, 3\)", who=r"AddBias"),
    Bad("AddBias", "axis 2", lambda: ag.AddBias(2), ValueError, r"2"),
    Bad("dropout", "ratio 1", lambda: ag.dropout(A23, ratio=1.0), ValueError, r"1",
        who=r"Dropout"),
    Bad("Dropout", "seed of text", lambda: ag.Dropout("s"), ValueError, r"'s'"),
    Bad("conv2d", "channels differ",
        lambda: ag.conv2d(sw.ConvHandle(X4.data, [3, 3], [1, 1], [1, 1], 2, 3, False),
                          arr(1, 3, 4, 4), arr(3, 2, 3, 3)), ValueError,
        r"\(1, 3, 4, 4\)", who=r"Conv2d"),
    Bad("conv2d", "int32 input",
        lambda: ag.conv2d(sw.ConvHandle(X4.data, [3, 3], [1, 1], [1, 1], 2, 3, False),
                          arr(1, 2, 4, 4, dtype=np.int32), arr(3, 2, 3, 3)), TypeError,
        r"int32", who=r"Conv2d"),
    Bad("_Conv2d", "handle of None", lambda: ag._Conv2d(None)(X4, arr(3, 2, 3, 3)), TypeError,
        r"NoneType"),
    Bad("pooling_2d", "shape differs from handle",
        lambda: ag.pooling_2d(sw.PoolingHandle(X4.data, [2, 2], [2, 2], [0, 0]),
                              arr(1, 2, 6, 6)), ValueError, r"\(1, 2, 6, 6\)",
        who=r"Pooling2d"),
    Bad("_Pooling2d", "handle of None", lambda: ag._Pooling2d(None)(X4), TypeError,
        r"NoneType"),
    Bad("batchnorm_2d", "scale length",
        lambda: ag.batchnorm_2d(sw.BatchNormHandle(0.9, X4.data), X4, arr(3), arr(2), arr(2),
                                arr(2)), ValueError, r"\(3,\)", who=r"BatchNorm2d"),
    Bad("_BatchNorm2d", "handle of None",
        lambda: ag._BatchNorm2d(None, arr(2), arr(2))(X4, arr(2), arr(2)), TypeError,
        r"NoneType"),
    Bad("conv2d_relu", "channels differ",
        lambda: ag.conv2d_relu(sw.ConvHandle(X4.data, [3, 3], [1, 1], [1, 1], 2, 3, False),
                               arr(1, 3, 4, 4), arr(3, 2, 3, 3)), ValueError,
        r"\(1, 3, 4, 4\)", who=r"Conv2dReLU"),
    Bad("conv2d_relu", "int32 input",
        lambda: ag.conv2d_relu(sw.ConvHandle(X4.data, [3, 3], [1, 1], [1, 1], 2, 3, False),
                               arr(1, 2, 4, 4, dtype=np.int32), arr(3, 2, 3, 3)), TypeError,
        r"int32", who=r"Conv2dReLU"),
    Bad("_Conv2dReLU", "handle of None", lambda: ag._Conv2dReLU(None)(X4, arr(3, 2, 3, 3)),
        TypeError, r"NoneType"),
    Bad("batchnorm_2d_relu", "scale length",
        lambda: ag.batchnorm_2d_relu(sw.BatchNormHandle(0.9, X4.data), X4, arr(3), arr(2),
                                     arr(2), arr(2)), ValueError, r"\(3,\)",
        who=r"BatchNorm2dReLU"),
    Bad("_BatchNorm2dReLU", "handle of None",
        lambda: ag._BatchNorm2dReLU(None, arr(2), arr(2))(X4, arr(2), arr(2)), TypeError,
        r"NoneType"),
    Bad("lrn", "size 0", lambda: ag.lrn(X4, size=0), ValueError, r"size.*0", who=r"LRN"),
    Bad("LRN", "1-D input", lambda: ag.LRN()(arr(4)), ValueError, r"\(4,\)"),
]

EXEMPT = {name: "singa.layer's class under its SINGA 2.x name (the same object); its bad "
          "input is tabled in test_bad_input_layer.py"
          for name in ag._LAYER_ALIASES}
EXEMPT.update({
    "is_grad_enabled": "takes no arguments; it only reads the calling thread's switch",
    "is_train_mode": "takes no arguments; it only reads the calling thread's switch",
    "is_anomaly_enabled": "takes no arguments; it only reads the calling thread's switch",
    "AnomalyError": "an exception class: detect_anomaly raises it, callers never build one",
})


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case):
    check(case)


def test_every_public_name_has_bad_input_cases():
    check_coverage(ag, CASES, EXEMPT)


@pytest.mark.parametrize("name", ag._LAYER_ALIASES)
def test_exempt_layer_aliases_are_singa_layer_classes(name):
    assert getattr(ag, name) is getattr(layer, name)
