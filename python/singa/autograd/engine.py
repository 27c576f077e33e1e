"""The define-by-run engine: Operation records the graph, backward walks it."""

import itertools
import weakref

from .. import config
from .. import singa_wrap as singa
from ..errors import ArgumentError
from .. import tensor as tensor_mod
from ..tensor import Tensor
from .mode import _active, _defaults, is_grad_enabled
from . import anomaly
from .anomaly import watch as _anomaly_watch

__all__ = ["Operation", "Operator", "Dummy", "backward", "gradients", "infer_dependency"]

CTensor = singa.Tensor
_op_ids = itertools.count()
# The errors of a forward or backward that the engine renames after the op.
_NAMED_ERRORS = (ValueError, IndexError, TypeError, singa.DeviceError)


def _next_op_id():
    """The number the next Operation will take (the counter is not advanced)."""
    return _op_ids.__reduce__()[1][0]


class _OperationType(type):
    """Operation's metaclass, for SINGA's ``Operation.op_count``: a class-level property
    over the op counter. Storing the count as a class attribute would write to the class
    on every op, and each write to a class throws away the interpreter's attribute caches
    of that class and all its subclasses, which cost about a fifth of an op's overhead."""

    @property
    def op_count(cls):
        return _next_op_id()

    @op_count.setter
    def op_count(cls, value):
        # As in SINGA, setting it renumbers: the next op takes this number.
        global _op_ids
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError("Operation.op_count: must be a non-negative int, got {!r}"
                            .format(value))
        _op_ids = itertools.count(value)


class Operation(object, metaclass=_OperationType):
    """Base class of differentiable operations.

    Subclasses implement ``forward(*xs)`` and ``backward(*dys)`` on core tensors
    (``singa_wrap.Tensor``). ``forward`` returns one core tensor or a tuple;
    ``backward`` returns one gradient per input (``None`` where an input needs none).
    Calling an Operation on Tensors runs ``forward``, records ``src`` (the
    creators of its inputs) and returns a tuple of Tensors whose ``creator`` is it.
    ``forward`` keeps what backward needs with ``self.save(name=value, ...)``, which
    stores them as attributes only when this call is recorded for a backward pass.
    """

    # Set by each call (see __call__); None when forward is called directly, and
    # save() then follows grad mode.
    _saving = None
    # Whether the class (or a base below Operation) overrides _do_backward: the engine
    # then calls it; otherwise it runs Operation's steps inline (see __init_subclass__).
    _custom_do_backward = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # SINGA's hooks: a subclass that overrides _do_forward is called through it, and
        # one that overrides _do_backward has the engine call it (Operation's own are
        # inlined into __call__ and the backward loop, which saves a call per op).
        if "_do_forward" in cls.__dict__ and "__call__" not in cls.__dict__:
            cls.__call__ = _call_through_do_forward
        if "_do_backward" in cls.__dict__:
            cls._custom_do_backward = True

    def __init__(self, name=None):
        self._name = name
        self._id = next(_op_ids)

    @property
    def op_count(self):
        """The N of the next default name ``Class#N`` (``Operation.op_count`` too)."""
        return _next_op_id()

    @property
    def name(self):
        """``ClassName#N`` unless a name was given (formatted on first use: most
        operations never need theirs)."""
        if self._name is None:
            self._name = "{}#{}".format(type(self).__name__, self._id)
        return self._name

    @name.setter
    def name(self, value):
        self._name = value

    # ``op(*xs)`` and ``save`` are C functions, set below the class.

    def _do_backward(self, *dys):
        try:
            dxs = self.backward(*dys)
        except _NAMED_ERRORS as e:
            raise _named_error(self, ".backward", e, [dy.shape() for dy in dys]) from e
        if not isinstance(dxs, tuple):
            dxs = (dxs,)
        if _anomaly_watch.any:
            anomaly.check_backward(self, dys, dxs)
        return dxs

    def forward(self, *xs):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def backward(self, *dys):
        raise NotImplementedError("{} does not implement backward".format(type(self).__name__))

    def get_params(self):
        return []

    def output_name(self, idx):
        """SINGA's name for output ``idx``: ``name:idx``."""
        return "{}:{}".format(self.name, idx)

    def grad_name(self, idx):
        """SINGA's name for the gradient of output ``idx``: ``name:idx_g``."""
        return "{}_g".format(self.output_name(idx))

    def needs_grad(self, i):
        """Whether input ``i`` of the last recorded call needs a gradient."""
        flags = getattr(self, "input_requires_grad", None)
        return True if flags is None or i >= len(flags) else flags[i]

    def _release(self):
        """Drops saved tensors and graph links once backward has run."""
        d = self.__dict__
        name, op_id, requires_grad = d["_name"], d["_id"], d.get("requires_grad", False)
        d.clear()
        d["_name"] = name
        d["_id"] = op_id
        d["requires_grad"] = requires_grad


