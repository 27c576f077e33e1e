"""Layers: output shapes, parameter names, both SINGA call forms, pad modes, states."""
import numpy as np
import pytest

from singa import autograd, layer, tensor


@pytest.fixture(autouse=True)
def _eval_mode():
    autograd.training = False
    yield
    autograd.training = False


def _t(a, dtype=np.float32):
    return tensor.from_numpy(np.asarray(a, dtype))


def _np_conv(x, w, b, pads, stride, group=1):
    t, bo, l, r = pads
    x = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, f, oh, ow))
    fg = f // group
    for o in range(f):
        g = o // fg
        xs = x[:, g * cg:(g + 1) * cg]
        for i in range(oh):
            for j in range(ow):
                patch = xs[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


X4 = np.random.default_rng(0).standard_normal((2, 4, 9, 9)).astype(np.float32)
X2 = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)

# (factory, input, output shape, parameter names, extra state names)
SHAPES = [
    ("linear_out", lambda: layer.Linear(3), X2, (5, 3), ["W", "b"], []),
    ("linear_in_out", lambda: layer.Linear(6, 3, bias=False), X2, (5, 3), ["W"], []),
    ("gemm", lambda: layer.Gemm(3), X2, (5, 3), ["W", "b"], []),
    ("gemm_notrans", lambda: layer.Gemm(3, transB=False, bias=False), X2, (5, 3), ["W"], []),
    ("conv", lambda: layer.Conv2d(8, 3), X4, (2, 8, 7, 7), ["W", "b"], []),
    ("conv_2x", lambda: layer.Conv2d(4, 8, 3, 2, 1, bias=False), X4, (2, 8, 5, 5), ["W"], []),
    ("conv_group", lambda: layer.Conv2d(8, 3, padding=1, group=2), X4, (2, 8, 9, 9), ["W", "b"], []),
    ("conv_depthwise_same", lambda: layer.Conv2d(4, 3, stride=2, group=4, pad_mode="SAME_UPPER"),
     X4, (2, 4, 5, 5), ["W", "b"], []),
    ("conv_relu", lambda: layer.Conv2d(8, (1, 3), activation="RELU"), X4, (2, 8, 9, 7),
     ["W", "b"], []),
    ("sepconv", lambda: layer.SeparableConv2d(6, 3, padding=1), X4, (2, 6, 9, 9),
     ["depthwise_conv.W", "point_conv.W"], []),
    ("sepconv_2x", lambda: layer.SeparableConv2d(4, 6, 3, 2, 1, True), X4, (2, 6, 5, 5),
     ["depthwise_conv.W", "depthwise_conv.b", "point_conv.W", "point_conv.b"], []),
    ("bn", lambda: layer.BatchNorm2d(), X4, (2, 4, 9, 9), ["scale", "bias"],
     ["running_mean", "running_var"]),
    ("bn_2x", lambda: layer.BatchNorm2d(4, momentum=0.8), X4, (2, 4, 9, 9), ["scale", "bias"],
     ["running_mean", "running_var"]),
    ("bn_2d_input", lambda: layer.BatchNorm2d(), X2, (5, 6), ["scale", "bias"],
     ["running_mean", "running_var"]),
    ("maxpool", lambda: layer.MaxPool2d(3, 2, 1), X4, (2, 4, 5, 5), [], []),
    ("maxpool_default_stride", lambda: layer.MaxPool2d(2), X4, (2, 4, 4, 4), [], []),
    ("avgpool", lambda: layer.AvgPool2d(3, 1), X4, (2, 4, 7, 7), [], []),
    ("pool_same", lambda: layer.Pooling2d(2, 2, is_max=False, pad_mode="SAME_LOWER"), X4,
     (2, 4, 5, 5), [], []),
    ("maxpool1d", lambda: layer.MaxPool1d(2), X4[:, :, 0], (2, 4, 4), [], []),
    ("avgpool1d_4d", lambda: layer.AvgPool1d(3, 1, 1), X4[:, :, :1], (2, 4, 1, 9), [], []),
    ("lrn", lambda: layer.LRN(size=3), X4, (2, 4, 9, 9), [], []),
    ("dropout", lambda: layer.Dropout(0.3), X2, (5, 6), [], []),
    ("relu", lambda: layer.ReLU(), X2, (5, 6), [], []),
    ("sigmoid", lambda: layer.Sigmoid(), X2, (5, 6), [], []),
    ("tanh", lambda: layer.Tanh(), X2, (5, 6), [], []),
    ("flatten", lambda: layer.Flatten(), X4, (2, 324), [], []),
    ("flatten_axis2", lambda: layer.Flatten(2), X4, (8, 81), [], []),
    ("softmax", lambda: layer.SoftMax(), X2, (5, 6), [], []),
    ("reshape", lambda: layer.Reshape((3, 10)), X2, (3, 10), [], []),
]


