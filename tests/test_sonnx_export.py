"""sonnx.to_onnx, one Operation at a time: each exported graph passes onnx's full checker
and onnxruntime reproduces singa's forward; plus the exporter's own behaviour (names,
opsets, dynamic batch, registration, errors)."""

import inspect

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from singa import autograd, layer, singa_wrap, sonnx, tensor  # noqa: E402
from singa.autograd import engine  # noqa: E402
from singa.sonnx import export_registry  # noqa: E402

from _sonnx_export import export_and_compare, run_ort, trace  # noqa: E402


def _r(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def _pos(*shape, seed=0):
    return _r(*shape, seed=seed, low=0.5, high=3.0)


def _unit(*shape, seed=0):
    return _r(*shape, seed=seed, low=-0.9, high=0.9)


A = _r(3, 4)
B = _r(3, 4, seed=1)

UNARY = [
    ("ReLU", autograd.relu, A), ("Tanh", autograd.tanh, A), ("Sigmoid", autograd.sigmoid, A),
    ("Identity", autograd.identity, A), ("Cos", autograd.cos, A), ("Cosh", autograd.cosh, A),
    ("Acos", autograd.acos, _unit(3, 4)), ("Acosh", autograd.acosh, _pos(3, 4) + 1),
    ("Sin", autograd.sin, A), ("Sinh", autograd.sinh, A), ("Asin", autograd.asin, _unit(3, 4)),
    ("Asinh", autograd.asinh, A), ("Tan", autograd.tan, _unit(3, 4)),
    ("Atan", autograd.atan, A), ("Atanh", autograd.atanh, _unit(3, 4)),
    ("Abs", autograd.abs, A), ("Exp", autograd.exp, A), ("Sign", autograd.sign, A),
    ("SoftSign", autograd.softsign, A), ("SoftPlus", autograd.softplus, A),
    ("Mish", autograd.mish, A), ("Sqrt", autograd.sqrt, _pos(3, 4)),
    ("Log", autograd.log, _pos(3, 4)), ("Negative", autograd.negative, A),
    ("Reciprocal", autograd.reciprocal, _pos(3, 4)), ("Erf", autograd.erf, A),
    ("Ceil", autograd.ceil, A), ("Floor", autograd.floor, A),
    ("Round", autograd.round, np.array([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.3, -0.7]],
                                       np.float32)),
    ("Rounde", autograd.rounde, np.array([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.3, -0.7]],
                                         np.float32)),
    ("Not", autograd._not, np.array([[0, 1, -2], [3, 0, 0]], np.float32)),
    ("Elu", lambda x: autograd.elu(x, 0.7), A), ("SeLU", autograd.selu, A),
    ("LeakyRelu", lambda x: autograd.leakyrelu(x, 0.2), A),
    ("HardSigmoid", lambda x: autograd.hardsigmoid(x, 0.3, 0.4), A),
    ("Clip", lambda x: autograd.clip(x, -0.5, 1.0), A),
    ("Clip_min_only", lambda x: autograd.clip(x, -0.5, None), A),
    ("SoftMax", lambda x: autograd.softmax(x, 1), A),
    ("SoftMax_axis0", lambda x: autograd.softmax(x, 0), A),
]

