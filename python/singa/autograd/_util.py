"""Small helpers shared by the operation modules."""

from .. import singa_wrap as singa
from ..errors import ArgumentError
from ..tensor import Tensor
from .engine import Dummy

__all__ = ["sum_to", "full_like", "zeros", "check_same_shape", "is_float", "is_constant"]

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
