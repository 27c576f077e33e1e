"""Layers: objects that own parameters and call autograd ops (SINGA's ``singa.layer``).

A Layer creates its parameters lazily in :meth:`Layer.initialize` from the first
input it sees (``Layer.__call__`` runs it once, then ``forward``). Layers whose
shapes are fully given to the constructor (``Linear(in, out)``, SINGA 2.x style)
create them right away. Sub-layers and parameters are found by walking the
instance's attributes (including lists, tuples and dicts of layers), and named by
their dotted path (``block1.conv.W``).
"""

import math

import numpy as np

from . import autograd
from . import singa_wrap as singa
from . import tensor as tensor_mod
from .tensor import Tensor

__all__ = ["Layer", "Linear", "Gemm", "Embedding", "Conv2d", "SeparableConv2d", "BatchNorm2d",
           "Pooling2d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "RNN", "LSTM",
           "Dropout", "LRN", "ReLU", "Sigmoid", "Tanh", "Add", "Flatten", "SoftMax",
           "SoftMaxCrossEntropy", "MeanSquareError", "CrossEntropy", "BinaryCrossEntropy",
           "Cat", "Reshape"]


class Layer(object):
    """Base class of layers.

    Subclasses create parameters in ``initialize(*inputs)`` (called once, by
    ``__call__``, before the first ``forward``) and compute in ``forward``. Tensor
    attributes with ``stores_grad=True`` are parameters; attributes named in
    ``self._state_names`` are extra states (e.g. BatchNorm's running statistics).
    """

    sep = "."

    def __init__(self):
        self.name = None
        self._initialized = False
        self.training = True

    # ---- calling ----
    def __call__(self, *args, **kwargs):
        if _observers:
            return _observed_call(self, args, kwargs)
        try:
            if not getattr(self, "_initialized", False):
                self.initialize(*args, **kwargs)
                self._initialized = True
            self.device_check(*args)
            return self.forward(*args, **kwargs)
        except ValueError as e:
            _add_layer_context(e, self, args)
            raise

    def initialize(self, *inputs, **kwargs):
        """Creates the parameters from the first inputs' shapes (no-op by default)."""

    def forward(self, *inputs, **kwargs):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def device_check(self, *inputs):
        """Moves Tensor inputs (in place) to the device of this layer's parameters."""
        if not singa.USE_CUDA:
            return  # a CPU-only build has one device: nothing can be elsewhere
        dev = None
        for _, t in self._walk_tensors(params_only=True):
            dev = t.device
            break
        if dev is None:
            return
        for x in inputs:
            if isinstance(x, Tensor) and x.device != dev:
                x.to_device(dev)

    # ---- discovery ----
    def _walk_tensors(self, params_only=False, prefix="", seen=None):
        """Yields (dotted name, Tensor) for parameters (and states unless params_only)."""
        if seen is None:
            seen = set()
        if id(self) in seen:
            return
        seen.add(id(self))
        state_names = getattr(self, "_state_names", ())
        for attr, v in list(vars(self).items()):
            if attr.startswith("__"):
                continue
            name = prefix + attr
            if isinstance(v, Tensor):
                if v.stores_grad or (not params_only and attr in state_names):
                    if id(v) not in seen:
                        seen.add(id(v))
                        yield name, v
            else:
                for n, t in _walk_value(v, name, params_only, seen):
                    yield n, t

    def sublayers(self):
        """The direct sub-layers, as a list of (attribute path, Layer)."""
        out = []
        for attr, v in vars(self).items():
            out.extend(_layers_in(v, attr))
        return out

    def get_params(self):
        """An ordered dict {dotted name: parameter Tensor}."""
        return dict(self._walk_tensors(params_only=True))

    def get_states(self):
        """Parameters plus other states (running statistics), {dotted name: Tensor}."""
        return dict(self._walk_tensors(params_only=False))

    def set_params(self, parameters):
        """Copies values (Tensors or NumPy arrays) into the named parameters."""
        _assign(self.get_params(), parameters, "parameter")

    def set_states(self, states):
        """Copies values into the named parameters and states."""
        _assign(self.get_states(), states, "state")

    # ---- modes ----
    def train(self, mode=True):
        """Sets training mode on this layer and its sub-layers, and ``autograd.training``
        (which ops such as Dropout and BatchNorm read)."""
        self._set_mode(bool(mode), set())
        autograd.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def _set_mode(self, mode, seen):
        if id(self) in seen:
            return
        seen.add(id(self))
        self.training = mode
        for _, sub in self.sublayers():
            sub._set_mode(mode, seen)

    # ---- helpers for subclasses ----
    def _new_param(self, attr, shape, device=None, fill=None):
        """Creates a trainable Tensor attribute named ``attr``."""
        t = Tensor(tuple(shape), device, requires_grad=True, stores_grad=True, name=attr)
        if fill is not None:
            t.set_value(fill)
        setattr(self, attr, t)
        return t

    def __repr__(self):
        return "{}()".format(type(self).__name__)


