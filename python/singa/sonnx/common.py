"""What every part of the importer shares: node and attribute views, dtype maps and
the errors an import raises."""

import numpy as np

from .. import tensor as tensor_mod
from ..errors import ArgumentError

__all__ = ["OnnxNode", "OnnxAttributes", "onnx_type_to_singa_type",
           "NP_TYPE_TO_SINGA_SUPPORT_TYPE", "UnsupportedOperatorError", "OnnxImportError"]

# NumPy dtypes the core stores as they are: singa.tensor's tables, SINGA's four and the
# int64, uint8 and bool it reads natively (kept as they are, not narrowed to int32).
NP_TYPE_TO_SINGA_SUPPORT_TYPE = dict(tensor_mod._NP_TO_DTYPE)
NP_TYPE_TO_SINGA_SUPPORT_TYPE.update(getattr(tensor_mod, "_NP_NATIVE", {}))


class OnnxImportError(ArgumentError):
    """An ONNX graph that cannot be imported or run as given (bad attribute, missing
    constant input, unsupported dtype), with the node it concerns in the message."""


class UnsupportedOperatorError(OnnxImportError):
    """A graph uses operators the importer has no handler for.

    Attributes:
        missing: list of (op_type, opset, node_name) for every unsupported node.
    """

    def __init__(self, missing):
        self.missing = list(missing)
        lines = ["  {} (opset {}) at node {!r}".format(op, ver, name or "<unnamed>")
                 for op, ver, name in self.missing]
        super().__init__("sonnx: {} node(s) use operators singa cannot import:\n{}".format(
            len(self.missing), "\n".join(lines)))


def onnx_type_to_singa_type(onnx_type):
    """The singa dtype (tensor.float32, ...) for an ONNX TensorProto element type.

    Raises:
        TypeError: for element types the core has no dtype for (int64, bool, strings, ...).
    """
    from onnx import helper
    np_type = np.dtype(helper.tensor_dtype_to_np_dtype(onnx_type))
    if np_type not in NP_TYPE_TO_SINGA_SUPPORT_TYPE:
        raise TypeError("ONNX element type {} ({}) has no singa dtype; singa stores {}".format(
            onnx_type, np_type, ", ".join(str(d) for d in NP_TYPE_TO_SINGA_SUPPORT_TYPE)))
    return NP_TYPE_TO_SINGA_SUPPORT_TYPE[np_type]


class OnnxAttributes(dict):
    """A node's attributes as Python values (ints, floats, strings as str, tensors as
    NumPy arrays, lists of those)."""

    @classmethod
    def from_onnx(cls, args):
        """The attributes of a NodeProto (its ``attribute`` field)."""
        from onnx import helper, numpy_helper
        out = cls()
        for attr in args:
            value = helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8") for v in value]
            elif hasattr(value, "data_type") and hasattr(value, "dims"):
                value = numpy_helper.to_array(value)
            out[attr.name] = value
        return out


class OnnxNode(object):
    """One ONNX node: its op type, name, inputs and outputs (names; "" marks an omitted
    optional one), attributes, domain and the opset version it is read under."""

    def __init__(self, node, opset=None):
        self.name = str(node.name)
        self.op_type = str(node.op_type)
        self.domain = str(node.domain)
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.attrs = OnnxAttributes.from_onnx(node.attribute)
        self.opset = opset
        self.node = node
        # Set by the graph: which outputs a later node or the graph's outputs read.
        self.used_outputs = [bool(name) for name in self.outputs]

    def uses_output(self, i):
        """Whether output i is named and read (an unread mask needs no computing)."""
        return i < len(self.used_outputs) and self.used_outputs[i]

    def getattr(self, key, default=None):
        """Attribute ``key``, or ``default`` when the node does not set it."""
        return self.attrs.get(key, default)

    def describe(self):
        return "{} (node {!r}, opset {})".format(self.op_type, self.name or "<unnamed>",
                                                 self.opset)

    def error(self, message):
        return OnnxImportError("{}: {}".format(self.describe(), message))
