"""The table of ONNX operator handlers.

A handler takes (node, inputs) - an OnnxNode and an Inputs view - and returns the
node's outputs: singa Tensors made by autograd Operations, or HostValue for values
that are known on the host without computing (a Constant, a tensor's shape).
"""

import importlib

__all__ = ["HANDLERS", "HostValue", "register", "get_op", "load_handlers"]

HANDLERS = {}
_HANDLER_MODULES = ("ops_math", "ops_nn", "ops_shape", "ops_loss", "ops_resize",
                    "ops_attention", "ops_window", "ops_rnn", "ops_index",
                    "ops_logic", "ops_rotary", "ops_quant", "ops_einsum",
                    "ops_nd", "ops_grid")


class HostValue(object):
    """A value known on the host (NumPy)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def register(*op_types):
    """Decorator: the function handles these ONNX op types."""
    def wrap(fn):
        for op in op_types:
            HANDLERS[op] = fn
        return fn
    return wrap


def load_handlers():
    for mod in _HANDLER_MODULES:
        importlib.import_module("singa.sonnx." + mod)


def get_op(op_type):
    """The handler of an ONNX op type (KeyError naming it when there is none)."""
    load_handlers()
    try:
        return HANDLERS[op_type]
    except KeyError:
        raise KeyError("sonnx has no handler for ONNX operator {!r}".format(op_type)) from None
