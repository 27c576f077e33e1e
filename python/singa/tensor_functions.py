"""The module-level functions of ``singa.tensor`` (SINGA's tensor module functions).

They take and return :class:`~singa.tensor.Tensor` objects and are re-exported by
``singa.tensor``, so ``tensor.zeros``, ``tensor.sum`` and the rest are the names to use;
this file only keeps tensor.py to one concern (the class and its conversions).
"""

import math

import numpy as np

from . import singa_wrap as singa
from .errors import ArgumentError, named_entry

__all__ = ["zeros", "ones", "zeros_like", "ones_like", "random", "reshape", "transpose",
           "contiguous", "repeat", "concatenate", "copy_data_to_from", "abs", "exp", "ceil",
           "floor", "log", "sigmoid", "sign", "sqrt", "square", "tanh", "relu", "sum",
           "average", "softmax", "pow", "lt", "le", "gt", "ge", "eq", "add", "sub",
           "eltwise_mult", "div", "mult", "axpy", "bernoulli", "gaussian", "uniform",
           "add_column", "add_row", "sum_columns", "sum_rows", "tensordot", "einsum"]

# ------------------------------------------------------------------- creation

# singa.kFloat32 is tensor.float32 (the class's module cannot be imported from here
# before these definitions: see the import at the bottom).
@named_entry("zeros")
def zeros(shape, device=None, dtype=singa.kFloat32):
    return Tensor(_as_shape(shape), device, dtype)


@named_entry("ones")
def ones(shape, device=None, dtype=singa.kFloat32):
    t = Tensor(_as_shape(shape), device, dtype)
    t.set_value(1)
    return t


@named_entry("zeros_like")
def zeros_like(t):
    _tensor_arg(t, "t")
    return Tensor(t.shape, t.device, t.dtype)


@named_entry("ones_like")
def ones_like(t):
    _tensor_arg(t, "t")
    ret = Tensor(t.shape, t.device, t.dtype)
    ret.set_value(1)
    return ret


@named_entry("random")
def random(shape, device=None):
    """Uniform values in [0, 1)."""
    t = Tensor(_as_shape(shape), device)
    return t.uniform(0.0, 1.0)


# -------------------------------------------------------------- shape helpers

@named_entry("reshape")
def reshape(tensor, shape):
    """``tensor.reshape(shape)``: a Tensor of the same values in ``shape``."""
    _tensor_arg(tensor, "tensor")
    return tensor.reshape(shape)


@named_entry("transpose")
def transpose(t, axes=None):
    _tensor_arg(t, "t")
    return t.transpose(axes)


@named_entry("contiguous")
def contiguous(tensor):
    """``tensor.contiguous()``: the values laid out row-major in fresh memory."""
    _tensor_arg(tensor, "tensor")
    return tensor.contiguous()


@named_entry("repeat")
def repeat(t, repeats, axis=None):
    reps = [repeats] if isinstance(repeats, int) else list(repeats)
    if any(isinstance(r, int) and r < 0 for r in reps):
        raise ArgumentError("repeats must be >= 0, got {!r}".format(repeats))
    return _wrap(singa.Repeat(_tensor_arg(t, "t"), reps, axis), t)


@named_entry("concatenate")
def concatenate(tensors, axis):
    """Joins tensors along ``axis``."""
    return _wrap(singa.ConcatOn([_tensor_arg(x, "tensors[{}]".format(i))
                                 for i, x in enumerate(tensors)], axis))


@named_entry("copy_data_to_from")
def copy_data_to_from(dst, src, size, dst_offset=0, src_offset=0):
    """Copies ``size`` values from src (flat, from src_offset) into dst."""
    for what, n in (("size", size), ("dst_offset", dst_offset), ("src_offset", src_offset)):
        if isinstance(n, int) and n < 0:
            raise ArgumentError("{} must be >= 0, got {}".format(what, n))
    singa.CopyDataToFrom(_tensor_arg(dst, "dst"), _tensor_arg(src, "src"), size, dst_offset,
                         src_offset)


# -------------------------------------------------------- element-wise math

def _unary(name, fn):
    @named_entry(name)
    def f(t):
        return _wrap(fn(_tensor_arg(t, "t")), t)
    f.__name__ = f.__qualname__ = name
    return f


abs = _unary("abs", singa.Abs)
exp = _unary("exp", singa.Exp)
ceil = _unary("ceil", singa.Ceil)
floor = _unary("floor", singa.Floor)
log = _unary("log", singa.Log)
sigmoid = _unary("sigmoid", singa.Sigmoid)
sign = _unary("sign", singa.Sign)
sqrt = _unary("sqrt", singa.Sqrt)
square = _unary("square", singa.Square)
tanh = _unary("tanh", singa.Tanh)
relu = _unary("relu", singa.ReLU)


def _out(ret, value):
    """Stores ``value`` (a core tensor) in ``ret`` when given, else wraps it."""
    if ret is None:
        return _wrap(value)
    ret.data.CopyData(value)
    return ret


