"""Layers of the classic API, built on singa.layer and singa.autograd.

Every classic layer computes with autograd operations on singa Tensors, so the same
object serves two uses:

- inside a :class:`~singa.classic.model.Sequential` model (called like a function on
  a whole mini-batch; the model runs one backward pass for the whole network), and
- in the interactive API of SINGA 0.3: ``ComputeFeature(*srclys)`` runs the layer on
  its source layers' outputs, ``ComputeGradient()`` back-propagates the gradient the
  layer above handed down, ``GetParams()``/``SetParams()`` read and write the weight
  and bias as 2-D NumPy arrays.

For the interactive API each layer records its own small autograd graph: its inputs
are leaf Tensors (sharing memory with the source layers' outputs) whose gradients
``ComputeGradient`` passes down to the source layers.
"""

import numpy as np

from .. import autograd
from .. import layer as nn
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..errors import ArgumentTypeError
from ..tensor import Tensor
from .parameter import split_param_kwargs

__all__ = ["Layer", "Dense", "Activation", "Convolution2D", "Convolution", "MaxPooling2D",
           "AvgPooling2D", "LRN2D", "Dropout", "RBM", "Autoencoder", "Dummy", "ImageInput",
           "LabelInput", "Loss", "STanh", "stanh", "pool_size"]

_counters = {}


def _auto_name(kind):
    _counters[kind] = _counters.get(kind, 0) + 1
    return "{}{}".format(kind, _counters[kind])


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def pool_size(*dims):
    """``pool_size(3, 3)`` is ``(3, 3)``: lets the document's TIPS spelling
    ``MaxPooling2D(pool_size(3,3), stride=2)`` run as written."""
    return tuple(dims)


# ------------------------------------------------------------------ activations

class STanh(autograd.Operation):
    """Scaled tanh of SINGA/LeCun: y = 1.7159 * tanh(2x / 3)."""

    A, B = 1.7159, 2.0 / 3.0

    def forward(self, x):
        t = singa.Tanh(singa.MultFloat(x, self.B))
        self.save(t=t)
        return singa.MultFloat(t, self.A)

    def backward(self, dy):
        # dy * A * B * (1 - t^2)
        return dy * singa.MultFloat(singa.RSubFloat(1.0, singa.Square(self.t)), self.A * self.B)


def stanh(x):
    return STanh()(x)[0]


_ACTIVATIONS = {
    "stanh": stanh,
    "tanh": autograd.tanh,
    "relu": autograd.relu,
    "sigmoid": autograd.sigmoid,
    "softmax": lambda x: autograd.softmax(x, 1),
    "linear": None,
    "identity": None,
}


def _activation(kind):
    if kind is None:
        return None
    key = str(kind).lower()
    if key not in _ACTIVATIONS:
        raise ValueError("unknown activation {!r}; use one of {}".format(
            kind, sorted(_ACTIVATIONS)))
    return _ACTIVATIONS[key]


# ------------------------------------------------------------------ base class