def _forward_failed(op, xs, err):
    """Raises ``err`` (raised by ``op.forward``) as the engine names it."""
    try:
        raise err
    except _NAMED_ERRORS as e:
        raise _named_error(op, "", e, [x.shape for x in xs]) from e


def _call_through_do_forward(self, *xs):
    return self._do_forward(*xs)


def _raise_not_tensor(op, xs):
    i = next(i for i, x in enumerate(xs) if not isinstance(x, Tensor))
    raise TypeError("{}: input {} must be a singa Tensor, got {}".format(
        type(op).__name__, i, type(xs[i]).__name__))


Operator = Operation


def _named_error(op, where, err, shapes):
    """The same kind of error, its message prefixed with the op and its argument shapes
    (core kernels name only themselves, e.g. Mult for Matmul). A plain ValueError (the
    core's kind for bad arguments) becomes an ArgumentError, which is also the
    AssertionError that SINGA scripts expect from SINGA's assert checks."""
    name = type(op).__name__
    msg = str(err)
    kind = ArgumentError if type(err) is ValueError else type(err)
    if msg.startswith(name + where + " "):
        return err if kind is type(err) else kind(msg)
    what = "inputs" if not where else "output gradients"
    return kind("{}{} with {} of shapes {}: {}".format(
        name, where, what, ", ".join(str(tuple(s)) for s in shapes), msg))


class Dummy(Operation):
    """The creator of leaf tensors (inputs and parameters)."""

    def __init__(self, tensor, name=None):
        self._name = name
        self._id = -1
        self.src = []
        self.y_id2idx = {id(tensor): 0}
        # A weak link: a strong one would make every leaf a reference cycle that only
        # the cyclic garbage collector could free, holding its memory until then.
        self._tensor = weakref.ref(tensor)
        self.requires_grad = False

    @property
    def tensor(self):
        return self._tensor()

    def output_name(self, idx):
        """A leaf's one output is the leaf itself: its name is the op's."""
        return self.name

    def _release(self):
        pass


def infer_dependency(op):
    """Counts, for every operation reachable from ``op``, how many times an
    operation downstream lists it as a source."""
    if not isinstance(op, Operation):
        raise TypeError("infer_dependency: op must be an Operation (a tensor's creator), got {}"
                        .format(type(op).__name__))
    return _count_dependencies(op)


def _count_dependencies(op):
    counts = {op: 0}
    stack = [op]
    pop, push, get = stack.pop, stack.append, counts.get
    while stack:
        try:
            srcs = pop().src
        except AttributeError:
            continue  # an op recorded without grad mode, or already released
        for entry in srcs:
            src_op = entry[0]
            n = get(src_op)
            if n is None:
                counts[src_op] = 1
                push(src_op)
            else:
                counts[src_op] = n + 1
    return counts


def _accumulate(a, b):
    if a.shape() != b.shape():
        raise ValueError("backward: gradients of shapes {} and {} reach the same tensor"
                         .format(a.shape(), b.shape()))
    return singa.__add__(a, b)