INTS = np.array([[1, 0, 2], [0, 0, 1]], np.float32)
BINARY = [
    ("Add", autograd.add, [A, B]), ("Sub", autograd.sub, [A, B]), ("Mul", autograd.mul, [A, B]),
    ("Div", autograd.div, [A, _pos(3, 4)]), ("Pow", autograd.pow, [_pos(3, 4), B]),
    ("Add_broadcast", autograd.add, [A, _r(4, seed=2)]),
    ("Matmul", autograd.matmul, [A, _r(4, 5, seed=2)]),
    ("Matmul_batched", autograd.matmul, [_r(2, 3, 4), _r(4, 5, seed=2)]),
    ("Less", autograd.less, [A, B]), ("Greater", autograd.greater, [A, B]),
    ("Equal", autograd.equal, [INTS, INTS.T.reshape(2, 3)]),
    ("And", autograd._and, [INTS, INTS[::-1].copy()]),
    ("Or", autograd._or, [INTS, INTS[::-1].copy()]),
    ("Xor", autograd._xor, [INTS, INTS[::-1].copy()]),
    ("PRelu", autograd.prelu, [A, _r(4, seed=3, low=0.0, high=0.5)]),
    ("Max", autograd.max, [A, B, _r(3, 4, seed=4)]), ("Min", autograd.min, [A, B]),
    ("Max_one", autograd.max, [A]),
    ("Sum", autograd.sum, [A, B, _r(3, 4, seed=4)]), ("Mean", autograd.mean, [A, B]),
    ("CosSim", autograd.cossim, [A, B]),
    ("Embedding", autograd.embedding, [np.array([[1, 0], [3, 2]], np.float32), _r(4, 3)]),
]


@pytest.mark.parametrize("name,fn,x", UNARY, ids=[c[0] for c in UNARY])
def test_unary_and_activation_ops(name, fn, x):
    export_and_compare(fn, [x])


@pytest.mark.parametrize("name,fn,xs", BINARY, ids=[c[0] for c in BINARY])
def test_binary_and_variadic_ops(name, fn, xs):
    export_and_compare(fn, xs)


X4 = _r(2, 3, 4, 4)
LABELS = np.array([2, 0, 1], np.int32)
ONEHOT = np.eye(4, dtype=np.float32)[[1, 3, 0]]
SHAPE = [
    ("Reshape", lambda x: autograd.reshape(x, (3, 2, 2)), [A]),
    ("Reshape_batch", lambda x: autograd.reshape(x, (2, 3, 16)), [X4]),
    ("Flatten", lambda x: autograd.flatten(x, 2), [X4]),
    ("Transpose", lambda x: autograd.transpose(x, (1, 0, 3, 2)), [X4]),
    ("Transpose_reversed", lambda x: autograd.transpose(x), [X4]),
    ("Unsqueeze", lambda x: autograd.unsqueeze(x, [0, 3]), [A]),
    ("Squeeze", lambda x: autograd.squeeze(x, 1), [_r(3, 1, 4)]),
    ("Squeeze_all", lambda x: autograd.squeeze(x), [_r(3, 1, 4, 1)]),
    ("Expand", lambda x: autograd.expand(x, (2, 3, 4)), [_r(3, 1)]),
    ("Tile", lambda x: autograd.tile(x, [2, 3]), [A]),
    ("Tile_more_repeats", lambda x: autograd.tile(x, [2, 1, 2]), [A]),
    ("Slice", lambda x: autograd.slice(x, [0, 1], [2, 4], [0, 1], [1, 2]), [A]),
    ("Slice_negative", lambda x: autograd.slice(x, [-1], [-4], [1], [-1]), [A]),
    ("Split", lambda x: autograd.split(x, 1, [1, 3]), [A]),
    ("Split_equal", lambda x: autograd.split(x, 1, None, 2), [A]),
    ("Concat", lambda a, b: autograd.cat([a, b], 1), [A, B]),
    ("Gather", lambda x: autograd.gather(x, 1, [3, 0, 0]), [A]),
    ("ScatterElements", lambda x: autograd.scatter_elements(
        x, np.array([[1, 0, 2, 1]], np.int32), np.ones((1, 4), np.float32), 0), [A]),
    ("ScatterElements_input", lambda x, u: autograd.scatter_elements(
        x, np.array([[1, 0, 2, 1]], np.int32), u, 0), [A, _r(1, 4, seed=5)]),
    ("Where", lambda a, b: autograd.where(a, b, np.array([[1, 0, 1, 0]] * 3, np.float32)),
     [A, B]),
    ("ConstantOfShape", lambda x: autograd.add(
        autograd.constant_of_shape(autograd.shape(x), 1.5), x), [A]),
    ("Cast", lambda x: autograd.cast(x, singa_wrap.kInt), [A]),
    ("OneHot", lambda x: autograd.onehot(0, x, 4, [0.0, 2.0]), [LABELS]),
    ("NonZero", autograd.nonzero, [INTS]),
    ("Shape", autograd.shape, [X4]),
    ("ReduceSum", lambda x: autograd.reduce_sum(x, [1, 2], 0), [X4]),
    ("ReduceSum_all", lambda x: autograd.reduce_sum(x, None, 1), [X4]),
    ("ReduceMean", lambda x: autograd.reduce_mean(x, [-1], 1), [X4]),
    ("GlobalAveragePool", autograd.globalaveragepool, [X4]),
    ("GlobalAveragePool_last", lambda x: autograd.globalaveragepool(x, "channels_last"),
     [X4]),
    ("Pad_constant", lambda x: autograd.pad(x, "constant", [0, 0, 1, 2, 0, 0, 2, 1], 0.5),
     [X4]),
    ("Pad_edge", lambda x: autograd.pad(x, "edge", [0, 0, 1, 2, 0, 0, 2, 1]), [X4]),
    ("Pad_reflect", lambda x: autograd.pad(x, "reflect", [0, 0, 1, 2, 0, 0, 2, 1]), [X4]),
    ("UpSample", lambda x: autograd.upsample(x, "nearest", [1, 1, 2, 3]), [X4]),
    ("DepthToSpace_DCR", lambda x: autograd.depth_to_space(x, 2, "DCR"), [_r(2, 8, 2, 3)]),
    ("DepthToSpace_CRD", lambda x: autograd.depth_to_space(x, 2, "CRD"), [_r(2, 8, 2, 3)]),
    ("SpaceToDepth_DCR", lambda x: autograd.space_to_depth(x, 2, "DCR"), [_r(2, 3, 4, 6)]),
    ("SpaceToDepth_CRD", lambda x: autograd.space_to_depth(x, 2, "CRD"), [_r(2, 3, 4, 6)]),
]