# ---- call observation (Model.summary) and shape-error context ----

_observers = []     # callbacks f(layer, inputs, output, depth), active inside observe_calls
_depth = [0]


class observe_calls(object):
    """Context manager: calls ``fn(layer, inputs, output, depth)`` after every Layer
    call made inside the block (``depth`` 0 for the outermost layer call)."""

    def __init__(self, fn):
        self.fn = fn

    def __enter__(self):
        _observers.append(self.fn)
        return self

    def __exit__(self, *exc):
        _observers.remove(self.fn)


def _observed_call(layer, args, kwargs):
    depth = _depth[0]
    _depth[0] += 1
    try:
        if not getattr(layer, "_initialized", False):
            layer.initialize(*args, **kwargs)
            layer._initialized = True
        layer.device_check(*args)
        out = layer.forward(*args, **kwargs)
    except ValueError as e:
        _add_layer_context(e, layer, args)
        raise
    finally:
        _depth[0] = depth
    for fn in list(_observers):
        fn(layer, args, out, depth)
    return out


def layer_label(layer):
    """``'fc6' (Linear)`` when the layer has a (dotted) name, else ``Linear``."""
    name = getattr(layer, "name", None)
    cls = type(layer).__name__
    return "{!r} ({})".format(name, cls) if name else cls


def _shapes(args):
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(tuple(a.shape))
        elif isinstance(a, (list, tuple)) and a and all(isinstance(t, Tensor) for t in a):
            out.append([tuple(t.shape) for t in a])
    return out[0] if len(out) == 1 else tuple(out)


def _add_layer_context(e, layer, args):
    """Prefixes a ValueError raised inside a layer with the layer and its input shape
    (once: the innermost layer names itself)."""
    if getattr(e, "_singa_layer", False):
        return
    msg = e.args[0] if e.args else ""
    e.args = ("{}: input shape {}: {}".format(layer_label(layer), _shapes(args), msg),) + \
        tuple(e.args[1:])
    e._singa_layer = True


def _mismatch(layer, x, expected, hint=""):
    """A ValueError naming the layer, the input's shape and what was expected."""
    e = ValueError("{}: input shape {} does not fit: expected {}{}".format(
        layer_label(layer), tuple(x.shape), expected, hint))
    e._singa_layer = True
    return e


def _walk_value(v, name, params_only, seen):
    if isinstance(v, Layer):
        for n, t in v._walk_tensors(params_only, name + Layer.sep, seen):
            yield n, t
    elif isinstance(v, (list, tuple)):
        for i, item in enumerate(v):
            sub = "{}{}{}".format(name, Layer.sep, i)
            if isinstance(item, Tensor):
                if item.stores_grad and id(item) not in seen:
                    seen.add(id(item))
                    yield sub, item
            else:
                for n, t in _walk_value(item, sub, params_only, seen):
                    yield n, t
    elif isinstance(v, dict):
        for k, item in v.items():
            sub = "{}{}{}".format(name, Layer.sep, k)
            if isinstance(item, Tensor):
                if item.stores_grad and id(item) not in seen:
                    seen.add(id(item))
                    yield sub, item
            else:
                for n, t in _walk_value(item, sub, params_only, seen):
                    yield n, t


def _layers_in(v, name):
    if isinstance(v, Layer):
        return [(name, v)]
    out = []
    if isinstance(v, (list, tuple)):
        for i, item in enumerate(v):
            out.extend(_layers_in(item, "{}.{}".format(name, i)))
    elif isinstance(v, dict):
        for k, item in v.items():
            out.extend(_layers_in(item, "{}.{}".format(name, k)))
    return out


