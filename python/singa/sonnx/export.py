"""Export: a recorded singa graph as an ``onnx.ModelProto`` (SINGA's ``sonnx.to_onnx``).

The graph is what autograd recorded: each output Tensor's ``creator`` Operation and, through
its ``src``, the operations before it, back to the given input Tensors. Every Operation is
written by the exporter registered for its class (``register_export``; the built-in ones are
in ``export_ops_*.py``), parameters and other leaf tensors become initializers, and the
first axis of every input and output is symbolic (dynamic batch) unless ``dynamic_axes``
says otherwise.

Operations record their inputs only while grad mode is on, so the forward to export runs
with recording on and inference behaviour, e.g.::

    with autograd.set_grad_enabled(True), autograd.train(False):
        y = model.forward(x)
    onnx_model = sonnx.to_onnx([x], [y])

(SINGA records always, and its scripts export after ``autograd.training = False``; here
that forward records nothing, and ``to_onnx`` says so.) Dropout exports as Identity and
BatchNorm with its running statistics: the model is written for inference.
"""

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..autograd.engine import Dummy
from ..tensor import Tensor, to_numpy
from . import export_ops_math, export_ops_nn, export_ops_shape  # noqa: F401 (registers)
from .export_registry import (ExportContext, ExportError, MAX_OPSET, MIN_OPSET, exporter_for,
                              onnx_dtype, register_export)

__all__ = ["to_onnx", "register_export", "SingaFrontend", "save", "ExportError",
           "DEFAULT_OPSET"]

DEFAULT_OPSET = MAX_OPSET
_BATCH = "batch"


def _as_list(ts, what):
    if isinstance(ts, Tensor):
        return [ts]
    ts = list(ts)
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError("to_onnx: {}[{}] must be a singa Tensor, got {}".format(
                what, i, type(t).__name__))
    return ts


def _unrecorded(op):
    return ExportError(
        "to_onnx: {} ({}) has no recorded inputs: the forward ran with nothing recorded "
        "(autograd.training False, no_grad), or a backward pass has released the graph. Run "
        "the forward to export with recording on and inference behaviour: `with "
        "autograd.set_grad_enabled(True), autograd.train(False): y = model.forward(x)`"
        .format(op.name, type(op).__name__))


def _value_key(t):
    """(the op that produced t, which of its outputs t is)."""
    op = t.creator
    if isinstance(op, Dummy):
        return id(op), 0
    if not hasattr(op, "y_id2idx"):
        raise _unrecorded(op)
    return id(op), op.y_id2idx[id(t)]


def _src_key(creator, tensor_id):
    if isinstance(creator, Dummy):
        return id(creator), 0
    return id(creator), creator.y_id2idx[tensor_id]


def _names(given, count, default, what):
    if given is None:
        return [default.format(i) for i in range(count)]
    given = list(given)
    if len(given) != count or not all(isinstance(n, str) and n for n in given):
        raise ExportError("to_onnx: {} must be {} non-empty strings, got {!r}".format(
            what, count, given))
    if len(set(given)) != count:
        raise ExportError("to_onnx: {} has repeated names: {!r}".format(what, given))
    return given


def _dims(name, shape, dynamic_axes):
    """The dims of a graph input or output: ints, and names for its dynamic axes."""
    dims = list(shape)
    if dynamic_axes is None:
        if dims:
            dims[0] = _BATCH
        return dims
    axes = dynamic_axes.get(name, {})
    if not isinstance(axes, dict):
        axes = {a: "{}_dim{}".format(name, a) for a in axes}
    for a, sym in axes.items():
        if not -len(dims) <= a < len(dims):
            raise ExportError("to_onnx: dynamic axis {} of {!r} is out of range for shape {}"
                              .format(a, name, tuple(shape)))
        dims[a] = str(sym)
    return dims