def backward(y, dy=None, retain_graph=None):
    """Back-propagates from ``y``; yields ``(param, grad)`` for every tensor with
    ``stores_grad=True`` as soon as its gradient is final.

    Args:
        y: the output Tensor (usually the loss).
        dy: the gradient of the objective w.r.t. y; required when y is not a scalar.
        retain_graph: keep the graph's saved tensors so that ``y`` can be
            back-propagated again (SINGA always keeps them). None reads the default from
            ``SINGA_RETAIN_GRAPH`` (off: each op's saved tensors are freed as backward
            passes it, which keeps backward's memory low).
    """
    if retain_graph is None:
        retain_graph = config.retain_graph()
    if not isinstance(y, Tensor):
        raise TypeError("backward: y must be a Tensor, got {}".format(type(y).__name__))
    if dy is None:
        if y.size() != 1:
            raise ArgumentError("backward: y of shape {} is not a scalar; pass dy, the gradient "
                             "with respect to y".format(y.shape))
        dyc = CTensor(list(y.shape), y.device, y.dtype)
        dyc.SetValue(1.0)
    else:
        dyc = dy.data if isinstance(dy, Tensor) else dy
        if tuple(dyc.shape()) != tuple(y.shape):
            raise ArgumentError("backward: dy of shape {} does not match y of shape {}"
                             .format(dyc.shape(), y.shape))
    op = y.creator
    if isinstance(op, Dummy) or op is None:
        if y.stores_grad:
            yield (y, tensor_mod.from_raw_tensor(dyc))
        return
    if not hasattr(op, "src"):
        raise RuntimeError("backward: {} was run without grad mode (autograd.training False, "
                           "or inside no_grad()), or its graph was already used by a backward "
                           "pass; set autograd.training = True before the forward pass, and "
                           "pass retain_graph=True (or set SINGA_RETAIN_GRAPH=1) to "
                           "back-propagate one graph twice"
                           .format(op.name))
    # The walk's bookkeeping runs in C++ (src/bind/bind_autograd.cc); each op's backward,
    # _do_backward and _release, and the helpers below, are called from there.
    walk = singa.BackwardWalk(op, op.y_id2idx[id(y)], dyc, bool(retain_graph), _WALK_HOOKS)
    wrap = tensor_mod._wrap
    for p, g in walk:
        yield (p, wrap(g))


def _backward_failed(op, dys, err):
    """Raises ``err`` (raised by ``op.backward``) as the engine names it."""
    try:
        raise err
    except _NAMED_ERRORS as e:
        raise _named_error(op, ".backward", e, [d.shape() for d in dys]) from e


def _fill_zeros(op, dys):
    """Zero gradients for the outputs of ``op`` that nobody used."""
    dev = next(d for d in dys if d is not None).device()
    for i, g in enumerate(dys):
        if g is None:
            shape, dtype = op._y_meta[i]
            g = CTensor(list(shape), dev, dtype)
            g.SetValue(0.0)
            dys[i] = g


def gradients(y, dy=None, retain_graph=None):
    """Runs backward and returns ``{id(param): grad}`` for every tensor whose gradient
    ``backward`` yields, keyed by ``id()`` as SINGA's is (``grads[id(w)]``)."""
    return {id(p): g for p, g in backward(y, dy, retain_graph)}


tensor_mod.set_leaf_creator(lambda t: Dummy(t, t.name))


# What the C++ walk calls back into (the order is BackwardWalk's).
_WALK_HOOKS = (Dummy, _accumulate, _fill_zeros, _backward_failed, _NAMED_ERRORS, _anomaly_watch,
               anomaly.check_backward, Operation._release)

# ``Operation.__call__(op, *xs)``: the per-call bookkeeping, the eager overhead of every
# op, is a C function bound as a method descriptor (src/bind/bind_autograd_call.cc), so a
# call runs no Python frame of its own. It records, while grad mode is on, ``src``:
# (creator, id of the input, the input if its gradient is yielded, whether it is), a
# tensor getting its gradient yielded only if it stores and requires one;
# ``input_requires_grad``, which lets backward skip inputs that need none; and
# ``y_id2idx`` (with ``_y_meta``, the output shapes, for several outputs).
# ``requires_grad`` and ``_saving`` say whether any input requires a gradient: a call no
# gradient can flow through keeps nothing. The outputs are Tensors whose creator is the op.
# ``Operation.save(op, name=value, ...)``, in C for the same reason, keeps the values as
# attributes of the op for its backward (``self.save(x=x)``, then ``self.x``); a no-op when
# the call is not recorded (grad mode off, or no input requires a gradient), so inference
# holds no memory for backward.
singa.BindOperationMethods(Operation)
# SINGA's name for the call's work; subclasses may override it (see __init_subclass__).
Operation._do_forward = Operation.__call__
singa.SetCallHooks((Tensor, _active, _defaults, is_grad_enabled, _NAMED_ERRORS,
                    _forward_failed, _raise_not_tensor, _anomaly_watch, anomaly.check_forward,
                    anomaly.record_forward))