class Layer(object):
    """Base of the classic layers.

    Subclasses implement ``build(in_shape, device)`` (create parameters from the
    per-sample input shape), ``forward(x)`` (autograd ops) and ``params()`` (the
    parameter Tensors, weights before biases).
    """

    kind = "layer"

    def __init__(self, name=None):
        self.name = name or _auto_name(self.kind)
        self.built = False
        self.in_shape = None
        self.output = None          # Tensor from the last ComputeFeature / Feed
        self.srclys = []
        self._inputs = []           # leaf Tensors of the last ComputeFeature
        self._grad = None           # gradient w.r.t. self.output handed down by consumers
        self._param_grads = []      # [(param, grad)] from the last ComputeGradient

    # ---- to be implemented ----
    def build(self, in_shape, device=None):
        self.in_shape = tuple(in_shape)
        self.built = True

    def forward(self, x):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def params(self):
        """The parameter Tensors (weights before biases)."""
        return []

    def param_names(self):
        return ["weight", "bias"][:len(self.params())]

    # ---- calling ----
    def __call__(self, x):
        if not isinstance(x, Tensor):
            raise TypeError("{} ({}): the input must be a singa Tensor, got {}".format(
                self.name, type(self).__name__, type(x).__name__))
        if not self.built:
            self.build(tuple(x.shape[1:]), x.device)
        return self.forward(x)

    def named_params(self):
        return list(zip(self.param_names(), self.params()))

    # ---- interactive API ----
    def _leaf(self, src):
        out = src.output
        if out is None:
            raise RuntimeError("{}: source layer {} has no output yet; Feed it or run its "
                               "ComputeFeature first".format(self.name, src.name))
        return Tensor(data=out.data, device=out.device, requires_grad=True, stores_grad=True)

    def ComputeFeature(self, *srclys):
        """Computes this layer's output from the outputs of its source layers."""
        if not srclys:
            raise ValueError("{}: ComputeFeature needs at least one source layer".format(
                self.name))
        self.srclys = list(srclys)
        self._inputs = [self._leaf(s) for s in srclys]
        autograd.training = True
        self.output = self._forward_inputs(self._inputs)
        self._grad = None
        return self.output

    def _forward_inputs(self, xs):
        if len(xs) != 1:
            raise ValueError("{}: takes one source layer, got {}".format(self.name, len(xs)))
        return self(xs[0])

    def _accumulate_grad(self, g):
        g = g.data if isinstance(g, Tensor) else g
        self._grad = g if self._grad is None else singa.__add__(self._grad, g)

    def ComputeGradient(self):
        """Back-propagates the gradient handed down by the layer(s) above: stores the
        gradients of this layer's parameters (for ``Update``) and hands the input
        gradients to the source layers."""
        if self.output is None:
            raise RuntimeError("{}: ComputeGradient before ComputeFeature".format(self.name))
        if self._grad is None:
            raise RuntimeError("{}: no gradient has reached this layer; call ComputeGradient "
                               "of the layers above it (the loss layer first)".format(self.name))
        self._param_grads = []
        dy, self._grad = self._grad, None
        srcs = {id(t): s for t, s in zip(self._inputs, self.srclys)}
        if id(self.output) in srcs:  # an identity (e.g. dropout in evaluation)
            srcs[id(self.output)]._accumulate_grad(dy)
            return
        for p, g in autograd.backward(self.output, dy):
            src = srcs.get(id(p))
            if src is not None:
                src._accumulate_grad(g)
            else:
                self._param_grads.append((p, g))

    def GetParams(self):
        """The parameters (weight, then bias) as 2-D NumPy arrays."""
        out = []
        for p in self.params():
            a = tensor_mod.to_numpy(p)
            out.append(a.reshape(1, -1) if a.ndim < 2 else a.reshape(a.shape[0], -1))
        return out

    def SetParams(self, *params):
        """Sets the parameters (weight, then bias) from NumPy arrays of matching size."""
        if len(params) == 1 and isinstance(params[0], (list, tuple)):
            params = tuple(params[0])
        if not self.built:
            self._build_from_params([np.asarray(p) for p in params])
        mine = self.params()
        if len(params) != len(mine):
            raise ValueError("{}: SetParams got {} arrays for {} parameters".format(
                self.name, len(params), len(mine)))
        for (n, t), a in zip(self.named_params(), params):
            a = np.asarray(a, dtype=np.float32)
            if a.size != t.size():
                raise ValueError("{}: {} needs {} values {} , got an array of shape {}".format(
                    self.name, n, t.size(), t.shape, a.shape))
            t.copy_from_numpy(np.ascontiguousarray(a.reshape(t.shape)))

    def _build_from_params(self, arrays):
        raise RuntimeError("{}: the layer has no parameters yet; run ComputeFeature once (or "
                           "pass data_shape to load_model_parameter)".format(self.name))

    def __repr__(self):
        return "{}(name={!r})".format(type(self).__name__, self.name)


class _WithActivation(Layer):
    """A layer followed by an optional activation (``activation=`` keyword)."""

    def __init__(self, activation=None, name=None):
        super(_WithActivation, self).__init__(name)
        self.activation = None if activation is None else str(activation).lower()
        self._act = _activation(self.activation)

    def forward_linear(self, x):
        raise NotImplementedError

    def forward(self, x):
        y = self.forward_linear(x)
        return y if self._act is None else self._act(y)


# ------------------------------------------------------------------ dense / conv