@pytest.mark.parametrize("name,fn,xs", SHAPE, ids=[c[0] for c in SHAPE])
def test_shape_and_spatial_ops(name, fn, xs):
    export_and_compare(fn, xs)


def _conv(x, stride=1, padding=0, group=1, bias=True, out=4, kernel=3, dilation=1):
    conv = layer.Conv2d(out, kernel, stride=stride, padding=padding, group=group, bias=bias,
                        dilation=dilation)
    conv.initialize(x)
    return conv(x)


NN = [
    ("Gemm", lambda a, b, c: autograd.gemm(a, b, c, 0.5, 2.0, 1, 0),
     [_r(4, 3), _r(4, 5, seed=1), _r(3, 5, seed=2)]),
    ("Gemm_noC_transB", lambda a, b: autograd.gemm(a, b, None, 1.0, 1.0, 0, 1),
     [_r(3, 4), _r(5, 4, seed=1)]),
    ("AddBias_rows", lambda x, b: autograd.add_bias(x, b, 0), [A, _r(4, seed=1)]),
    ("AddBias_cols", lambda x, b: autograd.add_bias(x, b, 1), [A, _r(3, seed=1)]),
    ("Dropout", lambda x: autograd.dropout(x, ratio=0.5), [A]),
    ("Conv2d", lambda x: _conv(x, padding=1), [X4]),
    ("Conv2d_strided_nobias", lambda x: _conv(x, stride=2, bias=False), [_r(2, 3, 7, 7)]),
    ("Conv2d_grouped", lambda x: _conv(x, group=3, out=6), [X4]),
    ("Conv2d_dilated", lambda x: _conv(x, dilation=2, padding=2), [_r(2, 3, 7, 7)]),
    ("Conv2d_asymmetric", lambda x: _conv(x, padding=(0, 1, 1, 0), kernel=2), [X4]),
    ("MaxPool2d", lambda x: layer.MaxPool2d(2)(x), [X4]),
    ("MaxPool2d_padded", lambda x: layer.MaxPool2d(3, 2, 1)(x), [_r(2, 3, 7, 7)]),
    ("AvgPool2d", lambda x: layer.AvgPool2d(3, 2, 1)(x), [_r(2, 3, 7, 7)]),
    ("MaxPool1d", lambda x: layer.MaxPool1d(2)(x), [_r(2, 3, 8)]),
    ("AvgPool1d", lambda x: layer.AvgPool1d(3, 1)(x), [_r(2, 3, 8)]),
    ("LRN", lambda x: autograd.lrn(x, 3, 1e-2, 0.75, 2.0), [_r(2, 6, 3, 3)]),
    ("SoftMaxCrossEntropy_labels", lambda x: autograd.softmax_cross_entropy(
        x, tensor.from_numpy(LABELS)), [A]),
    ("SoftMaxCrossEntropy_onehot", lambda x: autograd.softmax_cross_entropy(
        x, tensor.from_numpy(ONEHOT)), [A]),
    ("CrossEntropy", lambda x: autograd.cross_entropy(
        autograd.softmax(x), tensor.from_numpy(LABELS)), [A]),
    ("CrossEntropy_soft", lambda x, t: autograd.CrossEntropy()(autograd.softmax(x), t)[0],
     [A, ONEHOT]),
    ("BinaryCrossEntropy", lambda x: autograd.binary_cross_entropy(
        autograd.sigmoid(x), tensor.from_numpy((B > 0).astype(np.float32))), [A]),
    ("MeanSquareError", lambda x, t: autograd.mse_loss(x, t), [A, B]),
    ("RankingLoss", lambda a, b: autograd.ranking_loss(a, b, 0.5), [A, B]),
]


