"""SINGA's layer behaviours: register_layers, Embedding.from_pretrained, dtype_check,
initialisation with the first forward's arguments, and SINGA's layer names."""

import inspect
from collections import OrderedDict

import numpy as np
import pytest

from singa import autograd, layer, model, opt, tensor
from singa.tensor import Tensor


def _x(shape, seed=0, dtype=np.float32):
    return tensor.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ---- register_layers ----

class Stack(layer.Layer):
    def __init__(self, *layers):
        super().__init__()
        self.register_layers(*layers)

    def forward(self, x):
        for _, sub in sorted(self.sublayers()):
            x = sub(x)
        return x


def test_register_layers_names_positional_layers_by_class_and_position():
    s = Stack(layer.Linear(3, 4), layer.ReLU(), layer.Linear(4, 2))
    assert s.Linear_0 is not None and isinstance(s.ReLU_1, layer.ReLU)
    assert sorted(s.get_params()) == ["Linear_0.W", "Linear_0.b", "Linear_2.W", "Linear_2.b"]


def test_register_layers_takes_names_from_an_ordered_dict():
    s = Stack(OrderedDict([("a_fc", layer.Linear(3, 4)), ("b_act", layer.ReLU())]))
    assert sorted(s.get_params()) == ["a_fc.W", "a_fc.b"]
    y = s(_x((2, 3)))
    assert tuple(y.shape) == (2, 4)


def test_registered_layers_train_with_the_model():
    class Net(model.Model):
        def __init__(self):
            super().__init__()
            self.register_layers(layer.Linear(3, 8), layer.ReLU(), layer.Linear(8, 2))
            self.loss = layer.MeanSquareError()

        def forward(self, x):
            return self.Linear_2(self.ReLU_1(self.Linear_0(x)))

        def train_one_batch(self, x, y):
            loss = self.loss(self.forward(x), y)
            self.optimizer(loss)
            return loss

    net = Net()
    net.set_optimizer(opt.SGD(0.05))
    x, y = _x((8, 3)), _x((8, 2), 1)
    net.compile([x], is_train=True)
    losses = [float(tensor.to_numpy(net(x, y)).reshape(-1)[0]) for _ in range(10)]
    assert losses[-1] < losses[0]
    assert "Linear_0.W" in net.get_states()


def test_register_layers_rejects_non_layers_and_clashes():
    s = Stack()
    with pytest.raises(TypeError, match="not a Layer"):
        s.register_layers(layer.ReLU(), 3)
    s.taken = 1
    with pytest.raises(ValueError, match="already"):
        s.register_layers(OrderedDict(taken=layer.ReLU()))


# ---- Embedding.from_pretrained ----

def test_from_pretrained_frozen_table_is_looked_up_and_not_trained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = layer.Embedding(input_dim=4, output_dim=3)
    assert emb.from_pretrained(W=tensor.from_numpy(table), freeze=True) is emb
    idx = tensor.from_numpy(np.array([[3, 0]], np.int32))
    np.testing.assert_array_equal(tensor.to_numpy(emb(idx)), table[[3, 0]][None])
    assert not emb.W.requires_grad and not emb.W.stores_grad
    assert "W" not in emb.get_params() and "W" in emb.get_states()


def test_from_pretrained_unfrozen_table_gets_gradients():
    table = np.ones((5, 2), np.float32)
    emb = layer.Embedding(5, 2).from_pretrained(table, freeze=False)
    assert "W" in emb.get_params()
    autograd.training = True
    try:
        out = emb(tensor.from_numpy(np.array([1, 1, 4], np.int32)))
        dy = tensor.from_numpy(np.ones((3, 2), np.float32))
        grads = dict((id(p), g) for p, g in autograd.backward(out, dy))
    finally:
        autograd.training = False
    np.testing.assert_allclose(tensor.to_numpy(grads[id(emb.W)]),
                               [[0, 0], [2, 2], [0, 0], [0, 0], [1, 1]])


def test_from_pretrained_with_another_shape_resizes_the_layer():
    emb = layer.Embedding(2, 2).from_pretrained(np.zeros((7, 5), np.float32))
    assert (emb.input_dim, emb.output_dim) == (7, 5) and tuple(emb.W.shape) == (7, 5)


def test_from_pretrained_rejects_a_non_matrix():
    with pytest.raises(ValueError, match="2-D"):
        layer.Embedding(2, 2).from_pretrained(np.zeros(4, np.float32))


# ---- dtype_check ----

def test_dtype_check_converts_floats_to_the_first_inputs_dtype():
    lin = layer.Linear(3, 2)
    x = _x((1, 3), dtype=np.float16)
    assert x.dtype == tensor.float16
    lin.dtype_check(x, lin.W, lin.b)
    assert lin.W.dtype == tensor.float16 and lin.b.dtype == tensor.float16