class SingaFrontend(object):
    """SINGA's exporter class: a recorded graph to ONNX (``to_onnx`` calls it)."""

    @classmethod
    def singa_to_onnx_model(cls, inputs, y, model_name="sonnx", opset=None, input_names=None,
                            output_names=None, dynamic_axes=None):
        """The ONNX model of the graph from ``inputs`` to ``y``; see ``to_onnx``."""
        opset = DEFAULT_OPSET if opset is None else opset
        if isinstance(opset, bool) or not isinstance(opset, int) or \
                not MIN_OPSET <= opset <= MAX_OPSET:
            raise ExportError("to_onnx: opset must be an int in [{}, {}] (the range both "
                              "onnx and onnxruntime load here), got {!r}".format(
                                  MIN_OPSET, MAX_OPSET, opset))
        graph = cls.singa_to_onnx_graph(inputs, y, model_name, opset, input_names,
                                        output_names, dynamic_axes)
        opset_ids = [helper.make_opsetid("", opset)]
        model = helper.make_model(graph, producer_name="singa", opset_imports=opset_ids,
                                  ir_version=helper.find_min_ir_version_for(opset_ids))
        return model

    @classmethod
    def singa_to_onnx_graph(cls, inputs, y, model_name="sonnx", opset=DEFAULT_OPSET,
                            input_names=None, output_names=None, dynamic_axes=None):
        """The ONNX graph (a GraphProto) of the operations from ``inputs`` to ``y``."""
        inputs = _as_list(inputs, "inputs")
        ys = _as_list(y, "y")
        if not ys:
            raise ExportError("to_onnx: y is empty; give the output Tensors to export")
        if dynamic_axes is not None and not isinstance(dynamic_axes, dict):
            raise ExportError("to_onnx: dynamic_axes must be a dict {{name: {{axis: symbol}}}} "
                              "or {{name: [axes]}}, got {!r}".format(dynamic_axes))
        in_names = _names(input_names, len(inputs), "input_{}", "input_names")
        out_names = _names(output_names, len(ys), "output_{}", "output_names")
        if set(in_names) & set(out_names):
            raise ExportError("to_onnx: {} are both input and output names".format(
                sorted(set(in_names) & set(out_names))))
        ctx = ExportContext(opset)
        values = {}  # value key -> ONNX name
        graph_inputs = []
        for t, name in zip(inputs, in_names):
            key = _value_key(t)
            if key in values:
                raise ExportError("to_onnx: the same Tensor is given twice in inputs")
            values[key] = ctx.reserve(name)
            elem = onnx_dtype(t.dtype)
            ctx.add_static_input(name, elem, t.shape)
            graph_inputs.append(helper.make_tensor_value_info(
                name, elem, _dims(name, t.shape, dynamic_axes)))
        for name in out_names:
            ctx.reserve(name)
        out_keys = [_value_key(t) for t in ys]
        wanted = {}
        for key, name in zip(out_keys, out_names):
            wanted.setdefault(key, name)
        leaves = {}
        for op in cls._topological(ys, values):
            if cls.handle_special_ops(op, ctx, values, leaves):
                continue
            names_in = [values[_src_key(c, xid)] for c, xid, _, _ in op.src]
            n_out = len(op.y_id2idx) if not hasattr(op, "_y_meta") else len(op._y_meta)
            names_out = []
            for i in range(n_out):
                key = (id(op), i)
                name = wanted.pop(key, None)
                if name is None:
                    name = ctx.reserve(op.output_name(i))
                values[key] = name
                names_out.append(name)
            cls.singa_op_to_onnx_node(op, ctx, names_in, names_out)
        for key, name in zip(out_keys, out_names):
            if values[key] != name:
                ctx.op = None  # an input, a parameter or an output given twice
                ctx.node("Identity", [values[key]], [name])
        if dynamic_axes is None:
            # an output's axis 0 is the batch where it follows from the inputs' (not, e.g.,
            # for a loss)
            symbolic = _symbolic_batch(ctx, inputs, in_names)
            out_dims = [_dims(n, t.shape, None) if n in symbolic else list(t.shape)
                        for t, n in zip(ys, out_names)]
        else:
            out_dims = [_dims(n, t.shape, dynamic_axes) for t, n in zip(ys, out_names)]
        graph_outputs = [helper.make_tensor_value_info(n, onnx_dtype(t.dtype), dims)
                         for t, n, dims in zip(ys, out_names, out_dims)]
        return helper.make_graph(ctx.nodes, model_name, graph_inputs, graph_outputs,
                                 initializer=ctx.initializers)

    @classmethod
    def _topological(cls, ys, values):
        """The operations between the inputs and ys, each after the ones it reads
        (an iterative depth-first walk: deep graphs do not reach the recursion limit)."""
        order, done = [], set()
        stack = []
        for t in ys:
            if _value_key(t) not in values:
                stack.append((t.creator, False))
        while stack:
            op, expanded = stack.pop()
            if id(op) in done:
                continue
            if expanded:
                done.add(id(op))
                order.append(op)
                continue
            stack.append((op, True))
            if isinstance(op, Dummy):
                continue
            src = getattr(op, "src", None)
            if src is None:
                raise _unrecorded(op)
            for creator, xid, _, _ in reversed(src):
                if _src_key(creator, xid) in values or id(creator) in done:
                    continue
                stack.append((creator, False))
        return order

    @classmethod
    def handle_special_ops(cls, op, ctx, values, leaves):
        """The walk's own cases: a leaf (``autograd.Dummy``) that is not a graph input
        becomes an initializer holding its tensor's current value. Returns whether ``op``
        was one of them."""
        if not isinstance(op, Dummy):
            return False
        t = op.tensor
        if t is None:
            raise ExportError(
                "to_onnx: a leaf tensor ({}) that the graph reads no longer exists; keep a "
                "reference to it, or pass it in inputs".format(op.name))
        if isinstance(getattr(t, "name", None), str) and t.name:
            base = t.name
        else:
            base = "param_{}".format(len(leaves)) if t.stores_grad else \
                "const_{}".format(len(leaves))
        name = ctx.reserve(base)
        ctx.add_initializer(name, np.asarray(to_numpy(t)))
        leaves[id(op)] = name
        values[(id(op), 0)] = name
        return True

    @classmethod
    def singa_op_to_onnx_node(cls, op, ctx, inputs, outputs):
        """Writes the ONNX node(s) of one Operation through its registered exporter;
        returns the nodes added."""
        fn = exporter_for(op)
        if fn is None:
            raise ExportError(
                "to_onnx: no ONNX exporter for Operation class {}.{} ({}); register one with "
                "sonnx.register_export({}, fn), where fn(op, ctx, inputs, outputs) adds its "
                "nodes with ctx.node(op_type, inputs, outputs, **attributes)".format(
                    type(op).__module__, type(op).__name__, op.name, type(op).__name__))
        start = len(ctx.nodes)
        ctx.op = op
        try:
            fn(op, ctx, list(inputs), list(outputs))
        finally:
            ctx.op = None
        return ctx.nodes[start:]


