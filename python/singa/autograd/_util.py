"""Small helpers shared by the operation modules."""

from .. import singa_wrap as singa
from ..errors import ArgumentError, ArgumentTypeError
from ..tensor import Tensor
from .engine import Dummy

__all__ = ["sum_to", "full_like", "zeros", "check_same_shape", "is_float", "is_constant",
           "as_float", "axis_helper", "back_broadcast", "ctensor2numpy"]

CTensor = singa.Tensor


def sum_to(dx, shape):
    """Sums a broadcast gradient back down to ``shape``."""
    shape = tuple(shape)
    if dx.shape() == shape:
        return dx
    return singa.SumToShape(dx, list(shape))


def full_like(t, value):
    out = CTensor(list(t.shape()), t.device(), t.data_type())
    out.SetValue(float(value))
    return out


def zeros(shape, like):
    out = CTensor(list(shape), like.device(), like.data_type())
    out.SetValue(0.0)
    return out


def check_same_shape(op, a, b, what="inputs"):
    if a.shape() != b.shape():
        raise ArgumentError("{}: {} must have the same shape, got {} and {}".format(
            op, what, a.shape(), b.shape()))


def is_float(t):
    return t.data_type() in (singa.kFloat32, singa.kDouble, singa.kFloat16)


def is_constant(t):
    """Whether no gradient can reach or pass through t: anything but a Tensor, or a leaf
    (data, labels) that requires or stores none. SINGA takes such operands (a loss's
    target, scatter's updates) in an Operation's constructor rather than as inputs."""
    if not isinstance(t, Tensor) or not t.requires_grad:
        return True
    c = t._creator
    return not t.stores_grad and (c is None or isinstance(c, Dummy))


def as_float(op, what, x):
    """float(x) for an Operation's numeric parameter; TypeError naming the op otherwise
    (float() would read a string, and its ValueError would blame the value's format)."""
    if isinstance(x, (str, bytes)) or x is None:
        raise ArgumentTypeError("{}: {} must be a number, got {!r}".format(op, what, x))
    return float(x)


def _shape_arg(function, what, shape):
    if not isinstance(shape, (tuple, list)):
        raise TypeError("{}: {} must be a shape (a tuple of ints), got {!r}".format(
            function, what, shape))
    return shape


def _core_arg(function, x):
    if not isinstance(x, CTensor):
        raise TypeError("{}: x must be a core tensor (singa_wrap.Tensor, e.g. a Tensor's "
                        ".data), got {}".format(function, type(x).__name__))
    return x


# SINGA's public helpers for custom Operations.

def axis_helper(y_shape, x_shape):
    """The axes of y_shape along which a tensor of x_shape was broadcast to it (NumPy
    rules: shapes align on the right), as a tuple."""
    _shape_arg("axis_helper", "y_shape", y_shape)
    _shape_arg("axis_helper", "x_shape", x_shape)
    offset = len(y_shape) - len(x_shape)
    return tuple(i for i, n in enumerate(y_shape)
                 if i < offset or x_shape[i - offset] != n)


def back_broadcast(y_shape, x_shape, x):
    """Core tensor x of y_shape summed back to x_shape (the gradient of a broadcast)."""
    _core_arg("back_broadcast", x)
    if tuple(y_shape) != tuple(x.shape()):
        raise ArgumentError("back_broadcast: x has shape {}, not y_shape {}"
                            .format(x.shape(), tuple(y_shape)))
    return sum_to(x, x_shape)


def ctensor2numpy(x):
    """A NumPy copy of core tensor x's values."""
    return singa.to_numpy(singa.Contiguous(_core_arg("ctensor2numpy", x))).copy()