def test_dtype_check_leaves_integer_tensors_alone():
    emb = layer.Embedding(4, 2)
    idx = tensor.from_numpy(np.array([1], np.int32))
    emb.dtype_check(idx, emb.W)
    assert emb.W.dtype == tensor.float32 and idx.dtype == tensor.int32
    labels = tensor.from_numpy(np.array([1], np.int32))
    emb.dtype_check(emb.W, labels)
    assert labels.dtype == tensor.int32


# ---- initialisation with the first forward's arguments ----

class CharRNNLike(model.Model):
    """SINGA's char-rnn shape: initialize takes the inputs only, the step (x, y)."""

    def __init__(self, hidden=4):
        super().__init__()
        self.hidden = hidden
        self.rnn = layer.LSTM(3, hidden)
        self.cat = layer.Cat()
        self.fc = layer.Linear(hidden, 3)
        self.loss = layer.SoftMaxCrossEntropy()
        self.initialized_with = None

    def initialize(self, inputs):
        self.initialized_with = len(inputs)
        batch = inputs[0].shape[0]
        self.hx = Tensor((batch, self.hidden), requires_grad=False)
        self.cx = Tensor((batch, self.hidden), requires_grad=False)

    def forward(self, inputs):
        xs, _, _ = self.rnn(inputs, (self.hx, self.cx))
        return self.fc(self.cat(xs))

    def train_one_batch(self, inputs, labels):
        out = self.forward(inputs)
        loss = self.loss(out, labels)
        self.optimizer(loss)
        return out, loss


def _seq(steps=5, batch=2):
    rng = np.random.default_rng(0)
    xs = [tensor.from_numpy(np.eye(3, dtype=np.float32)[rng.integers(0, 3, batch)])
          for _ in range(steps)]
    labels = tensor.from_numpy(rng.integers(0, 3, (steps * batch, 1)).astype(np.int32))
    return xs, labels


@pytest.mark.parametrize("graph", [False, True])
def test_model_initialize_gets_the_first_forwards_arguments(graph):
    net = CharRNNLike()
    net.set_optimizer(opt.SGD(0.5))
    net.graph(graph)
    net.train()
    xs, labels = _seq()
    losses = []
    for _ in range(6):
        _, loss = net(xs, labels)
        losses.append(float(tensor.to_numpy(loss).reshape(-1)[0]))
    assert net.initialized_with == 5          # the list of inputs, not (inputs, labels)
    assert losses[-1] < losses[0]
    assert "forward" not in vars(net)         # the first-forward hook is gone


def test_model_initialize_runs_in_evaluation_calls_too():
    net = CharRNNLike()
    net.eval()
    xs, _ = _seq()
    out = net(xs)
    assert net.initialized_with == 5 and tuple(out.shape) == (10, 3)


def test_model_initialize_runs_once():
    net = CharRNNLike()
    net.set_optimizer(opt.SGD(0.1))
    net.train()
    xs, labels = _seq()
    net(xs, labels)
    hx = net.hx
    net(xs, labels)
    assert net.hx is hx


# ---- SINGA's public layer classes ----

@pytest.mark.parametrize("cls, args", [
    (layer.Linear, (4,)), (layer.Linear, (3, 4)), (layer.Gemm, (4,)),
    (layer.Embedding, (10, 4)), (layer.Conv2d, (4, 3)), (layer.Conv2d, (1, 4, 3)),
    (layer.SeparableConv2d, (4, 3)), (layer.BatchNorm2d, ()), (layer.Pooling2d, (2,)),
    (layer.MaxPool2d, (2,)), (layer.AvgPool2d, (2,)), (layer.MaxPool1d, (2,)),
    (layer.AvgPool1d, (2,)), (layer.RNN, (3, 4)), (layer.LSTM, (3, 4)), (layer.ReLU, ()),
    (layer.Sigmoid, ()), (layer.Add, ()), (layer.Flatten, ()), (layer.SoftMax, ()),
    (layer.SoftMaxCrossEntropy, ()), (layer.MeanSquareError, ()), (layer.CrossEntropy, ()),
    (layer.BinaryCrossEntropy, ()), (layer.Dropout, ()), (layer.Cat, ()), (layer.Reshape, ()),
])
def test_singa_layer_constructors(cls, args):
    assert isinstance(cls(*args), layer.Layer)


def test_rnn_base_is_the_recurrent_base_class():
    assert issubclass(layer.RNN, layer.RNN_Base) and issubclass(layer.LSTM, layer.RNN_Base)

    class MyCell(layer.RNN_Base):
        pass
    with pytest.raises(NotImplementedError, match="step_forward"):
        MyCell().step_forward(None, None)


def test_layer_has_singas_helpers():
    for name in ("register_layers", "dtype_check", "device_check", "get_params", "set_params",
                 "get_states", "set_states", "initialize", "forward"):
        assert callable(getattr(layer.Layer, name)), name
    assert list(inspect.signature(layer.Embedding.from_pretrained).parameters) == \
        ["self", "W", "freeze"]