def _assign(targets, values, what):
    unknown = [k for k in values if k not in targets]
    if unknown:
        raise ValueError("unknown {} name(s) {}; this layer has {}".format(
            what, sorted(unknown), sorted(targets) if targets else "none (not initialized yet?)"))
    for k, v in values.items():
        dst = targets[k]
        arr = tensor_mod.to_numpy(v) if isinstance(v, Tensor) else np.asarray(v)
        if tuple(arr.shape) != tuple(dst.shape):
            raise ValueError("{} {!r}: shape {} does not match the layer's {}".format(
                what, k, tuple(arr.shape), tuple(dst.shape)))
        dst.copy_from_numpy(arr)


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError("{} must be an int or 2 ints, got {}".format(name, v))
    return v


def _check_x(layer, x, ndim):
    if x.ndim() not in ndim:
        raise _mismatch(layer, x, "a {}-D input".format(" or ".join(str(n) for n in ndim)),
                        " ({}-D)".format(x.ndim()))


def _check_spatial(layer, x, pads, kernel, stride, dilation=(1, 1)):
    """Raises when the (padded) input is smaller than the (dilated) kernel."""
    h, w = x.shape[2] + pads[0] + pads[1], x.shape[3] + pads[2] + pads[3]
    kh = (kernel[0] - 1) * dilation[0] + 1
    kw = (kernel[1] - 1) * dilation[1] + 1
    if h < kh or w < kw:
        raise _mismatch(layer, x, "height and width of at least {}x{} after padding {}".format(
            kh, kw, pads), "; the padded input is {}x{}: the input is too small for this "
            "layer (check the image size or the strides/pooling before it)".format(h, w))


# ------------------------------------------------------------- dense layers

class Linear(Layer):
    """y = x @ W + b.

    Args:
        out_features: output size; ``Linear(in_features, out_features)`` also works.
        bias: whether to add a bias.
    Shape: x (N, in_features) -> (N, out_features); W (in, out), b (out,).
    """

    def __init__(self, out_features, *args, bias=True, **kwargs):
        super(Linear, self).__init__()
        self.in_features = None
        if args:
            self.in_features, out_features = out_features, args[0]
        elif "in_features" in kwargs:
            self.in_features = kwargs.pop("in_features")
        self.out_features = int(out_features)
        self.bias = bias
        if self.in_features is not None:
            self._create(int(self.in_features), None)

    def _create(self, in_features, device):
        self.in_features = in_features
        std = math.sqrt(2.0 / (in_features + self.out_features))
        self._new_param("W", (in_features, self.out_features), device).gaussian(0.0, std)
        if self.bias:
            self._new_param("b", (self.out_features,), device, fill=0.0)

    def initialize(self, x):
        if getattr(self, "W", None) is None:
            self._create(x.shape[-1], x.device)
        else:
            self._check(x)

    def _check(self, x):
        if not x.shape or x.shape[-1] != self.in_features:
            raise _mismatch(self, x, "{} input features (last axis), got {}".format(
                self.in_features, x.shape[-1] if x.shape else "a scalar"),
                "; W is {}: the layers before it give a different size than when it was "
                "created (check the input size, or a Flatten before it)".format(
                    tuple(self.W.shape)))

    def forward(self, x):
        self._check(x)
        y = autograd.matmul(x, self.W)
        if self.bias:
            y = autograd.add_bias(y, self.b, axis=0)
        return y


class Gemm(Layer):
    """y = alpha * A' @ W' + beta * b (ONNX Gemm with a learned W and bias).

    Args:
        nb_kernels: output size. transA/transB: transpose x / W (W is (out, in) when
        transB). bias_shape: defaults to (1, nb_kernels).
    """

    def __init__(self, nb_kernels, alpha=1.0, beta=1.0, transA=False, transB=True, bias=True,
                 bias_shape=None):
        super(Gemm, self).__init__()
        self.nb_kernels = nb_kernels
        self.alpha, self.beta = alpha, beta
        self.transA, self.transB = int(transA), int(transB)
        self.bias = bias
        self.bias_shape = bias_shape

    def initialize(self, x):
        self.in_features = x.shape[0] if self.transA else x.shape[-1]
        shape = ((self.nb_kernels, self.in_features) if self.transB
                 else (self.in_features, self.nb_kernels))
        std = math.sqrt(2.0 / (self.in_features + self.nb_kernels))
        self._new_param("W", shape, x.device).gaussian(0.0, std)
        if self.bias:
            self._new_param("b", self.bias_shape or (1, self.nb_kernels), x.device, fill=0.0)

    def forward(self, x):
        b = self.b if self.bias else None
        return autograd.gemm(x, self.W, b, self.alpha, self.beta, self.transA, self.transB)