@pytest.mark.parametrize("make,x,shape,params,states", [s[1:] for s in SHAPES],
                         ids=[s[0] for s in SHAPES])
def test_output_shape_and_names(make, x, shape, params, states):
    lay = make()
    y = lay(_t(x))
    assert y.shape == shape
    assert list(lay.get_params()) == params
    assert list(lay.get_states()) == params + states
    for name, p in lay.get_params().items():
        assert p.stores_grad and p.requires_grad, name


def test_multi_input_layers():
    a, b = _t(X2), _t(X2)
    assert layer.Add()(a, b).shape == (5, 6)
    assert layer.Cat(1)([a, b]).shape == (5, 12)
    assert layer.Reshape()(a, (6, 5)).shape == (6, 5)
    labels = _t([0, 1, 2, 3, 4], np.int32)
    assert layer.SoftMaxCrossEntropy()(a, labels).size() == 1
    assert layer.MeanSquareError()(a, b).size() == 1
    probs = autograd.softmax(a)
    onehot = np.eye(6, dtype=np.float32)[[0, 1, 2, 3, 4]]
    assert layer.CrossEntropy()(probs, _t(onehot)).size() == 1
    sig = autograd.sigmoid(a)
    assert layer.BinaryCrossEntropy()(sig, _t((X2 > 0).astype(np.float32))).size() == 1
    emb = layer.Embedding(10, 4)
    assert emb(_t([[1, 2, 3], [4, 5, 9]], np.int32)).shape == (2, 3, 4)
    assert list(emb.get_params()) == ["W"]


def test_linear_computes_xw_plus_b():
    lay = layer.Linear(3)
    y = tensor.to_numpy(lay(_t(X2)))
    w, b = (tensor.to_numpy(p) for p in lay.get_params().values())
    np.testing.assert_allclose(y, X2 @ w + b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="features"):
        layer.Linear(7, 3)(_t(X2))


@pytest.mark.parametrize("mode,stride,k", [("SAME_UPPER", 2, 4), ("SAME_LOWER", 2, 4),
                                           ("SAME_UPPER", 1, 2), ("SAME_LOWER", 3, 3),
                                           ("VALID", 2, 3)])