@named_entry("sum")
def sum(t, axis=None, out=None):
    """Sum of the elements along ``axis`` (an int or a tuple of ints).

    Without an axis it sums everything into a Tensor of shape (1, 1), as SINGA's does
    (``float(tensor.sum(t))`` gives the number). ``out``, when given, receives the result
    and is returned.
    """
    _tensor_arg(t, "t")
    if axis is None:
        return _out(out, singa.Reshape(singa.ReduceSum(t.data, None, False), [1, 1]))
    axes = list(axis) if isinstance(axis, (tuple, list)) else axis
    return _out(out, singa.ReduceSum(t.data, axes, False))


@named_entry("average")
def average(t, axis=None):
    """Mean of all elements (a float) or along ``axis``."""
    _tensor_arg(t, "t")
    if axis is None:
        return singa.SumAll(t.data) / max(1, t.size())
    return _wrap(singa.ReduceMean(t.data, axis, False))


@named_entry("softmax")
def softmax(t, out=None, axis=1):
    """Softmax along ``axis`` (1 by default, SINGA's convention for (N, C) inputs)."""
    return _out(out, singa.SoftMax(_tensor_arg(t, "t"), axis if t.ndim() > 1 else 0))


@named_entry("pow")
def pow(t, x, out=None):
    """t ** x for a float or Tensor exponent."""
    return _out(out, singa.__pow__(_tensor_arg(t, "t"), _operand(x)))


@named_entry("lt")
def lt(t, x):
    _tensor_arg(t, "t")
    return t < x


@named_entry("le")
def le(t, x):
    _tensor_arg(t, "t")
    return t <= x


@named_entry("gt")
def gt(t, x):
    _tensor_arg(t, "t")
    return t > x


@named_entry("ge")
def ge(t, x):
    _tensor_arg(t, "t")
    return t >= x


@named_entry("eq")
def eq(t, x):
    _tensor_arg(t, "t")
    return t == x


def _elementwise(name, fn, lhs, rhs):
    """fn over two operands, either of which may be a Python number (SINGA's functions
    take ``2.0 - t`` as well as ``t - 2.0``): a number becomes a 0-d tensor on the other
    operand's device, which the core broadcasts."""
    if not isinstance(lhs, Tensor):
        if not isinstance(rhs, Tensor):
            raise ArgumentError("{}: at least one operand must be a Tensor, got {} and {}"
                                .format(name, type(lhs).__name__, type(rhs).__name__))
        return fn(_scalar_like(lhs, rhs.data), rhs.data)
    return fn(lhs.data, _operand(rhs))


# The values of each narrow integer dtype; a whole number outside a dtype's range makes
# an int64 scalar, so the op promotes instead of wrapping it (with bool, every one does:
# NumPy's bool + 1 is an integer).
_RANGES = {singa.kBool: (0, -1), singa.kUChar: (0, 255), singa.kInt: (-2**31, 2**31 - 1)}


def _scalar_like(x, like):
    """x as a 0-d tensor of like's dtype and device (float32 when like holds integers
    or bools and x is not a whole number, so 0.5 is not truncated to 0; int64 for a whole
    number outside like's range)."""
    v = float(x)
    dt = like.data_type()
    integral = (singa.kInt, singa.kInt64, singa.kUChar, singa.kBool)
    if dt in integral and not (math.isfinite(v) and v == int(v)):
        dt = singa.kFloat32
    elif dt in _RANGES and not _RANGES[dt][0] <= v <= _RANGES[dt][1]:
        dt = singa.kInt64
    s = singa.Tensor([], like.device(), dt)
    s.SetValue(v)
    return s


@named_entry("add")
def add(lhs, rhs, ret=None):
    return _out(ret, _elementwise("add", singa.__add__, lhs, rhs))


@named_entry("sub")
def sub(lhs, rhs, ret=None):
    return _out(ret, _elementwise("sub", singa.__sub__, lhs, rhs))


@named_entry("eltwise_mult")
def eltwise_mult(lhs, rhs, ret=None):
    return _out(ret, _elementwise("eltwise_mult", singa.__mul__, lhs, rhs))


@named_entry("div")
def div(lhs, rhs, ret=None):
    return _out(ret, _elementwise("div", singa.__div__, lhs, rhs))


@named_entry("mult")
def mult(A, B, C=None, alpha=1.0, beta=0.0):
    """Matrix product A @ B, or C = alpha * A @ B + beta * C when C is given."""
    a, b = _tensor_arg(A, "A"), _tensor_arg(B, "B")
    if C is None:
        return _wrap(singa.Mult(a, b))
    singa.MultWithScale(_number(alpha, "alpha"), a, b, _number(beta, "beta"),
                        _tensor_arg(C, "C"))
    return C