class Dense(_WithActivation):
    """Fully-connected layer (singa.layer.Linear): y = act(x @ W + b).

    Inputs of more than 2 dimensions are flattened per sample.

    Args:
        output_dim: number of outputs.
        init: the weight's init type ('uniform', 'gaussian', 'constant').
        activation: optional activation applied after the affine map.
        w_param, b_param: Parameter specifications; ``w_<field>``/``b_<field>`` keywords
            override single fields (e.g. ``w_std=0.1, b_lr=2, w_wd=250``).
    Shape: (N, ...) -> (N, output_dim); GetParams: W (in, out), b (1, out).
    """

    kind = "dense"

    def __init__(self, output_dim=0, init=None, activation=None, name=None, **kwargs):
        super(Dense, self).__init__(activation, name)
        self.w_spec, self.b_spec = split_param_kwargs(kwargs, init=init)
        if kwargs:
            raise TypeError("Dense: unexpected arguments {}".format(sorted(kwargs)))
        if int(output_dim) < 1:
            raise ValueError("Dense: output_dim must be >= 1, got {}".format(output_dim))
        self.output_dim = int(output_dim)
        self.core = None

    def build(self, in_shape, device=None):
        super(Dense, self).build(in_shape, device)
        self.in_dim = _prod(in_shape)
        self.core = nn.Linear(self.in_dim, self.output_dim)
        if device is not None:
            for t in (self.core.W, self.core.b):
                t.to_device(device)
        self.w_spec.fill(self.core.W, "gaussian")
        self.b_spec.fill(self.core.b, "constant")
        self.core.W.name, self.core.b.name = self.name + "/weight", self.name + "/bias"

    def _build_from_params(self, arrays):
        self.build((int(arrays[0].shape[0]),))

    def params(self):
        return [self.core.W, self.core.b] if self.core is not None else []

    def forward_linear(self, x):
        if x.ndim() != 2:
            x = autograd.reshape(x, (x.shape[0], _prod(x.shape[1:])))
        return self.core(x)