def test_conv_pad_modes_match_numpy(mode, stride, k):
    lay = layer.Conv2d(3, k, stride=stride, pad_mode=mode)
    x = X4[:, :, :8, :9]
    y = tensor.to_numpy(lay(_t(x)))
    w, b = (tensor.to_numpy(p) for p in lay.get_params().values())
    pads = []
    for size in x.shape[2:]:
        out = -(-size // stride) if mode != "VALID" else (size - k) // stride + 1
        total = max((out - 1) * stride + k - size, 0) if mode != "VALID" else 0
        lo, hi = total // 2, total - total // 2
        pads += [hi, lo] if mode == "SAME_LOWER" else [lo, hi]
    ref = _np_conv(x, w, b, pads, stride)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_grouped_conv_matches_numpy():
    lay = layer.Conv2d(4, 6, 3, 1, 1, group=2, bias=True)
    y = tensor.to_numpy(lay(_t(X4)))
    w = tensor.to_numpy(lay.W)
    assert w.shape == (6, 2, 3, 3)
    ref = _np_conv(X4, w, tensor.to_numpy(lay.b), [1, 1, 1, 1], 1, group=2)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_conv_argument_errors():
    with pytest.raises(ValueError):
        layer.Conv2d(8, 3, pad_mode="SAME")
    with pytest.raises(ValueError):
        layer.Conv2d(3, 3, group=2)
    with pytest.raises(ValueError):
        layer.Conv2d(8, 3, activation="gelu")
    with pytest.raises(ValueError, match="channels"):
        layer.Conv2d(3, 8, 3)(_t(X4))


def test_batchnorm_running_stats_update_only_in_training():
    bn = layer.BatchNorm2d(momentum=0.9)
    x = _t(X4 * 2 + 1)
    bn(x)                                  # eval: inference path, stats untouched
    np.testing.assert_array_equal(tensor.to_numpy(bn.running_mean), 0)
    autograd.training = True
    y = tensor.to_numpy(bn(x))
    mean = (X4 * 2 + 1).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(tensor.to_numpy(bn.running_mean), 0.1 * mean, rtol=1e-4)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-2)


def test_dropout_uses_ratio():
    x = _t(np.ones((200, 100)))
    np.testing.assert_array_equal(tensor.to_numpy(layer.Dropout(0.7)(x)), 1)   # eval: identity
    autograd.training = True
    y = tensor.to_numpy(layer.Dropout(0.7)(x))
    assert abs((y == 0).mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.3, rtol=1e-5)
    with pytest.raises(ValueError):
        layer.Dropout(1.0)


class _Net(layer.Layer):
    def __init__(self):
        super().__init__()
        self.blocks = [layer.Linear(4), layer.ReLU(), layer.Linear(4)]
        self.heads = {"a": layer.Linear(2), "b": layer.Linear(3, bias=False)}
        self.shared = self.blocks[0]           # reachable twice: listed once
        self.bn = layer.BatchNorm2d()

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        x = self.bn(x)
        return self.heads["a"](x), self.heads["b"](x)


def test_param_discovery_through_lists_and_dicts():
    net = _Net()
    a, b = net(_t(X2))
    assert a.shape == (5, 2) and b.shape == (5, 3)
    assert list(net.get_params()) == ["blocks.0.W", "blocks.0.b", "blocks.2.W", "blocks.2.b",
                                      "heads.a.W", "heads.a.b", "heads.b.W", "bn.scale",
                                      "bn.bias"]
    assert list(net.get_states())[-2:] == ["bn.running_mean", "bn.running_var"]