@pytest.mark.parametrize("name,fn,xs", NN, ids=[c[0] for c in NN])
def test_nn_and_loss_ops(name, fn, xs):
    export_and_compare(fn, xs)


def test_batchnorm_exports_its_running_statistics():
    x = tensor.from_numpy(X4)
    bn = layer.BatchNorm2d()
    bn.initialize(x)
    bn.running_mean.copy_from_numpy(_r(3, seed=7))
    bn.running_var.copy_from_numpy(_pos(3, seed=8))
    bn.scale.copy_from_numpy(_r(3, seed=9))
    _, worst = export_and_compare(bn, [X4])
    assert worst < 1e-4


# ---- coverage ----

_ABSTRACT = {"_Extremum", "_SavesX", "_SavesY", "_Piecewise", "_TargetLoss"}


def _operation_classes():
    """Every concrete Operation class the autograd op modules define."""
    from singa.autograd import (ops_activation, ops_binary, ops_fused_nn, ops_loss, ops_nn,
                                ops_shape, ops_spatial, ops_unary)
    found = set()
    for mod in (ops_activation, ops_binary, ops_fused_nn, ops_loss, ops_nn, ops_shape,
                ops_spatial, ops_unary):
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, engine.Operation) and cls.__module__ == mod.__name__ and \
                    name not in _ABSTRACT:
                found.add(cls)
    return found


def test_every_singa_operation_class_has_an_exporter():
    classes = _operation_classes()
    assert len(classes) > 90
    missing = [c.__name__ for c in classes if export_registry.exporter_for(c.__new__(c)) is None]
    assert not missing, missing


