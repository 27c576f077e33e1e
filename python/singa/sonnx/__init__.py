"""ONNX import and export (SINGA's ``singa.sonnx``).

Import: ``prepare(model, device)`` returns a SingaRep whose ``run(inputs)`` executes the
graph through singa autograd Operations (so an imported model can be trained);
``SingaBackend`` is onnx's backend API over it and ``SONNXModel`` a ``model.Model``
built from a graph. Export: ``to_onnx``/``save`` (see sonnx.export).
Needs the ``onnx`` package (``pip install ".[onnx]"``).
"""

from .. import device as _device
from .backend import SingaBackend, SingaRep, load_model, prepare, run_model, run_node, \
    supports_device
from .common import (NP_TYPE_TO_SINGA_SUPPORT_TYPE, OnnxAttributes, OnnxImportError, OnnxNode,
                     UnsupportedOperatorError, onnx_type_to_singa_type)
from .export import SingaFrontend, register_export, save, to_onnx
from .model import SONNXModel
from .registry import get_op

__all__ = ["SingaBackend", "SingaRep", "SONNXModel", "prepare", "run_node", "run_model",
           "supports_device", "get_op", "load", "load_model", "save", "to_onnx",
           "register_export", "SingaFrontend", "OnnxNode", "OnnxAttributes",
           "onnx_type_to_singa_type", "NP_TYPE_TO_SINGA_SUPPORT_TYPE", "OnnxImportError",
           "UnsupportedOperatorError", "gpu_dev", "cpu_dev"]

# SINGA's sonnx loads with onnx.load and keeps a CPU (and, with CUDA, a GPU) device.
load = load_model
cpu_dev = _device.get_default_device()


def __getattr__(name):
    # The GPU device is created only when asked for (import must work without a driver);
    # as in SINGA it is None where there is no GPU.
    if name == "gpu_dev":
        return _device.create_cuda_gpu() if _device.get_num_gpus() > 0 else None
    raise AttributeError("module 'singa.sonnx' has no attribute {!r}".format(name))