class Embedding(Layer):
    """Looks up rows of W (input_dim, output_dim) for integer indices x."""

    def __init__(self, input_dim, output_dim, initializer="gaussian"):
        super(Embedding, self).__init__()
        self.input_dim, self.output_dim = input_dim, output_dim
        self.initializer = initializer
        self._new_param("W", (input_dim, output_dim))
        if initializer == "uniform":
            self.W.uniform(-1.0, 1.0)
        else:
            self.W.gaussian(0.0, 1.0)

    def forward(self, x):
        return autograd.embedding(x, self.W)


# ----------------------------------------------------------- convolutions

def _same_pads(in_size, k, s, d, lower):
    """(begin, end) padding of ONNX SAME_UPPER/SAME_LOWER: output = ceil(in / stride)."""
    out = -(-in_size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - in_size, 0)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


def _pads(pad_mode, padding, x_hw, kernel, stride, dilation=(1, 1)):
    """[top, bottom, left, right] for a pad mode."""
    mode = pad_mode.upper()
    if mode == "NOTSET":
        if isinstance(padding, int):
            return [padding] * 4
        p = tuple(padding)
        if len(p) == 2:
            return [p[0], p[0], p[1], p[1]]
        if len(p) == 4:
            return list(p)
        raise ValueError("padding must be an int, 2 ints or 4 ints, got {}".format(padding))
    if mode == "VALID":
        return [0, 0, 0, 0]
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        lower = mode == "SAME_LOWER"
        t, b = _same_pads(x_hw[0], kernel[0], stride[0], dilation[0], lower)
        l, r = _same_pads(x_hw[1], kernel[1], stride[1], dilation[1], lower)
        return [t, b, l, r]
    raise ValueError("pad_mode must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {!r}"
                     .format(pad_mode))


def _handle_pads(p):
    """The handle takes (ph, pw) when symmetric, else (top, bottom, left, right)."""
    return [p[0], p[2]] if p[0] == p[1] and p[2] == p[3] else list(p)


