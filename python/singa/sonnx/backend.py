"""SingaBackend: onnx's backend API over singa (``prepare`` -> SingaRep, ``run_node``,
``supports_device``)."""

import numpy as np

from .. import device as device_mod
from ..tensor import Tensor
from .common import OnnxImportError
from .graph import OnnxGraph, output_array, to_tensor
from .registry import HostValue

try:  # the base classes are onnx's; without onnx, sonnx cannot import anyway
    from onnx.backend.base import Backend, BackendRep
except ImportError:  # pragma: no cover - onnx is an optional extra
    Backend, BackendRep = object, object

__all__ = ["SingaBackend", "SingaRep", "prepare", "run_node", "run_model", "supports_device",
           "load_model"]


def _device_for(dev):
    """A singa Device for onnx's device string ('CPU', 'CUDA', 'CUDA:1') or a Device."""
    if dev is None or not isinstance(dev, str):
        return dev if dev is not None else device_mod.get_default_device()
    kind, _, index = dev.upper().partition(":")
    if kind == "CPU":
        return device_mod.get_default_device()
    if kind == "CUDA":
        return device_mod.create_cuda_gpu_on(int(index or 0))
    raise OnnxImportError("sonnx: unknown device {!r} (use 'CPU' or 'CUDA[:n]')".format(dev))


def load_model(model):
    """An onnx.ModelProto from a ModelProto, path or bytes, checked by onnx.checker
    (whose message a malformed model's error carries)."""
    import onnx
    if isinstance(model, (str, bytes)) and not isinstance(model, onnx.ModelProto):
        try:
            model = onnx.load_model_from_string(model) if isinstance(model, bytes) \
                else onnx.load(model)
        except Exception as e:  # protobuf's DecodeError and friends
            raise OnnxImportError("sonnx: cannot read the ONNX model: {}".format(e)) from e
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise OnnxImportError("sonnx: the ONNX model is malformed: {}".format(e)) from e
    return model


class SingaRep(BackendRep):
    """A prepared model: ``run(inputs)`` takes a list (in graph-input order) or a dict of
    NumPy arrays (and returns a list of NumPy arrays) or of singa Tensors (and returns
    Tensors)."""

    def __init__(self, graph):
        self.graph = graph

    @property
    def input_names(self):
        return list(self.graph.input_names)

    @property
    def output_names(self):
        return list(self.graph.output_names)

    def params(self):
        """The model's float initializers as {name: Tensor}."""
        return self.graph.params()

    def run(self, inputs, last_layers=None, aux_output=(), **kwargs):
        """Runs the graph. ``inputs``: arrays or Tensors in graph-input order (or a dict by
        name); arrays give arrays back, Tensors give Tensors. ``last_layers`` (SINGA's):
        run only the nodes before that index, returning the last one's output;
        ``aux_output``: names of intermediate values returned after the outputs."""
        if kwargs:
            raise TypeError("SingaRep.run: unexpected keyword argument(s) {}".format(
                sorted(kwargs)))
        if isinstance(inputs, dict):
            feeds = dict(inputs)
            values = list(feeds.values())
        else:
            values = [inputs] if isinstance(inputs, (np.ndarray, Tensor)) else list(inputs)
            names = self.graph.input_names
            if len(values) != len(names):
                raise OnnxImportError("sonnx: the graph takes {} inputs ({}), got {}".format(
                    len(names), names, len(values)))
            feeds = dict(zip(names, values))
        as_tensors = bool(values) and all(isinstance(v, Tensor) for v in values)
        outs = self.graph.run(feeds, last_layers, tuple(aux_output))
        result = []
        for name, v in outs.items():
            if as_tensors:
                result.append(to_tensor(v.array, self.graph.device, name)
                              if isinstance(v, HostValue) else v)
            else:
                result.append(output_array(v))
        return result


class SingaBackend(Backend):
    """onnx.backend.base.Backend running ONNX models through singa autograd."""

    @classmethod
    def supports_device(cls, device):
        kind = str(device).upper().partition(":")[0]
        if kind == "CPU":
            return True
        if kind == "CUDA":
            return device_mod.get_num_gpus() > 0
        return False

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        """Checks the model, names every unsupported operator at once and returns a
        SingaRep whose float initializers are trainable Tensors on ``device``."""
        model = load_model(model)
        return SingaRep(OnnxGraph(model, _device_for(device),
                                  trainable=kwargs.get("trainable", True)))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", opset_version=None, outputs_info=None,
                 **kwargs):
        """Runs one NodeProto on ``inputs`` (arrays in the node's input order) under
        ``opset_version`` (onnx's newest by default); returns the outputs as arrays."""
        from onnx import helper
        arrays = [np.asarray(x) for x in inputs]
        names = [n for n in node.input if n]
        graph_inputs = [helper.make_tensor_value_info(
            n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in zip(names, arrays)]
        graph_outputs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        graph = helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opsets = [helper.make_opsetid("", opset_version)] if opset_version else None
        model = helper.make_model(graph, opset_imports=opsets)
        rep = SingaRep(OnnxGraph(model, _device_for(device)))
        return rep.run(dict(zip(names, arrays)))


prepare = SingaBackend.prepare
run_node = SingaBackend.run_node
run_model = SingaBackend.run_model
supports_device = SingaBackend.supports_device
