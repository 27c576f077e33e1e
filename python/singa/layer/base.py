"""The Layer base class: calling, parameter discovery, modes, call observation and the
shape-error context every layer shares.

A Layer creates its parameters lazily in :meth:`Layer.initialize` from the first
input it sees (``Layer.__call__`` runs it once, then ``forward``). Layers whose
shapes are fully given to the constructor (``Linear(in, out)``, SINGA 2.x style)
create them right away. Sub-layers and parameters are found by walking the
instance's attributes (including lists, tuples and dicts of layers), and named by
their dotted path (``block1.conv.W``).
"""

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from ..autograd import anomaly as _anomaly
from ..autograd.anomaly import watch as _anomaly_watch
from ..autograd.mode import flag
from ..errors import ArgumentTypeError
from .. import tensor as tensor_mod
from ..tensor import Tensor

__all__ = ["Layer", "observe_calls", "layer_label"]

# what a layer call reports with the layer and its input shapes in front
_ARGUMENT_ERRORS = (ValueError, TypeError, IndexError, singa.DeviceError)

_FLOAT_DTYPES = (tensor_mod.float32, tensor_mod.float16, tensor_mod.bfloat16, tensor_mod.float64)


def _param_dtype(x):
    """The dtype of parameters made for input ``x``: its own when it is a float (SINGA's
    layers use ``dtype=x.dtype``, so float16 and bfloat16 inputs train in that dtype),
    else float32."""
    return x.dtype if x.dtype in _FLOAT_DTYPES else tensor_mod.float32


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
        if _observers or _anomaly_watch.any:
            return _observed_call(self, args, kwargs)
        try:
            if not getattr(self, "_initialized", False):
                self.initialize(*args, **kwargs)
                self._initialized = True
            self.device_check(*args)
            return self.forward(*args, **kwargs)
        except _ARGUMENT_ERRORS as e:
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

    def dtype_check(self, *inputs):
        """Converts (in place) every floating-point Tensor among ``inputs`` to the dtype
        of the first one, as SINGA's layers do before computing (``dtype_check(x,
        self.W, self.b)`` makes float32 parameters float16 for a float16 ``x``).
        Integer Tensors (indices, labels) and other values are left as they are."""
        first = next((t for t in inputs if isinstance(t, Tensor)), None)
        if first is None or first.dtype not in _FLOAT_DTYPES:
            return
        for t in inputs:
            if isinstance(t, Tensor) and t.dtype != first.dtype and t.dtype in _FLOAT_DTYPES:
                t.to_type(first.dtype)

    def register_layers(self, *layers):
        """Adds sub-layers under generated names, as SINGA's ``register_layers``:
        ``register_layers(l1, l2)`` names them ``<Class>_<position>`` (``Linear_0``,
        ``ReLU_1``), ``register_layers(OrderedDict(name=layer, ...))`` uses the keys.
        They become attributes, so their parameters are named ``Linear_0.W`` etc."""
        if len(layers) == 1 and isinstance(layers[0], dict):
            items = list(layers[0].items())
        else:
            items = [("{}_{}".format(type(v).__name__, i), v) for i, v in enumerate(layers)]
        for name, value in items:
            if not isinstance(value, Layer):
                raise TypeError("{}.register_layers: {!r} is a {}, not a Layer".format(
                    type(self).__name__, name, type(value).__name__))
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError("{}.register_layers: layer name {!r} is not an identifier"
                                 .format(type(self).__name__, name))
            held = vars(self).get(name)
            if held is not None and held is not value:
                raise ValueError("{}.register_layers: {!r} is already an attribute ({})"
                                 .format(type(self).__name__, name, type(held).__name__))
            setattr(self, name, value)

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
        mode = flag("{}.train".format(type(self).__name__), mode)
        self._set_mode(mode, set())
        autograd.training = mode
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
    def _new_param(self, attr, shape, device=None, init=None, dtype=None):
        """Creates a trainable Tensor attribute named ``attr``, filled in place by
        ``init`` (a function of singa.initializer) when given, then converted to
        ``dtype`` (so a 16-bit parameter holds the float32 draw, rounded once)."""
        t = Tensor(tuple(shape), device, requires_grad=True, stores_grad=True, name=attr)
        if init is not None:
            init(t)
        if dtype is not None and dtype != t.dtype:
            t.to_type(dtype)
        setattr(self, attr, t)
        return t

    def _adopt_input_dtype(self, x, attrs):
        """Converts, in place, the tensors named ``attrs`` that a constructor made before
        any input to the dtype parameters made for ``x`` would have (run once, from the
        first ``initialize``), so ``Linear(in, out)`` on float16 input trains in float16 too."""
        dtype = _param_dtype(x)
        for attr in attrs:
            t = getattr(self, attr, None)
            if t is not None and t.dtype != dtype:
                t.to_type(dtype)

    def __repr__(self):
        return "{}()".format(type(self).__name__)


# ---- call observation (Model.summary, anomaly detection's layer stack) and shape-error
# context ----

_observers = []     # callbacks f(layer, inputs, output, depth), active inside observe_calls
_depth = [0]


class observe_calls(object):
    """Context manager: calls ``fn(layer, inputs, output, depth)`` after every Layer
    call made inside the block (``depth`` 0 for the outermost layer call)."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError("observe_calls: fn must be callable as fn(layer, inputs, output, "
                            "depth), got {!r}".format(fn))
        self.fn = fn

    def __enter__(self):
        _observers.append(self.fn)
        return self

    def __exit__(self, *exc):
        _observers.remove(self.fn)


def _observed_call(layer, args, kwargs):
    depth = _depth[0]
    _depth[0] += 1
    pushed = _anomaly.push_layer(layer)
    try:
        if not getattr(layer, "_initialized", False):
            layer.initialize(*args, **kwargs)
            layer._initialized = True
        layer.device_check(*args)
        out = layer.forward(*args, **kwargs)
    except _ARGUMENT_ERRORS as e:
        _add_layer_context(e, layer, args)
        raise
    finally:
        _depth[0] = depth
        if pushed:
            _anomaly.pop_layer()
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
    """Prefixes an argument error raised inside a layer with the layer and its input shape
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
    elif isinstance(v, (list, tuple, dict)):
        for k, item in (v.items() if isinstance(v, dict) else enumerate(v)):
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


def _size(who, what, v, minimum=1):
    """int(v) for a layer's size argument; TypeError for a non-number (int() would read
    a string), ValueError below ``minimum``, both naming the layer."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float)):
        raise ArgumentTypeError("{}: {} must be an int, got {!r}".format(who, what, v))
    if v != int(v) or v < minimum:
        raise ValueError("{}: {} must be an int >= {}, got {!r}".format(who, what, minimum, v))
    return int(v)


def _tensor_input(layer, x):
    """TypeError naming the layer when x is no Tensor (it would fail later on x.shape)."""
    if not isinstance(x, Tensor):
        e = TypeError("{}: the input must be a singa Tensor, got {}".format(
            layer_label(layer), type(x).__name__))
        e._singa_layer = True
        raise e


def _check_x(layer, x, ndim):
    _tensor_input(layer, x)
    if x.ndim() not in ndim:
        raise _mismatch(layer, x, "a {}-D input".format(" or ".join(str(n) for n in ndim)),
                        " ({}-D)".format(x.ndim()))