def test_set_params_and_states():
    net = _Net()
    net(_t(X2))
    vals = {k: np.full(v.shape, 0.5, np.float32) for k, v in net.get_states().items()}
    net.set_states(vals)
    for k, v in net.get_states().items():
        np.testing.assert_array_equal(tensor.to_numpy(v), 0.5)
    net.set_params({"heads.a.b": _t([1.0, 2.0])})
    np.testing.assert_array_equal(tensor.to_numpy(net.heads["a"].b), [1, 2])
    with pytest.raises(ValueError, match="heads.a.W"):
        net.set_params({"heads.a.W": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="nope"):
        net.set_params({"nope": np.zeros(1)})


def test_train_eval_sets_flags():
    net = _Net()
    net.train()
    assert autograd.training and net.blocks[0].training
    net.eval()
    assert not autograd.training and not net.heads["a"].training


class _OverridesCall(layer.Layer):
    """SINGA 2.x style: __call__ overridden, sub-layers initialise themselves."""

    def __init__(self):
        super().__init__()
        self.conv = autograd.Conv2d(4, 6, 3, 1, 1, bias=False)
        self.bn = autograd.BatchNorm2d(6)
        self.pool = autograd.MaxPool2d(3, 2, 1)
        self.fc = autograd.Linear(6 * 5 * 5, 3)

    def __call__(self, x):
        y = self.pool(autograd.relu(self.bn(self.conv(x))))
        return self.fc(autograd.flatten(y))


def test_layer_overriding_call_trains():
    net = _OverridesCall()
    from singa import opt
    sgd = opt.SGD(lr=0.1, momentum=0.9)
    x, y = _t(X4[:2]), _t([0, 2], np.int32)
    autograd.training = True
    losses = []
    for _ in range(5):
        loss = autograd.softmax_cross_entropy(net(x), y)
        for p, g in autograd.backward(loss):
            sgd.update(p, g)
        losses.append(float(tensor.to_numpy(loss).reshape(-1)[0]))
    assert losses[-1] < losses[0]
    assert list(net.get_params()) == ["conv.W", "bn.scale", "bn.bias", "fc.W", "fc.b"]


def test_rnn_and_lstm():
    xs = [_t(X2) for _ in range(3)]
    h0 = tensor.zeros((5, 4))
    rnn = layer.RNN(6, 4)
    out, h = rnn(xs, h0)
    assert len(out) == 3 and h.shape == (5, 4)
    assert list(rnn.get_params()) == ["Wx", "Wh", "b"]
    # the last output matches a NumPy recurrence
    wx, wh, b = (tensor.to_numpy(p) for p in rnn.get_params().values())
    ref = np.zeros((5, 4))
    for _ in range(3):
        ref = np.tanh(X2 @ wx + ref @ wh + b)
    np.testing.assert_allclose(tensor.to_numpy(h), ref, rtol=1e-4, atol=1e-5)

    lstm = layer.LSTM(6, 4)
    out, h, c = lstm(xs, (h0, tensor.zeros((5, 4))))
    assert len(out) == 3 and h.shape == (5, 4) and c.shape == (5, 4)
    assert len(lstm.get_params()) == 16 and "Wx.0" in lstm.get_params()
    # gradients reach every parameter
    autograd.training = True
    out, h, c = lstm(xs, (h0, tensor.zeros((5, 4))))
    loss = autograd.mse_loss(h, tensor.zeros((5, 4)))
    got = {id(p) for p, _ in autograd.backward(loss)}
    assert got == {id(p) for p in lstm.get_params().values()}


def _seed_block_class():
    """The Xception Block of the SINGA 2.x autograd tutorial, as the example has it."""
    from _examples import load_example
    return load_example("autograd", "xceptionnet").Block


def test_seed_xception_block_trains():
    from singa import opt
    _SeedBlock = _seed_block_class()
    net = [_SeedBlock(4, 8, 2, 2, padding=0, start_with_relu=False, grow_first=True),
           _SeedBlock(8, 8, 2, 1, start_with_relu=True, grow_first=True),
           _SeedBlock(8, 12, 2, 2, start_with_relu=True, grow_first=False)]
    fc = autograd.Linear(12 * 3 * 3, 3)
    x, y = _t(X4), _t([0, 2], np.int32)
    sgd = opt.SGD(lr=0.1, momentum=0.9, weight_decay=1e-5)
    autograd.training = True
    losses = []
    for _ in range(4):
        h = x
        for b in net:
            h = b(h)
        loss = autograd.softmax_cross_entropy(fc(autograd.flatten(h)), y)
        for p, g in autograd.backward(loss):
            sgd.update(p, g)
        losses.append(float(tensor.to_numpy(loss).reshape(-1)[0]))
    assert losses[-1] < losses[0]
    names = list(net[0].get_params())
    assert names[:3] == ["skip.W", "skipbn.scale", "skipbn.bias"]
    assert "layers.0.depthwise_conv.W" in names and "layers.1.scale" in names


def test_dilated_conv_shapes():
    x = _t(X4)
    assert layer.Conv2d(3, 3, dilation=2)(x).shape == (2, 3, 5, 5)
    assert layer.Conv2d(3, 3, dilation=2, pad_mode="SAME_UPPER")(x).shape == (2, 3, 9, 9)
