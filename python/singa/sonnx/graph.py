"""An ONNX graph held as singa Tensors: it checks every node has a handler before
anything runs, then runs the nodes in order, each through singa autograd Operations."""

import numpy as np

from .. import tensor as tensor_mod
from ..tensor import Tensor
from .common import (NP_TYPE_TO_SINGA_SUPPORT_TYPE, OnnxImportError, OnnxNode,
                     UnsupportedOperatorError)
from .registry import HANDLERS, HostValue, load_handlers

__all__ = ["OnnxGraph", "Inputs", "to_tensor"]

_INT32 = np.iinfo(np.int32)
# Dtypes whose computed tensors may be read back as shape-like host values.
_INTEGER_DTYPES = tuple(d for np_type, d in NP_TYPE_TO_SINGA_SUPPORT_TYPE.items()
                        if np_type.kind in "iu")
# Domains whose operators are ONNX's own (the empty string is the default domain).
_ONNX_DOMAINS = ("", "ai.onnx")


def to_tensor(array, device, what="input"):
    """A singa Tensor holding a NumPy array. int64 data (ONNX's index type) is stored as
    int32 when every value fits; other dtypes the core lacks raise OnnxImportError."""
    array = np.asarray(array)
    if array.dtype == np.int64 and array.dtype not in NP_TYPE_TO_SINGA_SUPPORT_TYPE:
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            raise OnnxImportError("{}: int64 values outside the int32 range cannot be held "
                                  "until the core has an int64 dtype".format(what))
        array = array.astype(np.int32)
    if array.dtype not in NP_TYPE_TO_SINGA_SUPPORT_TYPE:
        raise OnnxImportError("{}: dtype {} has no singa dtype ({})".format(
            what, array.dtype, ", ".join(str(d) for d in NP_TYPE_TO_SINGA_SUPPORT_TYPE)))
    t = Tensor(device=device, data=np.ascontiguousarray(array),
               dtype=NP_TYPE_TO_SINGA_SUPPORT_TYPE[array.dtype], requires_grad=False)
    return t


class _Value(object):
    """A value in the graph: a Tensor, a host constant (NumPy) or both; the Tensor of a
    host constant is made on first use."""

    __slots__ = ("tensor", "host", "name")

    def __init__(self, name, tensor=None, host=None):
        self.name, self.tensor, self.host = name, tensor, host


class Inputs(object):
    """A handler's view of its node's inputs."""

    def __init__(self, node, values, device):
        self.node, self._values, self.device = node, values, device

    def __len__(self):
        return len(self._values)

    def has(self, i):
        return i < len(self._values) and self._values[i] is not None

    def t(self, i):
        """Input i as a Tensor (None when the optional input is omitted)."""
        if not self.has(i):
            return None
        v = self._values[i]
        if v.tensor is None:
            v.tensor = to_tensor(v.host, self.device, "{} input {!r}".format(
                self.node.describe(), v.name))
        return v.tensor

    def tensors(self):
        return [self.t(i) for i in range(len(self._values))]

    def host(self, i, what="input"):
        """Input i as a NumPy constant. Shape-like inputs (Reshape's shape, Slice's
        starts, ...) are read here: an initializer, a Constant's output, a Shape result
        or an array fed to run()."""
        if not self.has(i):
            return None
        v = self._values[i]
        if v.host is None:
            if v.tensor is None or (v.tensor.dtype not in _INTEGER_DTYPES and
                                    v.tensor.size() != 1):
                raise self.node.error("{} {} ({!r}) must be a constant (an initializer, a "
                                      "Constant node or an array fed to run), a computed "
                                      "integer tensor or a computed scalar, not {}".format(
                                          what, i, v.name, _dtype_name(v.tensor)))
            # Shape arithmetic done inside the graph (Shape -> Gather -> Concat -> ...)
            # and scalars (a Range bound, a pad value): the computed tensor is read back
            # once, as a shape is a host value. (Graph mode sees such a step copy host
            # data into tensors and runs it eagerly rather than replay stale values.)
            array = tensor_mod.to_numpy(v.tensor)
            v.host = array.astype(np.int64) if array.dtype.kind in "iu" else array
        return v.host


def _dtype_name(t):
    return "a missing value" if t is None else "a computed {} tensor".format(
        tensor_mod._DTYPE_NAMES.get(t.dtype, t.dtype))


def _opset_of(model):
    for entry in model.opset_import:
        if entry.domain in _ONNX_DOMAINS:
            return int(entry.version)
    return None