@named_entry("axpy")
def axpy(alpha, x, y):
    """y += alpha * x (in place); returns y."""
    singa.Axpy(_number(alpha, "alpha"), _tensor_arg(x, "x"), _tensor_arg(y, "y"))
    return y


@named_entry("bernoulli")
def bernoulli(p, t):
    _tensor_arg(t, "t")
    return t.bernoulli(p)


@named_entry("gaussian")
def gaussian(mean, std, t):
    _tensor_arg(t, "t")
    return t.gaussian(mean, std)


@named_entry("uniform")
def uniform(low, high, t):
    _tensor_arg(t, "t")
    return t.uniform(low, high)


@named_entry("add_column")
def add_column(alpha, v, beta, M):
    """M = alpha * v (as a column, broadcast) + beta * M."""
    singa.AddColumnWithScale(_number(alpha, "alpha"), _number(beta, "beta"),
                             _tensor_arg(v, "v"), _tensor_arg(M, "M"))
    return M


@named_entry("add_row")
def add_row(alpha, v, beta, M):
    """M = alpha * v (as a row, broadcast) + beta * M."""
    singa.AddRowWithScale(_number(alpha, "alpha"), _number(beta, "beta"),
                          _tensor_arg(v, "v"), _tensor_arg(M, "M"))
    return M


@named_entry("sum_columns")
def sum_columns(M):
    """Sums the columns of a matrix: one value per row."""
    return _wrap(singa.SumColumns(_tensor_arg(M, "M")))


@named_entry("sum_rows")
def sum_rows(M):
    """Sums the rows of a matrix: one value per column."""
    return _wrap(singa.SumRows(_tensor_arg(M, "M")))


@named_entry("tensordot")
def tensordot(A, B, axes=2):
    """NumPy ``tensordot``: contracts the last ``axes`` axes of A with the first of B
    (or the explicit axis lists ``axes=(a_axes, b_axes)``)."""
    _tensor_arg(A, "A")
    _tensor_arg(B, "B")
    if isinstance(axes, int):
        if not 0 <= axes <= min(A.ndim(), B.ndim()):
            raise ArgumentError("axes={} does not fit A {} and B {}: it must be in 0..{}".format(
                axes, A.shape, B.shape, min(A.ndim(), B.ndim())))
        a_axes = list(range(A.ndim() - axes, A.ndim()))
        b_axes = list(range(axes))
    else:
        a_axes, b_axes = [list(x) if not isinstance(x, int) else [x] for x in axes]
    if len(a_axes) != len(b_axes):
        raise ArgumentError("tensordot: {} axes of A {} and {} of B {} to contract; the lists must "
                         "have the same length".format(len(a_axes), A.shape, len(b_axes), B.shape))
    for what, axs, t in (("A", a_axes, A), ("B", b_axes, B)):
        for ax in axs:
            if not -t.ndim() <= ax < t.ndim():
                raise IndexError("tensordot: axis {} is out of range for {} of shape {}".format(
                    ax, what, t.shape))
    a_axes = [a % A.ndim() for a in a_axes]
    b_axes = [b % B.ndim() for b in b_axes]
    for a, b in zip(a_axes, b_axes):
        if A.shape[a] != B.shape[b]:
            raise ArgumentError("tensordot: shape mismatch on contracted axes: {} (axis {}) vs {} "
                             "(axis {})".format(A.shape, a, B.shape, b))
    a_free = [i for i in range(A.ndim()) if i not in a_axes]
    b_free = [i for i in range(B.ndim()) if i not in b_axes]
    k = product([A.shape[i] for i in a_axes])
    a2 = A.transpose(a_free + a_axes).reshape((product([A.shape[i] for i in a_free]), k))
    b2 = B.transpose(b_axes + b_free).reshape((k, product([B.shape[i] for i in b_free])))
    out_shape = [A.shape[i] for i in a_free] + [B.shape[i] for i in b_free]
    return mult(a2, b2).reshape(out_shape)


@named_entry("einsum")
def einsum(ops, *args):
    """Einstein summation over Tensors (computed with NumPy on the host)."""
    cores = [_tensor_arg(a, "operand {}".format(i)) for i, a in enumerate(args)]
    for i, c in enumerate(cores[1:], 1):
        if c.device().id() != cores[0].device().id():
            raise singa.DeviceError("operand {} is on device id {} and operand 0 on id {}; "
                                    "move them to one device".format(
                                        i, c.device().id(), cores[0].device().id()))
    arrays = [to_numpy_view(a) for a in args]
    res = np.einsum(ops, *arrays)
    dev = args[0].device if args else None
    return from_numpy(np.asarray(res, order="C"), dev)  # 0-d stays 0-d


# Bound last on purpose: tensor.py re-exports this module's functions from its own last
# line, so whichever of the two modules is imported first, every function above exists
# before the other module asks for it, and these names exist before any function runs.
from .tensor import (Tensor, _as_shape, _number, _operand, _tensor_arg, _wrap,  # noqa: E402
                     from_numpy, product, to_numpy_view)