def test_every_operation_class_is_exercised_here():
    tested = {c[0].split("_")[0] for c in UNARY + BINARY + SHAPE + NN}
    # the layers' cases: Conv2d*, MaxPool*/AvgPool*, and the BatchNorm2d test
    tested |= {"_Conv2d", "_Pooling2d", "_BatchNorm2d"}
    # the fused conv/batch-norm + ReLU: tests/test_fused_nn_onnx.py
    tested |= {"_Conv2dReLU", "_BatchNorm2dReLU"}
    untested = {c.__name__ for c in _operation_classes()} - tested
    assert not untested, sorted(untested)


# ---- the exporter's behaviour ----

def _mlp_graph():
    x = tensor.from_numpy(_r(4, 3))
    lin = layer.Linear(5)
    lin.initialize(x)
    lin.W.name, lin.b.name = "fc.W", "fc.b"
    y, = trace(lambda t: autograd.relu(lin(t)), [x])
    return x, y, lin


def test_default_opset_is_the_newest_both_onnx_and_onnxruntime_load():
    x, y, _ = _mlp_graph()
    model = sonnx.to_onnx([x], [y])
    assert model.opset_import[0].version == sonnx.export.DEFAULT_OPSET
    assert sonnx.export.DEFAULT_OPSET <= onnx.defs.onnx_opset_version()
    assert sonnx.export.DEFAULT_OPSET >= 18
    assert model.ir_version == onnx.helper.find_min_ir_version_for(list(model.opset_import))
    run_ort(model, {"input_0": tensor.to_numpy(x)})


@pytest.mark.parametrize("opset", [18, 21, 26])
def test_each_supported_opset_loads_and_matches(opset):
    _, worst = export_and_compare(lambda t: autograd.reduce_mean(autograd.relu(t), [1], 0),
                                  [A], opset=opset)
    assert worst < 1e-5


def test_every_op_case_also_exports_at_the_oldest_supported_opset():
    for name, fn, xs in UNARY + BINARY + SHAPE + NN:
        export_and_compare(fn, xs if isinstance(xs, list) else [xs], opset=18)


def test_a_float16_graph_exports_with_its_element_type():
    x = _r(3, 4).astype(np.float16)
    w = _r(4, 2, seed=1).astype(np.float16)
    model, _ = export_and_compare(
        lambda a, b: autograd.clip(autograd.relu(autograd.matmul(a, b)), None, 1.5), [x, w],
        atol=2e-3, rtol=2e-3)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


@pytest.mark.parametrize("opset", [11, 17, 27, "26", True])
def test_unsupported_opsets_are_refused(opset):
    x, y, _ = _mlp_graph()
    with pytest.raises(sonnx.export.ExportError, match="opset must be an int in \\[18, 26\\]"):
        sonnx.to_onnx([x], [y], opset=opset)


def test_parameters_become_initializers_under_their_names():
    x, y, lin = _mlp_graph()
    model = sonnx.to_onnx([x], [y], model_name="mlp")
    assert model.graph.name == "mlp"
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    np.testing.assert_array_equal(inits["fc.W"], tensor.to_numpy(lin.W))
    np.testing.assert_array_equal(inits["fc.b"], tensor.to_numpy(lin.b))
    assert [i.name for i in model.graph.input] == ["input_0"]
    assert [o.name for o in model.graph.output] == ["output_0"]


def test_input_and_output_names_are_used():
    x, y, _ = _mlp_graph()
    model = sonnx.to_onnx([x], [y], input_names=["pixels"], output_names=["scores"])
    assert [i.name for i in model.graph.input] == ["pixels"]
    assert [o.name for o in model.graph.output] == ["scores"]
    out, = run_ort(model, {"pixels": tensor.to_numpy(x)})
    np.testing.assert_allclose(out, tensor.to_numpy(y), atol=1e-5)


@pytest.mark.parametrize("names,match", [(["a", "b"], "input_names must be 1"),
                                         ([""], "non-empty"), ([3], "non-empty")])
def test_bad_names_are_refused(names, match):
    x, y, _ = _mlp_graph()
    with pytest.raises(sonnx.export.ExportError, match=match):
        sonnx.to_onnx([x], [y], input_names=names)