class Convolution2D(_WithActivation):
    """2-D convolution (singa.layer.Conv2d) over NCHW inputs.

    Args:
        nb_filter: number of output channels. kernel: kernel size (int or pair).
        stride: stride. pad: zero padding. init, activation, w_param, b_param and the
        ``w_``/``b_`` keywords: as for Dense.
    Shape: (N, C, H, W) -> (N, nb_filter, H', W'); GetParams: W (nb_filter, C*kh*kw),
    b (1, nb_filter).
    """

    kind = "conv"

    def __init__(self, nb_filter=0, kernel=0, stride=1, pad=0, init=None, activation=None,
                 name=None, **kwargs):
        super(Convolution2D, self).__init__(activation, name)
        self.w_spec, self.b_spec = split_param_kwargs(kwargs, init=init)
        if kwargs:
            raise TypeError("Convolution2D: unexpected arguments {}".format(sorted(kwargs)))
        if int(nb_filter) < 1:
            raise ValueError("Convolution2D: nb_filter must be >= 1, got {}".format(nb_filter))
        self.nb_filter = int(nb_filter)
        self.kernel = kernel if isinstance(kernel, (tuple, list)) else (int(kernel),) * 2
        if min(self.kernel) < 1:
            raise ValueError("Convolution2D: kernel must be >= 1, got {}".format(kernel))
        self.stride, self.pad = stride, pad
        self.core = None

    def build(self, in_shape, device=None):
        if len(in_shape) == 2:
            in_shape = (1,) + tuple(in_shape)
        if len(in_shape) != 3:
            raise ValueError("{}: input must be (C, H, W) per sample, got {}".format(
                self.name, in_shape))
        super(Convolution2D, self).build(in_shape, device)
        self.core = nn.Conv2d(int(in_shape[0]), self.nb_filter, tuple(self.kernel),
                              self.stride, self.pad)
        if device is not None:
            for t in (self.core.W, self.core.b):
                t.to_device(device)
        self.w_spec.fill(self.core.W, "gaussian")
        self.b_spec.fill(self.core.b, "constant")
        self.core.W.name, self.core.b.name = self.name + "/weight", self.name + "/bias"

    def _build_from_params(self, arrays):
        k = self.kernel[0] * self.kernel[1]
        self.build((int(arrays[0].size // self.nb_filter // k), 1, 1))

    def params(self):
        return [self.core.W, self.core.b] if self.core is not None else []

    def forward_linear(self, x):
        if x.ndim() == 3:
            x = autograd.reshape(x, (x.shape[0], 1) + tuple(x.shape[1:]))
        return self.core(x)


Convolution = Convolution2D


class _Pooling(Layer):
    kind = "pool"
    _max = True

    def __init__(self, pool_size=(2, 2), stride=None, ignore_border=True, name=None):
        super(_Pooling, self).__init__(name)
        self.pool_size = tuple(pool_size) if isinstance(pool_size, (tuple, list)) \
            else (int(pool_size),) * 2
        self.stride = stride if stride is not None else self.pool_size
        self.ignore_border = ignore_border
        cls = nn.MaxPool2d if self._max else nn.AvgPool2d
        self.core = cls(self.pool_size, self.stride)

    def forward(self, x):
        return self.core(x)


class MaxPooling2D(_Pooling):
    """Max pooling (singa.layer.MaxPool2d). Output size floor((H - k) / s) + 1."""
    kind = "maxpool"
    _max = True


class AvgPooling2D(_Pooling):
    """Average pooling (singa.layer.AvgPool2d). Output size floor((H - k) / s) + 1."""
    kind = "avgpool"
    _max = False


class LRN2D(Layer):
    """Local response normalisation across channels (singa.layer.LRN):
    y = x / (k + alpha / size * sum of x^2 over ``size`` channels) ^ beta."""

    kind = "lrn"

    def __init__(self, size=0, alpha=1e-4, beta=0.75, k=1.0, name=None, local_size=None):
        super(LRN2D, self).__init__(name)
        size = local_size if local_size is not None else size
        if int(size) < 1:
            raise ValueError("LRN2D: size must be >= 1, got {}".format(size))
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)
        self.core = nn.LRN(self.size, self.alpha, self.beta, self.k)

    def forward(self, x):
        return self.core(x)


class Activation(Layer):
    """An activation layer: 'stanh' (1.7159 tanh(2x/3)), 'tanh', 'relu', 'sigmoid',
    'softmax' or 'linear'."""

    kind = "activation"

    def __init__(self, activation="stanh", name=None, topk=1):
        super(Activation, self).__init__(name)
        self.activation = str(activation).lower()
        self._act = _activation(self.activation)

    def forward(self, x):
        return x if self._act is None else self._act(x)


class Dropout(Layer):
    """Drops inputs with probability ``ratio`` in training (survivors scaled by
    1 / (1 - ratio)); the identity in evaluation (singa.layer.Dropout)."""

    kind = "dropout"

    def __init__(self, ratio=0.5, name=None):
        super(Dropout, self).__init__(name)
        self.ratio = float(ratio)
        self.core = nn.Dropout(self.ratio)

    def forward(self, x):
        return self.core(x)


# ------------------------------------------------------------------ RBM

def _mm(a, b):
    return autograd.matmul(a, b)


def _T(w):
    return autograd.transpose(w, (1, 0))


class RBM(Layer):
    """A stack of restricted Boltzmann machines, trained greedily by CD-1.

    ``RBM([1000, 500, 250])`` on 784-d inputs holds three RBMs (784-1000, 1000-500,
    500-250); level k sees the hidden probabilities of level k-1. ``Energy.fit(...,
    alg='cd')`` trains the top level (and any lower level not loaded from an earlier
    run's checkpoint, see :meth:`singa.classic.model.Energy.fit`).

    Args:
        out_dim: hidden sizes (an int or a list).
        w_param, b_param and the ``w_``/``b_`` keywords: as for Dense (e.g. ``w_std=0.1,
            b_wd=0``). Weights default to gaussian(0, 0.01), biases to 0.
    Params (per level k): W{k} (vdim, hdim), hb{k} (hdim,), vb{k} (vdim,).
    """

    kind = "rbm"

    def __init__(self, out_dim=None, name=None, **kwargs):
        super(RBM, self).__init__(name)
        self.w_spec, self.b_spec = split_param_kwargs(kwargs)
        kwargs.pop("sampling", None)
        if kwargs:
            raise TypeError("RBM: unexpected arguments {}".format(sorted(kwargs)))
        dims = out_dim if isinstance(out_dim, (list, tuple)) else [out_dim]
        if not dims or any(d is None or int(d) < 1 for d in dims):
            raise ValueError("RBM: out_dim must be positive sizes, got {}".format(out_dim))
        self.out_dim = [int(d) for d in dims]
        self.W, self.hb, self.vb = [], [], []

    def build(self, in_shape, device=None):
        super(RBM, self).build(in_shape, device)
        v = _prod(in_shape)
        for k, h in enumerate(self.out_dim):
            self.W.append(self.w_spec.create((v, h), device, "{}/W{}".format(self.name, k)))
            self.hb.append(self.b_spec.create((h,), device, "{}/hb{}".format(self.name, k),
                                              "constant"))
            self.vb.append(self.b_spec.create((v,), device, "{}/vb{}".format(self.name, k),
                                              "constant"))
            v = h

    def _build_from_params(self, arrays):
        self.build((int(arrays[0].shape[0]),))

    def params(self):
        out = []
        for k in range(len(self.W)):
            out += [self.W[k], self.hb[k], self.vb[k]]
        return out

    def param_names(self):
        out = []
        for k in range(len(self.W)):
            out += ["W{}".format(k), "hb{}".format(k), "vb{}".format(k)]
        return out

    def _flat(self, x):
        return x if x.ndim() == 2 else autograd.reshape(x, (x.shape[0], _prod(x.shape[1:])))

    def up(self, x, level):
        """Hidden probabilities of ``level`` given its visible units."""
        return autograd.sigmoid(autograd.add_bias(_mm(x, self.W[level]), self.hb[level], 0))

    def down(self, h, level):
        """Visible probabilities of ``level`` given its hidden units."""
        return autograd.sigmoid(autograd.add_bias(_mm(h, _T(self.W[level])), self.vb[level], 0))

    def visible(self, x, level):
        """The input of ``level``: x propagated up through the levels below."""
        v = self._flat(x)
        for k in range(level):
            v = self.up(v, k)
        return v

    def forward(self, x):
        return self.visible(x, len(self.out_dim))

    def cd_gradients(self, v, level):
        """One CD-1 step at ``level`` on visible batch v (no autograd graph).

        Returns:
            ([(W, dW), (hb, dhb), (vb, dvb)], squared reconstruction error per sample).
        """
        with autograd.no_grad():
            n = v.shape[0]
            ph = self.up(v, level)
            r = Tensor(ph.shape, ph.device).uniform(0.0, 1.0)
            hs = Tensor(data=singa.__lt__(r.data, ph.data), device=ph.device,
                        requires_grad=False)
            v1 = self.down(hs, level)
            ph1 = self.up(v1, level)
            # gradients of the negative log-likelihood estimate (descent direction)
            dW = _mm(_T(v1), ph1) - _mm(_T(v), ph)
            dW *= 1.0 / n
            dhb = tensor_mod.sum(ph1 - ph, axis=0) * (1.0 / n)
            dvb = tensor_mod.sum(v1 - v, axis=0) * (1.0 / n)
            err = v - v1
            se = float(tensor_mod.sum(err * err)) / n
        return [(self.W[level], dW), (self.hb[level], dhb), (self.vb[level], dvb)], se


# ------------------------------------------------------------------ autoencoder

class Autoencoder(Layer):
    """A stacked autoencoder: encoder layers of ``hid_dim`` sizes, then a mirrored
    decoder back to ``out_dim``.

    Hidden layers use ``activation`` except the code (last encoder) layer, which is
    linear as in Hinton & Salakhutdinov's deep autoencoder; every decoder layer uses
    ``activation``. With ``param_share=True`` the decoder's weights are the transposes
    of the encoder's (tied); the decoder keeps its own biases.

    Params: W{k} (d_k, d_{k+1}), b{k} (d_{k+1},) per encoder level; vb{k} (d_k,) the
    decoder biases; dW{k} (d_{k+1}, d_k) decoder weights when not shared.
    """

    kind = "autoencoder"

    def __init__(self, hid_dim=None, out_dim=0, activation="sigmoid", param_share=True,
                 name=None, **kwargs):
        super(Autoencoder, self).__init__(name)
        self.w_spec, self.b_spec = split_param_kwargs(kwargs)
        if kwargs:
            raise TypeError("Autoencoder: unexpected arguments {}".format(sorted(kwargs)))
        dims = hid_dim if isinstance(hid_dim, (list, tuple)) else [hid_dim]
        if not dims or any(d is None or int(d) < 1 for d in dims):
            raise ValueError("Autoencoder: hid_dim must be positive sizes, got {}".format(
                hid_dim))
        self.hid_dim = [int(d) for d in dims]
        self.out_dim = int(out_dim or 0)
        self.activation = activation or "sigmoid"
        self._act = _activation(self.activation)
        self.param_share = bool(param_share)
        self.W, self.b, self.vb, self.dW = [], [], [], []

    def build(self, in_shape, device=None):
        super(Autoencoder, self).build(in_shape, device)
        d = _prod(in_shape)
        if self.out_dim and self.out_dim != d:
            raise ValueError("Autoencoder: out_dim {} must equal the input size {}".format(
                self.out_dim, d))
        self.out_dim = d
        dims = [d] + self.hid_dim
        for k in range(len(self.hid_dim)):
            a, b = dims[k], dims[k + 1]
            self.W.append(self.w_spec.create((a, b), device, "{}/W{}".format(self.name, k)))
            self.b.append(self.b_spec.create((b,), device, "{}/b{}".format(self.name, k),
                                             "constant"))
            self.vb.append(self.b_spec.create((a,), device, "{}/vb{}".format(self.name, k),
                                              "constant"))
            if not self.param_share:
                self.dW.append(self.w_spec.create((b, a), device,
                                                  "{}/dW{}".format(self.name, k)))

    def _build_from_params(self, arrays):
        self.build((int(arrays[0].shape[0]),))

    def params(self):
        return self.W + self.b + self.vb + self.dW

    def param_names(self):
        n = len(self.W)
        names = ["W{}".format(k) for k in range(n)] + ["b{}".format(k) for k in range(n)]
        names += ["vb{}".format(k) for k in range(n)]
        return names + ["dW{}".format(k) for k in range(len(self.dW))]

    def encode(self, x):
        h = x if x.ndim() == 2 else autograd.reshape(x, (x.shape[0], _prod(x.shape[1:])))
        last = len(self.W) - 1
        for k in range(len(self.W)):
            h = autograd.add_bias(_mm(h, self.W[k]), self.b[k], 0)
            if k < last and self._act is not None:
                h = self._act(h)
        return h

    def decode(self, h):
        for k in range(len(self.W) - 1, -1, -1):
            w = _T(self.W[k]) if self.param_share else self.dW[k]
            h = autograd.add_bias(_mm(h, w), self.vb[k], 0)
            if self._act is not None:
                h = self._act(h)
        return h

    def forward(self, x):
        return self.decode(self.encode(x))


# ------------------------------------------------------------------ interactive inputs

class Dummy(Layer):
    """An input layer whose output is set by ``Feed`` (SINGA's DummyLayer)."""

    kind = "dummy"

    def __init__(self, name=None, shape=None):
        super(Dummy, self).__init__(name)
        self.shape = tuple(shape) if shape is not None else None
        self.aux_data = None

    def Feed(self, shape=None, data=None, aux_data=None):
        """Sets the output to ``data`` reshaped to (N,) + shape, and the auxiliary data
        (e.g. labels) to ``aux_data``."""
        if data is not None:
            arr = np.asarray(data, dtype=np.float32)
            if shape is not None:
                shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
                if arr.size % max(_prod(shape), 1):
                    raise ValueError("{}: cannot shape {} values as samples of {}".format(
                        self.name, arr.size, shape))
                arr = arr.reshape((-1,) + shape)
            self.output = tensor_mod.from_numpy(np.ascontiguousarray(arr))
            self.output.requires_grad = False
        if aux_data is not None:
            self.aux_data = np.asarray(aux_data).reshape(-1).astype(np.int32)
        return self.output

    def forward(self, x):
        return x

    def ComputeGradient(self):
        self._grad = None  # an input: nothing to do


class ImageInput(Dummy):
    """Images of ``nb_channel`` x ``height`` x ``width``; ``Feed(data)`` takes (N, C*H*W)
    (or (N, C, H, W)) arrays and outputs (N, C, H, W)."""

    kind = "input"

    def __init__(self, height=None, width=None, nb_channel=1, name=None):
        super(ImageInput, self).__init__(name)
        for what, n in (("height", height), ("width", width), ("nb_channel", nb_channel)):
            if n is not None and int(n) < 1:
                raise ValueError("ImageInput: {} must be >= 1, got {}".format(what, n))
        self.height, self.width, self.nb_channel = height, width, int(nb_channel)

    def Feed(self, data, aux_data=None):
        shape = None
        if self.height is not None and self.width is not None:
            shape = (self.nb_channel, int(self.height), int(self.width))
        return Dummy.Feed(self, shape, data, aux_data)


class LabelInput(Dummy):
    """Class labels; ``Feed(labels)`` takes (N,) or (N, 1) integer arrays."""

    kind = "label"

    def Feed(self, data, aux_data=None):
        y = np.asarray(data)
        if y.dtype.kind not in "biuf":
            raise ArgumentTypeError(
                "{} (LabelInput): labels must be numbers, got dtype {} ({!r})".format(
                    self.name, y.dtype, y.reshape(-1)[:3].tolist()))
        y = y.reshape(-1).astype(np.int32)
        self.output = tensor_mod.from_numpy(y)
        self.output.requires_grad = False
        self.aux_data = y
        return self.output


class Loss(Layer):
    """A loss layer for the interactive API.

    ``Loss('softmaxloss')``: softmax cross-entropy of logits against labels, with
    accuracy; ``Loss('euclideanloss')``: mean squared error against a target layer.
    ``ComputeFeature(pred_layer, label_layer)``, ``display()``, ``ComputeGradient()``.
    """

    kind = "loss"
    TYPES = {"softmaxloss": "softmaxloss", "softmax_loss": "softmaxloss",
             "categorical_crossentropy": "softmaxloss",
             "euclideanloss": "euclideanloss", "mean_squared_error": "euclideanloss",
             "mse": "euclideanloss"}

    def __init__(self, lossname="softmaxloss", topk=1, name=None):
        super(Loss, self).__init__(name)
        key = str(lossname).lower()
        if key not in self.TYPES:
            raise ValueError("Loss: unknown loss {!r}; use one of {}".format(
                lossname, sorted(self.TYPES)))
        self.type = self.TYPES[key]
        self.topk = int(topk)
        self.loss = None
        self.accuracy = None

    def ComputeFeature(self, *srclys):
        if len(srclys) != 2:
            raise ValueError("Loss: ComputeFeature(prediction_layer, label_layer)")
        pred, lab = srclys
        self.srclys = [pred]
        self._inputs = [self._leaf(pred)]
        if lab.output is None:
            raise RuntimeError("Loss: the label layer {} has no data; Feed it".format(lab.name))
        t = Tensor(data=lab.output.data, device=lab.output.device, requires_grad=False)
        autograd.training = True
        x = self._inputs[0]
        if self.type == "softmaxloss":
            if x.ndim() != 2:
                x = autograd.reshape(x, (x.shape[0], _prod(x.shape[1:])))
            self.output = autograd.softmax_cross_entropy(x, t)
            scores = tensor_mod.to_numpy(self._inputs[0]).reshape(x.shape[0], -1)
            labels = tensor_mod.to_numpy(lab.output).reshape(-1).astype(np.int64)
            top = np.argsort(-scores, axis=1)[:, :self.topk]
            self.accuracy = float(np.mean(np.any(top == labels[:, None], axis=1)))
        else:
            self.output = autograd.mse_loss(x, t)
            self.accuracy = None
        self.loss = float(tensor_mod.to_numpy(self.output).reshape(-1)[0])
        self._grad = None
        return self.output

    def ComputeGradient(self):
        if self.output is None:
            raise RuntimeError("Loss: ComputeGradient before ComputeFeature")
        for p, g in autograd.backward(self.output):
            if p is self._inputs[0]:
                self.srclys[0]._accumulate_grad(g)

    def display(self):
        """Prints (and returns) the loss and accuracy of the last batch."""
        msg = "loss = {:.6f}".format(self.loss) if self.loss is not None else "loss = n/a"
        if self.accuracy is not None:
            msg += ", accuracy = {:.6f}".format(self.accuracy)
        print(msg, flush=True)
        return msg
