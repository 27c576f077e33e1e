"""sonnx.to_onnx on whole models: the example networks (MLP, CIFAR CNN, AlexNet,
Xception), a small CNN with batch norm, and recurrent layers, trained a few steps in eager
and in graph mode and exported; onnxruntime reproduces singa's outputs (1e-4)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from singa import autograd, device, layer, opt, sonnx, tensor  # noqa: E402

from _examples import load_example  # noqa: E402
from _models import SmallCNN  # noqa: E402
from _sonnx_export import export_and_compare, run_ort, trace  # noqa: E402


def _data(shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    y = rng.integers(0, classes, size=shape[0]).astype(np.int32)
    return x, y


def _trained(net, x, y, steps=2, graph=False):
    """net compiled on x and trained ``steps`` SGD steps on (x, y)."""
    device.get_default_device().SetRandSeed(0)
    net.set_optimizer(opt.SGD(lr=0.01, momentum=0.9))
    tx, ty = tensor.from_numpy(x), tensor.from_numpy(y)
    net.compile([tx], is_train=True, use_graph=graph)
    for _ in range(steps):
        net(tx, ty)
    net.eval()
    return net


def _export_model(net, x, other_batch=None):
    """Exports net.forward traced on x; compares onnxruntime with singa on x and, when
    given, on a batch of another size. Returns the model and the largest difference."""
    model, worst = export_and_compare(net.forward, [x])
    if other_batch is not None:
        out, = run_ort(model, {"input_0": other_batch})
        with autograd.no_grad():
            want = tensor.to_numpy(net.forward(tensor.from_numpy(other_batch)))
        np.testing.assert_allclose(out, want, atol=1e-4, rtol=1e-4)
        worst = max(worst, float(np.max(np.abs(out - want))))
    return model, worst


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_mlp_example(graph):
    mlp = load_example("autograd", "mlp")
    x, y = _data((16, 784), 10)
    net = _trained(mlp.MLP(), x, y, graph=graph)
    model, worst = _export_model(net, x, other_batch=_data((3, 784), 10, seed=1)[0])
    assert [n.op_type for n in model.graph.node].count("Identity") == 2  # the dropouts
    print("MLP ({}): max abs diff {:.3g}".format("graph" if graph else "eager", worst))


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "graph"])
def test_cifar_cnn_example(graph):
    cnn = load_example("autograd", "cnn")
    x, y = _data((4, 3, 32, 32), 10)
    net = _trained(cnn.CifarCNN(), x, y, graph=graph)
    _, worst = _export_model(net, x, other_batch=_data((2, 3, 32, 32), 10, seed=1)[0])
    print("CIFAR CNN ({}): max abs diff {:.3g}".format("graph" if graph else "eager", worst))


def test_small_cnn_with_batch_norm_uses_the_trained_running_statistics():
    x, y = _data((4, 3, 8, 8), 2)
    net = _trained(SmallCNN(), x, y, steps=3)
    assert np.any(tensor.to_numpy(net.bn.running_mean) != 0)
    _, worst = _export_model(net, x, other_batch=_data((6, 3, 8, 8), 2, seed=1)[0])
    print("SmallCNN: max abs diff {:.3g}".format(worst))


def test_alexnet_example():
    alexnet = load_example("autograd", "alexnet")
    x, y = _data((2, 3, 61, 61), 10)
    net = _trained(alexnet.AlexNet(num_classes=10), x, y, steps=0)
    _, worst = _export_model(net, x, other_batch=_data((1, 3, 61, 61), 10, seed=1)[0])
    print("AlexNet: max abs diff {:.3g}".format(worst))


def test_xception_example():
    xception = load_example("autograd", "xceptionnet")
    net = xception.Xception(num_classes=10)
    x = _data((1, 3, 299, 299), 10)[0]
    # the example's BatchNorm layers hold their initial statistics: give them some, so
    # that the exported running statistics matter
    rng = np.random.default_rng(3)
    for name, t in net.get_states().items():
        if name.endswith("running_mean"):
            t.copy_from_numpy(rng.normal(0, 0.1, size=t.shape).astype(np.float32))
        elif name.endswith("running_var"):
            t.copy_from_numpy(rng.uniform(0.5, 1.5, size=t.shape).astype(np.float32))
    # and logits of order 1 (the initial ones are about 1e-3), so that 1e-4 means something
    fc_w = tensor.to_numpy(net.fc.W)
    net.fc.W.copy_from_numpy(fc_w * np.float32(1.0 / np.abs(fc_w).max()))
    model, worst = export_and_compare(net, [x])
    print("Xception: logits up to {:.3g}".format(
        float(np.abs(run_ort(model, {"input_0": x})[0]).max())))
    ops = {n.op_type for n in model.graph.node}
    assert {"Conv", "BatchNormalization", "MaxPool", "Add", "Relu", "MatMul"} <= ops
    print("Xception: max abs diff {:.3g}".format(worst))


def _recurrent_inputs(seq=3, batch=2, features=4, hidden=5):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(batch, features)).astype(np.float32) for _ in range(seq)]
    h0 = rng.normal(size=(batch, hidden)).astype(np.float32)
    c0 = rng.normal(size=(batch, hidden)).astype(np.float32)
    return xs, h0, c0


def test_lstm_unrolled():
    xs, h0, c0 = _recurrent_inputs()
    lstm = layer.LSTM(4, 5)
    rng = np.random.default_rng(1)
    for t in lstm.Bx + lstm.Bh:  # non-zero biases, so that they are exported too
        t.copy_from_numpy(rng.normal(size=t.shape).astype(np.float32))

    def run(*ts):
        out, h, c = lstm(list(ts[:-2]), (ts[-2], ts[-1]))
        return out + [h, c]
    model, worst = export_and_compare(run, xs + [h0, c0])
    assert {n.op_type for n in model.graph.node} >= {"MatMul", "Sigmoid", "Tanh", "Mul"}
    # other batch sizes run: every input and output has a symbolic batch axis
    xs2, h2, c2 = _recurrent_inputs(batch=3)
    names = [i.name for i in model.graph.input]
    outs = run_ort(model, dict(zip(names, xs2 + [h2, c2])))
    with autograd.no_grad():
        want = run(*[tensor.from_numpy(a) for a in xs2 + [h2, c2]])
    for got, w in zip(outs, want):
        np.testing.assert_allclose(got, tensor.to_numpy(w), atol=1e-4, rtol=1e-4)
    print("LSTM: max abs diff {:.3g}".format(worst))


def test_lstm_on_a_sequence_tensor_with_a_dynamic_batch_axis():
    xs, h0, c0 = _recurrent_inputs()
    seq = np.stack(xs)
    lstm = layer.LSTM(4, 5)

    def run(x, h, c):
        out, h, c = lstm(x, (h, c))
        return [h, c]
    export_and_compare(run, [seq, h0, c0], dynamic_axes={
        "input_0": {1: "batch"}, "input_1": {0: "batch"}, "input_2": {0: "batch"},
        "output_0": {0: "batch"}, "output_1": {0: "batch"}})


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_unrolled(nonlinearity):
    xs, h0, _ = _recurrent_inputs()
    rnn = layer.RNN(4, 5, nonlinearity=nonlinearity)

    def run(*ts):
        out, h = rnn(list(ts[:-1]), ts[-1])
        return out
    export_and_compare(run, xs + [h0])


def test_every_layer_of_singa_layer_exports():
    """Each layer class of singa.layer, called once, exports and matches (RNN and LSTM
    have their own tests above)."""
    rng = np.random.default_rng(0)
    x4 = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    x3 = rng.normal(size=(2, 3, 8)).astype(np.float32)
    x2 = rng.normal(size=(2, 5)).astype(np.float32)
    p2 = rng.uniform(0.1, 0.9, size=(2, 5)).astype(np.float32)
    ids = np.array([[0, 2], [3, 1]], np.float32)
    labels = tensor.from_numpy(np.array([4, 1], np.int32))
    target = tensor.from_numpy(rng.uniform(size=(2, 5)).astype(np.float32))
    cases = [
        (layer.Linear(3), [x2]), (layer.Gemm(3, transB=True), [x2]),
        (layer.Embedding(4, 3), [ids]), (layer.Conv2d(4, 3, activation="RELU"), [x4]),
        (layer.SeparableConv2d(4, 3, padding=1), [x4]), (layer.BatchNorm2d(), [x4]),
        (layer.LRN(3), [x4]), (layer.MaxPool2d(2), [x4]), (layer.AvgPool2d(2), [x4]),
        (layer.Pooling2d(3, 1, 1, is_max=False), [x4]), (layer.MaxPool1d(2), [x3]),
        (layer.AvgPool1d(2), [x3]),
        (layer.Dropout(0.3), [x2]), (layer.ReLU(), [x2]), (layer.Sigmoid(), [x2]),
        (layer.Tanh(), [x2]), (layer.Add(), [x2, x2 * 2]), (layer.Flatten(), [x4]),
        (layer.SoftMax(), [x2]), (layer.Reshape((0, 6, -1)), [x4]),
        (layer.Cat(1), [x2, x2]),
        (layer.SoftMaxCrossEntropy(), [x2]), (layer.CrossEntropy(), [p2]),
        (layer.BinaryCrossEntropy(), [p2]), (layer.MeanSquareError(), [x2]),
    ]
    two_inputs = {"SoftMaxCrossEntropy": labels, "CrossEntropy": labels,
                  "BinaryCrossEntropy": target, "MeanSquareError": target}
    for lay, arrays in cases:
        kind = type(lay).__name__
        if kind == "Cat":
            def fn(*ts, lay=lay):
                return lay(list(ts))
        elif kind in two_inputs:
            def fn(x, lay=lay, t=two_inputs[kind]):
                return lay(x, t)
        else:
            fn = lay
        with autograd.no_grad():
            fn(*[tensor.from_numpy(a) for a in arrays])  # creates the parameters
        export_and_compare(fn, arrays)
    exported = {type(lay).__name__ for lay, _ in cases} | {"RNN", "LSTM"}
    not_layers = {"Layer", "RNN_Base", "LayerMeta", "observe_calls", "layer_label"}
    assert exported == set(layer.__all__) - not_layers


def test_export_leaves_training_state_alone():
    x, y = _data((4, 3, 8, 8), 2)
    net = _trained(SmallCNN(), x, y, steps=1)
    before = tensor.to_numpy(net.bn.running_mean).copy()
    xs = [tensor.from_numpy(x)]
    ys = trace(net.forward, xs)
    sonnx.to_onnx(xs, ys)
    np.testing.assert_array_equal(tensor.to_numpy(net.bn.running_mean), before)
    assert not autograd.training