def test_a_name_used_for_an_input_and_an_output_is_refused():
    x, y, _ = _mlp_graph()
    with pytest.raises(sonnx.export.ExportError, match="both input and output"):
        sonnx.to_onnx([x], [y], input_names=["v"], output_names=["v"])


def _dim(vi, axis):
    d = vi.type.tensor_type.shape.dim[axis]
    return d.dim_param or d.dim_value


def test_batch_axis_is_symbolic_by_default_and_other_batches_run():
    x = tensor.from_numpy(X4)
    conv = layer.Conv2d(2, 3, padding=1)
    conv.initialize(x)

    def net(t):  # a reshape that spells out the batch size
        return autograd.reshape(autograd.relu(conv(t)), (t.shape[0], -1))
    y, = trace(net, [x])
    model = sonnx.to_onnx([x], [y])
    assert _dim(model.graph.input[0], 0) == "batch"
    assert _dim(model.graph.output[0], 0) == "batch"
    onnx.checker.check_model(model, full_check=True)
    big = _r(5, 3, 4, 4, seed=3)
    out, = run_ort(model, {"input_0": big})
    with autograd.no_grad():
        want = tensor.to_numpy(net(tensor.from_numpy(big)))
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_a_loss_output_keeps_its_static_shape():
    x = tensor.from_numpy(A)
    y, = trace(lambda t: autograd.softmax_cross_entropy(t, tensor.from_numpy(LABELS)), [x])
    model = sonnx.to_onnx([x], [y])
    assert _dim(model.graph.output[0], 0) == 1


def test_dynamic_axes_name_exactly_the_symbolic_axes():
    x, y, _ = _mlp_graph()
    model = sonnx.to_onnx([x], [y], dynamic_axes={"input_0": {0: "n"}, "output_0": [0]})
    assert _dim(model.graph.input[0], 0) == "n"
    assert _dim(model.graph.output[0], 0) == "output_0_dim0"
    static = sonnx.to_onnx([x], [y], dynamic_axes={})
    assert _dim(static.graph.input[0], 0) == 4 and _dim(static.graph.output[0], 0) == 4


def test_dynamic_axis_out_of_range_is_refused():
    x, y, _ = _mlp_graph()
    with pytest.raises(sonnx.export.ExportError, match="dynamic axis 5 of 'input_0'"):
        sonnx.to_onnx([x], [y], dynamic_axes={"input_0": [5]})


def test_dynamic_axes_must_be_a_dict():
    x, y, _ = _mlp_graph()
    with pytest.raises(sonnx.export.ExportError, match=r"dynamic_axes must be a dict \{name"):
        sonnx.to_onnx([x], [y], dynamic_axes=[0])


def test_several_outputs_and_an_input_returned_as_is():
    a, b = tensor.from_numpy(A), tensor.from_numpy(B)
    ys = trace(lambda p, q: (autograd.add(p, q), autograd.mul(p, q)), [a, b])
    model = sonnx.to_onnx([a, b], ys + [a])
    onnx.checker.check_model(model, full_check=True)
    outs = run_ort(model, {"input_0": A, "input_1": B})
    np.testing.assert_allclose(outs[0], A + B, rtol=1e-6)
    np.testing.assert_allclose(outs[1], A * B, rtol=1e-6)
    np.testing.assert_array_equal(outs[2], A)


def test_an_intermediate_tensor_can_be_the_input():
    x = tensor.from_numpy(A)
    h, y = trace(lambda t: (lambda u: (u, autograd.tanh(u)))(autograd.exp(t)), [x])
    model = sonnx.to_onnx([h], [y])
    assert [n.op_type for n in model.graph.node] == ["Tanh"]
    out, = run_ort(model, {"input_0": tensor.to_numpy(h)})
    np.testing.assert_allclose(out, tensor.to_numpy(y), atol=1e-6)


