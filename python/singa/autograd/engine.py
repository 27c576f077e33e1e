"""The define-by-run engine: Operation records the graph, backward walks it."""

import contextlib
import sys
import weakref
from collections import deque

from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..tensor import Tensor

CTensor = singa.Tensor


# The package object (already in sys.modules while it imports this module): reading its
# flag directly is much cheaper than an import statement on every operation call.
_autograd = sys.modules[__package__]


def _training():
    return _autograd.training


class Operation(object):
    """Base class of differentiable operations.

    Subclasses implement ``forward(*xs)`` and ``backward(*dys)`` on core tensors
    (``singa_wrap.Tensor``). ``forward`` returns one core tensor or a tuple;
    ``backward`` returns one gradient per input (``None`` where an input needs none).
    Calling an Operation on Tensors runs ``forward``, records ``src`` (the
    creators of its inputs) and returns a tuple of Tensors whose ``creator`` is it.
    Save what backward needs only when ``autograd.training`` is True.
    """

    op_count = 0

    def __init__(self, name=None):
        self._name = name
        self._id = Operation.op_count
        Operation.op_count += 1

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

    def __call__(self, *xs):
        return self._do_forward(*xs)

    def _do_forward(self, *xs):
        try:
            datas = [x.data for x in xs]
        except AttributeError:
            datas = []
        if len(datas) != len(xs) or not all(isinstance(x, Tensor) for x in xs):
            i = next(i for i, x in enumerate(xs) if not isinstance(x, Tensor))
            raise TypeError("{}: input {} must be a singa Tensor, got {}".format(
                type(self).__name__, i, type(xs[i]).__name__))
        record = _autograd.training
        if record:
            # A tensor gets its gradient yielded only if it both stores and requires one.
            self.src = [(x.creator, id(x), x if x.stores_grad and x.requires_grad else None,
                         x.stores_grad and x.requires_grad) for x in xs]
            # Which inputs need a gradient: backward may skip the work for the others
            # (e.g. the input images of the first layer).
            self.input_requires_grad = tuple(x.requires_grad for x in xs)
            self.requires_grad = any(self.input_requires_grad)
        else:
            self.requires_grad = False
        try:
            ys = self.forward(*datas)
        except (ValueError, IndexError) as e:
            raise _named_error(self, "", e, [x.shape for x in xs]) from e
        if not isinstance(ys, tuple):
            ys = (ys,)
        outs = tuple(_output(y, self.requires_grad, self) for y in ys)
        if record:
            self.y_id2idx = {id(y): i for i, y in enumerate(outs)}
            # Shapes of the outputs, to build zero gradients for outputs nobody used.
            self._y_meta = [(y.data.shape(), y.data.data_type()) for y in outs]
        return outs

    def _do_backward(self, *dys):
        try:
            dxs = self.backward(*dys)
        except (ValueError, IndexError) as e:
            raise _named_error(self, ".backward", e, [dy.shape() for dy in dys]) from e
        if not isinstance(dxs, tuple):
            dxs = (dxs,)
        return dxs

    def forward(self, *xs):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def backward(self, *dys):
        raise NotImplementedError("{} does not implement backward".format(type(self).__name__))

    def get_params(self):
        return []

    def needs_grad(self, i):
        """Whether input ``i`` of the last recorded call needs a gradient."""
        flags = getattr(self, "input_requires_grad", None)
        return True if flags is None or i >= len(flags) else flags[i]

    def _release(self):
        """Drops saved tensors and graph links once backward has run."""
        keep = ("_name", "_id", "requires_grad")
        for k in list(self.__dict__):
            if k not in keep:
                del self.__dict__[k]


Operator = Operation


def _named_error(op, where, err, shapes):
    """The same kind of error, its message prefixed with the op and its argument shapes
    (core kernels name only themselves, e.g. Mult for Matmul)."""
    name = type(op).__name__
    msg = str(err)
    if msg.startswith(name + where + " "):
        return err
    what = "inputs" if not where else "output gradients"
    return type(err)("{}{} with {} of shapes {}: {}".format(
        name, where, what, ", ".join(str(tuple(s)) for s in shapes), msg))


def _output(ct, requires_grad, creator):
    t = Tensor.__new__(Tensor)
    t.data = ct
    t.requires_grad = requires_grad
    t.stores_grad = False
    t.name = None
    t.creator = creator
    return t


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

    def _release(self):
        pass