class Conv2d(Layer):
    """2-D convolution over NCHW inputs.

    Args:
        nb_kernels: number of output channels. SINGA 2.x form:
            ``Conv2d(in_channels, out_channels, kernel_size, stride, padding, ...)``.
        kernel_size, stride, dilation: an int or 2 ints. padding: an int, 2 ints or
            (top, bottom, left, right). group: channel groups (depthwise when group ==
            in_channels). bias: add a bias. pad_mode: 'NOTSET' (use padding), 'SAME_UPPER',
            'SAME_LOWER' (output = ceil(in / stride), extra padding at the end/start) or
            'VALID'. activation: 'NOTSET' or 'RELU' (applied after the convolution).
    Shape: x (N, C, H, W) -> (N, nb_kernels, H', W'); W (nb_kernels, C/group, kh, kw).
    """

    def __init__(self, nb_kernels, kernel_size, *args, stride=1, padding=0, dilation=1, group=1,
                 bias=True, pad_mode="NOTSET", activation="NOTSET", **kwargs):
        super(Conv2d, self).__init__()
        self.in_channels = kwargs.pop("in_channels", None)
        if args:
            # Conv2d(in_channels, out_channels, kernel_size[, stride[, padding]])
            self.in_channels, nb_kernels, kernel_size = nb_kernels, kernel_size, args[0]
            if len(args) > 1:
                stride = args[1]
            if len(args) > 2:
                padding = args[2]
            if len(args) > 3:
                raise TypeError("Conv2d: too many positional arguments")
        if kwargs:
            raise TypeError("Conv2d: unexpected arguments {}".format(sorted(kwargs)))
        self.nb_kernels = int(nb_kernels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.dilation = _pair(dilation, "dilation")
        self.padding = padding if isinstance(padding, int) else tuple(padding)
        self.group = int(group)
        self.bias = bias
        self.pad_mode = pad_mode
        self.activation = activation
        if activation.upper() not in ("NOTSET", "RELU"):
            raise ValueError("Conv2d: activation must be 'NOTSET' or 'RELU', got {!r}"
                             .format(activation))
        _pads(pad_mode, self.padding, (1, 1), self.kernel_size, self.stride)  # validates
        if self.group < 1 or self.nb_kernels % self.group:
            raise ValueError("Conv2d: nb_kernels {} is not divisible by group {}".format(
                self.nb_kernels, self.group))
        self._handle = None
        self._handle_key = None
        if self.in_channels is not None:
            self._create(int(self.in_channels), None)

    def _create(self, in_channels, device):
        if in_channels % self.group:
            raise ValueError("Conv2d: in_channels {} is not divisible by group {}".format(
                in_channels, self.group))
        self.in_channels = in_channels
        kh, kw = self.kernel_size
        shape = (self.nb_kernels, in_channels // self.group, kh, kw)
        std = math.sqrt(2.0 / (in_channels * kh * kw + self.nb_kernels))
        self._new_param("W", shape, device).gaussian(0.0, std)
        if self.bias:
            self._new_param("b", (self.nb_kernels,), device, fill=0.0)

    def initialize(self, x):
        _check_x(self, x, (4,))
        if getattr(self, "W", None) is None:
            self._create(x.shape[1], x.device)
        else:
            self._check_channels(x)

    def _check_channels(self, x):
        if x.shape[1] != self.in_channels:
            raise _mismatch(self, x, "{} input channels (axis 1 of NCHW), got {}".format(
                self.in_channels, x.shape[1]), "; W is {}".format(tuple(self.W.shape)))

    def _get_handle(self, x):
        key = tuple(x.shape)
        if self._handle_key != key:
            pads = _pads(self.pad_mode, self.padding, key[2:], self.kernel_size, self.stride,
                         self.dilation)
            _check_spatial(self, x, pads, self.kernel_size, self.stride, self.dilation)
            self._handle = singa.ConvHandle(
                x.data, list(self.kernel_size), list(self.stride), _handle_pads(pads),
                self.in_channels, self.nb_kernels, bool(self.bias), self.group,
                list(self.dilation))
            self._handle_key = key
        return self._handle

    def forward(self, x):
        _check_x(self, x, (4,))
        self._check_channels(x)
        y = autograd.conv2d(self._get_handle(x), x, self.W, self.b if self.bias else None)
        if self.activation.upper() == "RELU":
            y = autograd.relu(y)
        return y


class SeparableConv2d(Layer):
    """Depthwise (group = in_channels) convolution followed by a 1x1 pointwise one.

    Args: as Conv2d: ``SeparableConv2d(nb_kernels, kernel_size, stride=1, padding=0,
    bias=False)`` or the 2.x form ``SeparableConv2d(in_channels, out_channels,
    kernel_size, stride, padding, bias)``.
    """

    def __init__(self, nb_kernels, kernel_size, *args, stride=1, padding=0, bias=False):
        super(SeparableConv2d, self).__init__()
        in_channels = None
        if args:
            in_channels, nb_kernels, kernel_size = nb_kernels, kernel_size, args[0]
            if len(args) > 1:
                stride = args[1]
            if len(args) > 2:
                padding = args[2]
            if len(args) > 3:
                bias = args[3]
        self.nb_kernels, self.kernel_size = nb_kernels, kernel_size
        self.stride, self.padding, self.bias = stride, padding, bias
        self.in_channels = in_channels
        if in_channels is not None:
            self._create(in_channels)

    def _create(self, c):
        self.in_channels = c
        self.depthwise_conv = Conv2d(c, c, self.kernel_size, self.stride, self.padding,
                                     group=c, bias=self.bias)
        self.point_conv = Conv2d(c, self.nb_kernels, 1, bias=self.bias)

    def initialize(self, x):
        _check_x(self, x, (4,))
        if self.in_channels is None:
            self._create(x.shape[1])

    def forward(self, x):
        return self.point_conv(self.depthwise_conv(x))


class BatchNorm2d(Layer):
    """Batch normalisation per channel of (N, C, H, W) or (N, C) inputs.

    Args:
        num_features: optional (SINGA 2.x form); taken from the input otherwise.
        momentum: running = momentum * running + (1 - momentum) * batch statistic.
    Params: scale (C,), bias (C,). States: running_mean (C,), running_var (C,).
    """

    _state_names = ("running_mean", "running_var")

    def __init__(self, *args, momentum=0.9):
        super(BatchNorm2d, self).__init__()
        if len(args) > 1:
            momentum = args[1]
        if not 0.0 <= momentum <= 1.0:
            raise ValueError("BatchNorm2d: momentum must be in [0, 1], got {}".format(momentum))
        self.momentum = float(momentum)
        self.channels = int(args[0]) if args else None
        self._handle = None
        self._handle_key = None
        if self.channels is not None:
            self._create(self.channels, None)

    def _create(self, c, device):
        self.channels = c
        self._new_param("scale", (c,), device, fill=1.0)
        self._new_param("bias", (c,), device, fill=0.0)
        self.running_mean = Tensor((c,), device, requires_grad=False, name="running_mean")
        self.running_mean.set_value(0.0)
        self.running_var = Tensor((c,), device, requires_grad=False, name="running_var")
        self.running_var.set_value(1.0)

    def initialize(self, x):
        _check_x(self, x, (2, 4))
        if getattr(self, "scale", None) is None:
            self._create(x.shape[1], x.device)

    def forward(self, x):
        _check_x(self, x, (2, 4))
        if x.shape[1] != self.channels:
            raise _mismatch(self, x, "{} channels (axis 1), got {}".format(
                self.channels, x.shape[1]), "; its scale/bias/running statistics have {}"
                .format(self.channels))
        key = tuple(x.shape)
        if self._handle_key != key:
            self._handle = singa.BatchNormHandle(self.momentum, x.data)
            self._handle_key = key
        return autograd.batchnorm_2d(self._handle, x, self.scale, self.bias,
                                     self.running_mean, self.running_var)


# ---------------------------------------------------------------- pooling

class Pooling2d(Layer):
    """Max or average pooling over NCHW inputs.

    Args:
        kernel_size: an int or 2 ints. stride: defaults to kernel_size. padding: an int,
        2 ints or 4 ints. is_max: max (True) or average pooling. pad_mode: as Conv2d.
    """

    def __init__(self, kernel_size, stride=None, padding=0, is_max=True, pad_mode="NOTSET"):
        super(Pooling2d, self).__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = padding if isinstance(padding, int) else tuple(padding)
        self.is_max = is_max
        self.pad_mode = pad_mode
        _pads(pad_mode, self.padding, (1, 1), self.kernel_size, self.stride)
        self._handle = None
        self._handle_key = None

    def _get_handle(self, x):
        key = tuple(x.shape)
        if self._handle_key != key:
            pads = _pads(self.pad_mode, self.padding, key[2:], self.kernel_size, self.stride)
            _check_spatial(self, x, pads, self.kernel_size, self.stride)
            self._handle = singa.PoolingHandle(x.data, list(self.kernel_size), list(self.stride),
                                               _handle_pads(pads), bool(self.is_max))
            self._handle_key = key
        return self._handle

    def forward(self, x):
        _check_x(self, x, (4,))
        return autograd.pooling_2d(self._get_handle(x), x)


class MaxPool2d(Pooling2d):
    """Max pooling; see Pooling2d."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(MaxPool2d, self).__init__(kernel_size, stride, padding, True, pad_mode)


class AvgPool2d(Pooling2d):
    """Average pooling (padded cells count in the divisor, as in SINGA); see Pooling2d."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(AvgPool2d, self).__init__(kernel_size, stride, padding, False, pad_mode)


class _Pool1d(Pooling2d):
    """1-D pooling along the last axis of (N, C, L) or (N, C, 1, L) inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, is_max=True, pad_mode="NOTSET"):
        stride = kernel_size if stride is None else stride
        super(_Pool1d, self).__init__((1, kernel_size), (1, stride), (0, padding), is_max,
                                      pad_mode)

    def forward(self, x):
        _check_x(self, x, (3, 4))
        if x.ndim() == 3:
            n, c, length = x.shape
            y = super(_Pool1d, self).forward(autograd.reshape(x, (n, c, 1, length)))
            return autograd.reshape(y, (n, c, y.shape[3]))
        return super(_Pool1d, self).forward(x)


class MaxPool1d(_Pool1d):
    """1-D max pooling."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(MaxPool1d, self).__init__(kernel_size, stride, padding, True, pad_mode)


class AvgPool1d(_Pool1d):
    """1-D average pooling."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(AvgPool1d, self).__init__(kernel_size, stride, padding, False, pad_mode)


# -------------------------------------------------------------- recurrent

def _seq(xs, name):
    """A list of (batch, features) Tensors from a list or a (seq, batch, features) Tensor."""
    if isinstance(xs, Tensor):
        if xs.ndim() != 3:
            raise ValueError("{}: a Tensor input must be (seq_len, batch, features), got {}"
                             .format(name, xs.shape))
        return [autograd.squeeze(p, 0) for p in autograd.split(xs, 0, [1] * xs.shape[0])]
    xs = list(xs)
    if not xs:
        raise ValueError("{}: empty input sequence".format(name))
    return xs


class _Recurrent(Layer):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0, bidirectional=False):
        super(_Recurrent, self).__init__()
        if num_layers != 1 or bidirectional or batch_first:
            raise NotImplementedError("{}: only num_layers=1, unidirectional, sequence-first "
                                      "is implemented; stack layers for depth"
                                      .format(type(self).__name__))
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = num_layers, bias
        self.dropout = dropout

    def _w(self, rows, cols):
        t = Tensor((rows, cols), requires_grad=True, stores_grad=True)
        # uniform(-1/sqrt(h), 1/sqrt(h)), the usual recurrent-weight scale
        k = 1.0 / math.sqrt(self.hidden_size)
        return t.uniform(-k, k)

    def _b(self):
        t = Tensor((self.hidden_size,), requires_grad=True, stores_grad=True)
        return t.set_value(0.0)


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

    def step_forward(self, x, h):
        y = autograd.add(autograd.matmul(x, self.Wx), autograd.matmul(h, self.Wh))
        if self.bias:
            y = autograd.add_bias(y, self.b, axis=0)
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


# ------------------------------------------------------- stateless layers

class Dropout(Layer):
    """Zeroes inputs with probability ``ratio`` in training (survivors scaled by
    1 / (1 - ratio)); the identity in evaluation."""

    def __init__(self, ratio=0.5):
        super(Dropout, self).__init__()
        if not 0.0 <= ratio < 1.0:
            raise ValueError("Dropout: ratio must be in [0, 1), got {}".format(ratio))
        self.ratio = float(ratio)

    def forward(self, x):
        return autograd.dropout(x, self.ratio)


class LRN(Layer):
    """Local response normalisation across channels (see autograd.lrn)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        super(LRN, self).__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return autograd.lrn(x, self.size, self.alpha, self.beta, self.k)


class ReLU(Layer):
    """max(x, 0)."""

    def forward(self, x):
        return autograd.relu(x)


class Sigmoid(Layer):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return autograd.sigmoid(x)


class Tanh(Layer):
    """tanh(x)."""

    def forward(self, x):
        return autograd.tanh(x)


class Add(Layer):
    """a + b (broadcasting)."""

    def forward(self, a, b):
        return autograd.add(a, b)


class Flatten(Layer):
    """Reshapes to 2-D: (prod(shape[:axis]), prod(shape[axis:]))."""

    def __init__(self, axis=1):
        super(Flatten, self).__init__()
        self.axis = axis

    def forward(self, x):
        return autograd.flatten(x, self.axis)


class SoftMax(Layer):
    """Softmax along ``axis``."""

    def __init__(self, axis=1):
        super(SoftMax, self).__init__()
        self.axis = axis

    def forward(self, x):
        return autograd.softmax(x, self.axis)


class SoftMaxCrossEntropy(Layer):
    """Mean cross-entropy of softmax(x) against labels t (class ids or one-hot)."""

    def forward(self, x, t):
        return autograd.softmax_cross_entropy(x, t)


class MeanSquareError(Layer):
    """Mean squared error between x and t."""

    def forward(self, x, t):
        return autograd.mse_loss(x, t)


class CrossEntropy(Layer):
    """Cross-entropy of probabilities x against targets t."""

    def forward(self, x, t):
        return autograd.cross_entropy(x, t)


class BinaryCrossEntropy(Layer):
    """Binary cross-entropy of probabilities x against 0/1 targets t."""

    def forward(self, x, t):
        return autograd.binary_cross_entropy(x, t)


class Cat(Layer):
    """Concatenates a list of Tensors along ``axis``."""

    def __init__(self, axis=0):
        super(Cat, self).__init__()
        self.axis = axis

    def forward(self, xs):
        return autograd.cat(xs, self.axis)


class Reshape(Layer):
    """Reshapes x to ``shape`` (given to the constructor or to forward)."""

    def __init__(self, shape=None):
        super(Reshape, self).__init__()
        self.shape = shape

    def forward(self, x, shape=None):
        shape = self.shape if shape is None else shape
        if shape is None:
            raise ValueError("Reshape: no target shape given")
        return autograd.reshape(x, shape)
