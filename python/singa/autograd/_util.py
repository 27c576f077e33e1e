"""Small helpers shared by the operation modules."""

from .. import singa_wrap as singa
from ..errors import ArgumentError

__all__ = ["sum_to", "full_like", "zeros", "check_same_shape", "is_float"]

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