class OnnxGraph(object):
    """A checked ONNX model ready to run on ``device``.

    Args:
        model: an onnx.ModelProto (already checked by onnx.checker).
        device: the singa Device its tensors live on.
        trainable: whether float initializers get gradients (stores_grad=True).
    """

    def __init__(self, model, device, trainable=True):
        load_handlers()
        self.model, self.device = model, device
        graph = model.graph
        self.opset = _opset_of(model)
        self.nodes = [OnnxNode(n, self.opset) for n in graph.node]
        missing = [(n.op_type, self.opset, n.name) for n in self.nodes
                   if n.domain not in _ONNX_DOMAINS or n.op_type not in HANDLERS]
        if missing:
            raise UnsupportedOperatorError(missing)
        used = {name for n in self.nodes for name in n.inputs}
        used.update(o.name for o in graph.output)
        for n in self.nodes:
            n.used_outputs = [bool(name) and name in used for name in n.outputs]
        from onnx import numpy_helper
        self.initializers = {}
        for init in graph.initializer:
            array = numpy_helper.to_array(init)
            self.initializers[init.name] = self._initializer(init.name, array, trainable)
        # Constant nodes are evaluated once: their values are the file's data, and graph
        # mode then replays no host-to-device copies for them.
        for node in [n for n in self.nodes if n.op_type == "Constant"]:
            out = HANDLERS["Constant"](node, Inputs(node, [], device))
            self.initializers[node.outputs[0]] = _Value(node.outputs[0], host=out.array)
        self.nodes = [n for n in self.nodes if n.op_type != "Constant"]
        self._freeze_running_statistics()
        self.input_names = [i.name for i in graph.input if i.name not in self.initializers]
        self.output_names = [o.name for o in graph.output]

    def _initializer(self, name, array, trainable):
        if array.dtype in (np.float32, np.float64, np.float16):
            t = to_tensor(array, self.device, "initializer {!r}".format(name))
            t.requires_grad = t.stores_grad = bool(trainable)
            t.name = name
            return _Value(name, tensor=t, host=array)
        return _Value(name, host=array)

    def _freeze_running_statistics(self):
        """BatchNormalization's mean and variance inputs are states, not parameters."""
        for node in self.nodes:
            if node.op_type == "BatchNormalization":
                for name in node.inputs[3:5]:
                    v = self.initializers.get(name)
                    if v is not None and v.tensor is not None:
                        v.tensor.requires_grad = v.tensor.stores_grad = False

    def states(self):
        """The BatchNormalization running statistics as {name: Tensor}."""
        out = {}
        for node in self.nodes:
            if node.op_type == "BatchNormalization":
                for name in node.inputs[3:5]:
                    v = self.initializers.get(name)
                    if v is not None and v.tensor is not None:
                        out[name] = v.tensor
        return out

    def params(self):
        """The float initializers as {name: Tensor}."""
        return {k: v.tensor for k, v in self.initializers.items()
                if v.tensor is not None and v.tensor.stores_grad}

    def _feed(self, name, x):
        if isinstance(x, Tensor):
            return _Value(name, tensor=x)
        if isinstance(x, (list, tuple, dict)) or x is None:
            raise OnnxImportError("sonnx: graph input {!r} is a {} (ONNX sequence, map or "
                                  "optional values are not supported)".format(
                                      name, type(x).__name__))
        array = np.asarray(x)
        value = _Value(name, host=array)
        if array.dtype != np.int64:
            value.tensor = to_tensor(array, self.device, "graph input {!r}".format(name))
        return value

    def run(self, feeds, last_layers=None, aux_output=()):
        """Runs the graph on ``feeds`` ({input name: Tensor or array}) and returns
        {output name: Tensor or HostValue}.

        Args:
            last_layers: run only ``nodes[:last_layers]`` (a Python slice end, so -1
                drops the last node); the result is then the last node's first output.
            aux_output: names of intermediate values to return as well.
        """
        env = dict(self.initializers)
        for name in self.input_names:
            if name not in feeds:
                raise OnnxImportError("sonnx: graph input {!r} was not given (inputs: {})"
                                      .format(name, self.input_names))
            env[name] = self._feed(name, feeds[name])
        nodes = self.nodes if last_layers is None else self.nodes[:last_layers]
        if not nodes and last_layers is not None:
            raise OnnxImportError("sonnx: last_layers={} leaves no node to run".format(
                last_layers))
        for node in nodes:
            values = []
            for name in node.inputs:
                if name == "":
                    values.append(None)
                elif name in env:
                    values.append(env[name])
                else:
                    raise node.error("input {!r} is produced by no earlier node".format(name))
            outs = HANDLERS[node.op_type](node, Inputs(node, values, self.device))
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, out in zip(node.outputs, outs):
                if name == "":
                    continue
                if isinstance(out, HostValue):
                    env[name] = _Value(name, host=out.array)
                else:
                    env[name] = _Value(name, tensor=out)
        result = {}
        names = self.output_names if last_layers is None else [nodes[-1].outputs[0]]
        for name in list(names) + [n for n in aux_output if n not in names]:
            if name not in env:
                raise OnnxImportError("sonnx: {!r} is not a value of the graph".format(name))
            v = env[name]
            result[name] = v.tensor if v.tensor is not None else HostValue(v.host)
        return result


def output_array(value):
    """A run() result as NumPy."""
    if isinstance(value, HostValue):
        return value.array
    return tensor_mod.to_numpy(value)