def _symbolic_batch(ctx, inputs, in_names):
    """The names of the values whose axis 0 is the symbolic batch, by ONNX shape inference
    over the graph with symbolic inputs. On the way, Reshape targets that hold the traced
    batch size where their input carries the symbolic one get 0 there instead (copy the
    input's dim), so that other batch sizes run; inference repeats until none is left,
    since a rewritten Reshape makes the values after it symbolic too."""
    sizes = {t.shape[0] for t in inputs if t.ndim() > 0}
    batch = sizes.pop() if len(sizes) == 1 else None
    graph_inputs = [helper.make_tensor_value_info(n, onnx_dtype(t.dtype), _dims(n, t.shape, None))
                    for t, n in zip(inputs, in_names)]
    inits = {init.name: i for i, init in enumerate(ctx.initializers)}
    while True:
        try:
            inferred = onnx.shape_inference.infer_shapes(ctx.shape_model(graph_inputs))
        except onnx.shape_inference.InferenceError:
            return set(in_names)
        symbolic = set(in_names)
        for vi in inferred.graph.value_info:
            dims = vi.type.tensor_type.shape.dim
            if len(dims) and dims[0].dim_param == _BATCH:
                symbolic.add(vi.name)
        rewritten = False
        for node in ctx.nodes if batch is not None else ():
            idx = inits.get(node.input[1]) if node.op_type == "Reshape" else None
            if idx is None or node.input[0] not in symbolic:
                continue
            target = numpy_helper.to_array(ctx.initializers[idx])
            if target.size and target[0] == batch:
                target = target.copy()
                target[0] = 0
                ctx.initializers[idx].CopyFrom(numpy_helper.from_array(target, node.input[1]))
                rewritten = True
        if not rewritten:
            return symbolic


def to_onnx(inputs, y, model_name="sonnx", opset=None, input_names=None, output_names=None,
            dynamic_axes=None):
    """The ONNX model of the recorded graph from ``inputs`` to ``y``.

    Args:
        inputs: the input Tensor(s) the forward ran on (graph inputs, in this order).
        y: the output Tensor(s) (graph outputs, in this order).
        model_name: the graph's name.
        opset: the ONNX opset (default ``DEFAULT_OPSET``, the newest both onnx and
            onnxruntime load; 18 at least).
        input_names, output_names: names of the graph's inputs and outputs (default
            ``input_0``, ... and ``output_0``, ...).
        dynamic_axes: None (the default) makes axis 0 of every input and output the
            symbolic ``batch``; otherwise a dict ``{name: {axis: symbol}}`` or
            ``{name: [axes]}`` names the only symbolic axes (``{}``: all static).

    Returns:
        an ``onnx.ModelProto`` that passes ``onnx.checker.check_model``.

    Raises:
        ExportError: an Operation without an exporter (register one with
            ``register_export``), a graph that was not recorded, or a bad argument.
    """
    return SingaFrontend.singa_to_onnx_model(inputs, y, model_name, opset, input_names,
                                             output_names, dynamic_axes)


def save(model, path):
    """Writes an ONNX model to ``path`` (``onnx.save``)."""
    onnx.save(model, path)
