"""The table of ONNX exporters (one function per singa Operation class) and the context an
exporter writes its nodes through.

An exporter is ``fn(op, ctx, inputs, outputs)``:

- ``op``: the recorded singa Operation (its attributes: ``op.axis``, ``op.handle``, ...);
- ``ctx``: the :class:`ExportContext` of the graph being written;
- ``inputs``: the ONNX value names of the op's inputs, in the order the op was called with;
- ``outputs``: the ONNX value names the exporter must produce, one per output of the op.

It adds nodes with ``ctx.node(...)``, constants with ``ctx.constant(...)`` and returns
nothing. Registering a class covers its subclasses too, unless they have their own.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import singa_wrap as singa
from ..errors import ArgumentError

__all__ = ["ExportError", "ExportContext", "register_export", "exporter_for", "registered",
           "onnx_dtype", "MIN_OPSET", "MAX_OPSET"]

# The newest opset both onnx 1.23 (28) and onnxruntime 1.31 (26: it refuses newer ones)
# load; below 18 several operators take their axes as attributes, which the exporters
# here do not write.
MIN_OPSET = 18
MAX_OPSET = 26

_EXPORTERS = {}

_DTYPES = {
    singa.kFloat32: TensorProto.FLOAT,
    singa.kFloat16: TensorProto.FLOAT16,
    singa.kBFloat16: TensorProto.BFLOAT16,
    singa.kFloat64: TensorProto.DOUBLE,
    singa.kInt: TensorProto.INT32,
    singa.kChar: TensorProto.INT8,
}


class ExportError(ArgumentError):
    """A graph, an operation or an argument that cannot be written as ONNX."""


def onnx_dtype(singa_dtype):
    """The ONNX element type (``TensorProto.FLOAT``, ...) of a singa dtype."""
    if singa_dtype not in _DTYPES:
        raise ExportError("sonnx: singa dtype {!r} has no ONNX element type".format(singa_dtype))
    return _DTYPES[singa_dtype]


def register_export(op_class, fn):
    """Makes ``fn(op, ctx, inputs, outputs)`` the exporter of ``op_class`` (and of its
    subclasses that have none of their own); replaces any earlier one. See the module's
    docstring for the arguments; ``fn`` writes its nodes through ``ctx.node``."""
    if not isinstance(op_class, type):
        raise TypeError("register_export: op_class must be an Operation class, got {!r}"
                        .format(op_class))
    if not callable(fn):
        raise TypeError("register_export: fn must be callable, got {!r}".format(fn))
    _EXPORTERS[op_class] = fn


def exporter_for(op):
    """The exporter of ``op``'s class (or of its nearest registered base), or None."""
    for cls in type(op).__mro__:
        fn = _EXPORTERS.get(cls)
        if fn is not None:
            return fn
    return None


def registered():
    """The classes that have an exporter."""
    return list(_EXPORTERS)


def _attr_value(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


class ExportContext(object):
    """What an exporter writes into: the graph's nodes and initializers, fresh names, the
    opset, and static shapes of values the walk knows (graph inputs, initializers) or that
    ONNX shape inference finds."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self._names = set()
        self._node_names = set()
        self._static_inputs = []  # value infos with the traced (static) shapes
        self._known_shapes = {}
        self._inferred = None
        self.op = None  # the Operation being exported, for messages and node names

    # ---- names ----
    def reserve(self, name):
        """Marks ``name`` as used; a clash gets a numbered suffix. Returns the name."""
        base, k = name, 1
        while name in self._names:
            name = "{}_{}".format(base, k)
            k += 1
        self._names.add(name)
        return name

    def temp(self, hint="t"):
        """A fresh name for an intermediate value of the current op."""
        prefix = self.op.name if self.op is not None else "sonnx"
        return self.reserve("{}/{}".format(prefix, hint))

    def _node_name(self, op_type):
        prefix = self.op.name if self.op is not None else "sonnx"
        name, k = "{}/{}".format(prefix, op_type), 1
        while name in self._node_names:
            k += 1
            name = "{}/{}_{}".format(prefix, op_type, k)
        self._node_names.add(name)
        return name

    # ---- graph contents ----
    def node(self, op_type, inputs, outputs=None, **attrs):
        """Adds an ONNX node; ``outputs`` may be a list of names or a number of fresh ones.
        Returns the list of output names (its first alone when there is one)."""
        if outputs is None:
            outputs = 1
        if isinstance(outputs, int):
            outputs = [self.temp(op_type.lower()) for _ in range(outputs)]
        attrs = {k: _attr_value(v) for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs),
                                           name=self._node_name(op_type), **attrs))
        self._inferred = None
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def constant(self, value, hint="const", dtype=None):
        """Adds ``value`` (a NumPy array, number or list) as an initializer; returns its
        name. ``dtype`` is a NumPy dtype (default: the value's, with float64 made
        float32, singa's default float)."""
        arr = np.asarray(value)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        name = self.temp(hint)
        self.add_initializer(name, arr)
        return name

    def int64s(self, values, hint="ints"):
        """A 1-D int64 initializer (shapes, axes, pads, ...)."""
        return self.constant(np.asarray(list(values), dtype=np.int64).reshape(-1), hint)

    def add_initializer(self, name, arr):
        arr = np.ascontiguousarray(arr)
        self.initializers.append(numpy_helper.from_array(arr, name))
        self._known_shapes[name] = tuple(arr.shape)
        self._inferred = None

    def add_static_input(self, name, elem_type, shape):
        self._static_inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        self._known_shapes[name] = tuple(shape)

    # ---- shapes ----
    def shape(self, name):
        """The static shape of value ``name`` in the traced run (a tuple of ints), from the
        graph inputs and initializers or, for values computed by nodes, from ONNX shape
        inference over the nodes written so far. Raises ExportError when it is unknown."""
        if name in self._known_shapes:
            return self._known_shapes[name]
        if self._inferred is None:
            self._inferred = self._infer()
        vi = self._inferred.get(name)
        if vi is None or not vi.type.tensor_type.HasField("shape"):
            raise ExportError("sonnx: {}: the shape of {!r} is not known at export time"
                              .format(self.op.name if self.op else "export", name))
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in vi.type.tensor_type.shape.dim]
        if any(d is None for d in dims):
            raise ExportError("sonnx: {}: the shape of {!r} is not static ({})"
                              .format(self.op.name if self.op else "export", name, dims))
        return tuple(dims)

    def rank(self, name):
        return len(self.shape(name))

    def shape_model(self, graph_inputs):
        """A model of the nodes so far for shape inference: large initializers (weights,
        whose values no shape depends on) are typed inputs, so that no copy of their
        data is made."""
        small, typed = [], []
        for init in self.initializers:
            if init.data_type == TensorProto.INT64 or np.prod(init.dims) <= 64:
                small.append(init)
            else:
                typed.append(helper.make_tensor_value_info(init.name, init.data_type,
                                                           list(init.dims)))
        graph = helper.make_graph(self.nodes, "shapes", list(graph_inputs) + typed, [],
                                  initializer=small)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])

    def _infer(self):
        inferred = onnx.shape_inference.infer_shapes(self.shape_model(self._static_inputs))
        return {vi.name: vi for vi in inferred.graph.value_info}