def infer_dependency(op):
    """Counts, for every operation reachable from ``op``, how many times an
    operation downstream lists it as a source."""
    counts = {op: 0}
    queue = deque([op])
    while queue:
        cur = queue.pop()
        for src_op, _, _, _ in getattr(cur, "src", ()):
            if src_op not in counts:
                counts[src_op] = 1
                queue.append(src_op)
            else:
                counts[src_op] += 1
    return counts


def _accumulate(a, b):
    if a is None:
        return b
    if a.shape() != b.shape():
        raise ValueError("backward: gradients of shapes {} and {} reach the same tensor"
                         .format(a.shape(), b.shape()))
    return singa.__add__(a, b)


def backward(y, dy=None):
    """Back-propagates from ``y``; yields ``(param, grad)`` for every tensor with
    ``stores_grad=True`` as soon as its gradient is final.

    Args:
        y: the output Tensor (usually the loss).
        dy: the gradient of the objective w.r.t. y; required when y is not a scalar.
    """
    if not isinstance(y, Tensor):
        raise TypeError("backward: y must be a Tensor, got {}".format(type(y).__name__))
    if dy is None:
        if y.size() != 1:
            raise ValueError("backward: y of shape {} is not a scalar; pass dy, the gradient "
                             "with respect to y".format(y.shape))
        dyc = CTensor(list(y.shape), y.device, y.dtype)
        dyc.SetValue(1.0)
    else:
        dyc = dy.data if isinstance(dy, Tensor) else dy
        if tuple(dyc.shape()) != tuple(y.shape):
            raise ValueError("backward: dy of shape {} does not match y of shape {}"
                             .format(dyc.shape(), y.shape))
    op = y.creator
    if isinstance(op, Dummy) or op is None:
        if y.stores_grad:
            yield (y, tensor_mod.from_raw_tensor(dyc))
        return
    if not hasattr(op, "src"):
        raise RuntimeError("backward: {} was run with autograd.training False (or its graph "
                           "was already used by a backward pass); set autograd.training = "
                           "True before the forward pass".format(op.name))
    deps = infer_dependency(op)
    params = {}  # op -> {output index: the Tensor (stores_grad) whose gradient is yielded}
    grads = {op: [None] * len(op._y_meta)}
    grads[op][op.y_id2idx[id(y)]] = dyc
    ready = deque([op])
    while ready:
        cur = ready.popleft()
        dys = grads.pop(cur)
        if cur.requires_grad:
            for i, g in enumerate(dys):
                if g is None:
                    shape, dtype = cur._y_meta[i]
                    dev = next(d for d in dys if d is not None).device()
                    g = CTensor(list(shape), dev, dtype)
                    g.SetValue(0.0)
                    dys[i] = g
            dxs = cur._do_backward(*dys)
            if len(dxs) != len(cur.src):
                raise RuntimeError("{}.backward returned {} gradients for {} inputs".format(
                    type(cur).__name__, len(dxs), len(cur.src)))
        else:
            dxs = (None,) * len(cur.src)
        srcs = cur.src
        cur._release()
        for (src_op, x_id, x_param, x_stores), dx in zip(srcs, dxs):
            slot = grads.setdefault(src_op, [None] * _num_outputs(src_op))
            if dx is not None and (src_op.requires_grad or
                                   (isinstance(src_op, Dummy) and x_stores)):
                idx = src_op.y_id2idx[x_id]
                slot[idx] = _accumulate(slot[idx], dx)
                if x_param is not None:
                    params.setdefault(src_op, {})[idx] = x_param
            deps[src_op] -= 1
            if deps[src_op] > 0:
                continue
            # src_op's output gradients are final now: yield the stored ones before
            # any further op runs.
            for idx, p in params.pop(src_op, {}).items():
                yield (p, tensor_mod.from_raw_tensor(slot[idx]))
            if isinstance(src_op, Dummy):
                del grads[src_op]
            else:
                ready.append(src_op)


def _num_outputs(op):
    meta = getattr(op, "_y_meta", None)
    return len(meta) if meta is not None else 1


def gradients(y, dy=None):
    """Runs backward and returns ``{param: grad}`` for every parameter."""
    return {p: g for p, g in backward(y, dy)}


@contextlib.contextmanager
def no_grad():
    """Within this block operations record nothing and save nothing for backward."""
    from .. import autograd
    old = autograd.training
    autograd.training = False
    try:
        yield
    finally:
        autograd.training = old
