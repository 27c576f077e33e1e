"""Recurrent layers: an Elman RNN and an LSTM, one layer deep, sequence first."""

from .. import autograd
from ..initializer import recurrent_uniform, zeros
from ..tensor import Tensor
from .base import Layer, _size

__all__ = ["RNN_Base", "RNN", "LSTM"]


def _seq(xs, name):
    """A list of (batch, features) Tensors from a list or a (seq, batch, features) Tensor."""
    if isinstance(xs, Tensor):
        if xs.ndim() != 3:
            raise ValueError("{}: a Tensor input must be (seq_len, batch, features), got {}"
                             .format(name, xs.shape))
        return [autograd.squeeze(p, 0) for p in autograd.split(xs, 0, [1] * xs.shape[0])]
    if not isinstance(xs, (list, tuple)) or not all(isinstance(x, Tensor) for x in xs):
        raise TypeError("{}: the input must be a list of Tensors or a (seq_len, batch, "
                        "features) Tensor, got {!r}".format(name, xs))
    xs = list(xs)
    if not xs:
        raise ValueError("{}: empty input sequence".format(name))
    return xs


class RNN_Base(Layer):
    """SINGA's base of recurrent layers: a subclass computes one time step in
    ``step_forward`` (and the sequence in ``forward``)."""

    def step_forward(self, *args, **kwargs):
        raise NotImplementedError("{} does not implement step_forward".format(
            type(self).__name__))


class _Recurrent(RNN_Base):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0, bidirectional=False):
        super(_Recurrent, self).__init__()
        if num_layers != 1 or bidirectional or batch_first:
            raise NotImplementedError("{}: only num_layers=1, unidirectional, sequence-first "
                                      "is implemented; stack layers for depth"
                                      .format(type(self).__name__))
        who = type(self).__name__
        self.input_size = _size(who, "input_size", input_size)
        self.hidden_size = _size(who, "hidden_size", hidden_size)
        self.num_layers, self.bias = num_layers, bias
        self.dropout = dropout

    def _w(self, rows, cols):
        t = Tensor((rows, cols), requires_grad=True, stores_grad=True)
        return recurrent_uniform(t, self.hidden_size)

    def _b(self):
        return zeros(Tensor((self.hidden_size,), requires_grad=True, stores_grad=True))


class RNN(_Recurrent):
    """Elman RNN: h_t = act(x_t @ Wx + h_{t-1} @ Wh + b).

    Args: input_size, hidden_size, nonlinearity ('tanh' or 'relu'), bias.
    forward(xs, h0): xs a list of (batch, input_size) Tensors (or a (seq, batch,
    input_size) Tensor); returns (list of hidden states, last hidden state).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0, bidirectional=False):
        super(RNN, self).__init__(input_size, hidden_size, num_layers, bias, batch_first,
                                  dropout, bidirectional)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("RNN: nonlinearity must be 'tanh' or 'relu', got {!r}"
                             .format(nonlinearity))
        self.nonlinearity = nonlinearity
        self.Wx = self._w(self.input_size, self.hidden_size)
        self.Wx.name = "Wx"
        self.Wh = self._w(self.hidden_size, self.hidden_size)
        self.Wh.name = "Wh"
        if bias:
            self.b = self._b()
            self.b.name = "b"

    def step_forward(self, x, h, Wx=None, Wh=None, b=None):
        """One time step: the next hidden state from input x and hidden state h.

        Wx, Wh, b: the weights to use (SINGA's signature passes them in); each left None
        is this layer's own. A layer made with bias=False adds a bias only when b is given.
        """
        Wx = self.Wx if Wx is None else Wx
        Wh = self.Wh if Wh is None else Wh
        if b is None and self.bias:
            b = self.b
        y = autograd.add(autograd.matmul(x, Wx), autograd.matmul(h, Wh))
        if b is not None:
            y = autograd.add_bias(y, b, axis=0)
        return autograd.tanh(y) if self.nonlinearity == "tanh" else autograd.relu(y)

    def forward(self, xs, h0):
        h = h0
        out = []
        for x in _seq(xs, "RNN"):
            h = self.step_forward(x, h)
            out.append(h)
        return out, h


class LSTM(_Recurrent):
    """LSTM with input, forget, cell and output gates.

    forward(xs, (h0, c0)): xs a list of (batch, input_size) Tensors (or a (seq, batch,
    input_size) Tensor); returns (list of hidden states, h, c). Params: Wx.0-3
    (input_size, hidden), Wh.0-3 (hidden, hidden), Bx.0-3 and Bh.0-3 (hidden,), in gate
    order i, f, c, o.
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", num_layers=1, bias=True,
                 batch_first=False, dropout=0, bidirectional=False):
        super(LSTM, self).__init__(input_size, hidden_size, num_layers, bias, batch_first,
                                   dropout, bidirectional)
        self.Wx = [self._w(self.input_size, self.hidden_size) for _ in range(4)]
        self.Wh = [self._w(self.hidden_size, self.hidden_size) for _ in range(4)]
        if bias:
            self.Bx = [self._b() for _ in range(4)]
            self.Bh = [self._b() for _ in range(4)]
        for group in ("Wx", "Wh", "Bx", "Bh"):
            for i, t in enumerate(getattr(self, group, [])):
                t.name = "{}.{}".format(group, i)

    def _gate(self, i, x, h):
        y = autograd.add(autograd.matmul(x, self.Wx[i]), autograd.matmul(h, self.Wh[i]))
        if self.bias:
            y = autograd.add_bias(y, self.Bx[i], axis=0)
            y = autograd.add_bias(y, self.Bh[i], axis=0)
        return y

    def step_forward(self, x, h, c):
        i = autograd.sigmoid(self._gate(0, x, h))
        f = autograd.sigmoid(self._gate(1, x, h))
        g = autograd.tanh(self._gate(2, x, h))
        o = autograd.sigmoid(self._gate(3, x, h))
        c = autograd.add(autograd.mul(f, c), autograd.mul(i, g))
        h = autograd.mul(o, autograd.tanh(c))
        return h, c

    def forward(self, xs, h0_c0):
        h, c = h0_c0
        out = []
        for x in _seq(xs, "LSTM"):
            h, c = self.step_forward(x, h, c)
            out.append(h)
        return out, h, c