def test_leaf_constants_become_initializers():
    x = tensor.from_numpy(A)
    c = tensor.from_numpy(B)
    y, = trace(lambda t: autograd.mul(t, c), [x])
    model = sonnx.to_onnx([x], [y])
    assert len(model.graph.input) == 1 and len(model.graph.initializer) == 1
    out, = run_ort(model, {"input_0": A})
    np.testing.assert_allclose(out, A * B, rtol=1e-6)


def test_save_writes_a_loadable_file(tmp_path):
    x, y, _ = _mlp_graph()
    path = str(tmp_path / "m.onnx")
    sonnx.save(sonnx.to_onnx([x], [y]), path)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def test_unrecorded_forward_is_refused_with_the_way_to_record():
    x = tensor.from_numpy(A)
    autograd.training = False
    y = autograd.relu(x)
    with pytest.raises(sonnx.export.ExportError, match="no recorded inputs.*set_grad_enabled"):
        sonnx.to_onnx([x], [y])


def test_a_graph_released_by_backward_is_refused():
    autograd.training = True
    x = tensor.from_numpy(A)
    w = tensor.from_numpy(B)
    w.requires_grad = w.stores_grad = True
    y = autograd.reduce_sum(autograd.mul(x, w))
    list(autograd.backward(y))
    with pytest.raises(sonnx.export.ExportError, match="released"):
        sonnx.to_onnx([x], [y])


class _Cube(autograd.Operation):
    def forward(self, x):
        return singa_wrap.__mul__(singa_wrap.__mul__(x, x), x)

    def backward(self, dy):
        raise NotImplementedError


def test_a_users_operation_names_its_class_and_how_to_register():
    x = tensor.from_numpy(A)
    y, = trace(lambda t: _Cube()(t)[0], [x])
    with pytest.raises(sonnx.export.ExportError,
                       match=r"_Cube.*sonnx.register_export\(_Cube, fn\)"):
        sonnx.to_onnx([x], [y])


def test_register_export_lets_a_user_export_their_operation():
    def cube(op, ctx, inputs, outputs):
        sq = ctx.node("Mul", [inputs[0], inputs[0]])
        ctx.node("Mul", [sq, inputs[0]], outputs)
    sonnx.register_export(_Cube, cube)
    try:
        _, worst = export_and_compare(lambda t: _Cube()(t)[0], [A])
    finally:
        del export_registry._EXPORTERS[_Cube]
    assert worst < 1e-5


def test_register_export_checks_its_arguments():
    with pytest.raises(TypeError, match="op_class must be an Operation class"):
        sonnx.register_export("Cube", print)
    with pytest.raises(TypeError, match="fn must be callable"):
        sonnx.register_export(_Cube, None)


def test_inputs_must_be_tensors():
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a singa Tensor"):
        sonnx.to_onnx([A], [tensor.from_numpy(A)])


def test_singa_frontend_builds_a_graph_and_single_nodes():
    x, y, _ = _mlp_graph()
    graph = sonnx.SingaFrontend.singa_to_onnx_graph([x], [y], "g")
    assert isinstance(graph, onnx.GraphProto)
    assert [n.op_type for n in graph.node] == ["MatMul", "Add", "Relu"]
    ctx = export_registry.ExportContext(sonnx.export.DEFAULT_OPSET)
    nodes = sonnx.SingaFrontend.singa_op_to_onnx_node(y.creator, ctx, ["h"], ["out"])
    assert [(n.op_type, list(n.input), list(n.output)) for n in nodes] == \
        [("Relu", ["h"], ["out"])]


def test_deep_graphs_do_not_reach_the_recursion_limit():
    x = tensor.from_numpy(A)

    def deep(t):
        for _ in range(3000):
            t = autograd.identity(t)
        return t
    y, = trace(deep, [x])
    model = sonnx.to_onnx([x], [y])
    assert len(model.graph.node) == 3000
