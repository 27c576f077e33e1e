"""Python Tensor over the core tensor (SINGA's ``singa.tensor``).

A :class:`Tensor` wraps a core tensor (``.data``, a ``singa_wrap.Tensor``) and
carries the attributes autograd uses: ``creator``, ``requires_grad``,
``stores_grad`` and ``name``. Arithmetic on Tensors is not recorded by
autograd; use the functions in :mod:`singa.autograd` for differentiable code.
"""

import builtins  # this module defines its own sum, abs and pow (SINGA's names)

import numpy as np

from . import singa_wrap as singa
from . import tensor_interop as _interop
from .device import get_default_device
from .errors import ArgumentError, ArgumentTypeError, named_entry

__all__ = ["float32", "float16", "int32", "float64", "bfloat16", "int64", "uint8", "bool_",
           "Tensor", "set_leaf_creator",
           "from_raw_tensor", "from_raw_tensors", "product", "sizeof", "from_numpy",
           "copy_from_numpy", "to_host", "to_numpy", "to_numpy_view", "zeros", "ones",
           "zeros_like", "ones_like", "random", "reshape", "transpose", "contiguous", "repeat",
           "concatenate", "copy_data_to_from", "abs", "exp", "ceil", "floor", "log", "sigmoid",
           "sign", "sqrt", "square", "tanh", "relu", "sum", "average", "softmax", "pow", "lt",
           "le", "gt", "ge", "eq", "add", "sub", "eltwise_mult", "div", "mult", "axpy",
           "bernoulli", "gaussian", "uniform", "add_column", "add_row", "sum_columns",
           "sum_rows", "tensordot", "einsum", "PlaceHolder", "from_dlpack"]

float32 = 0
float16 = 1
int32 = 2
float64 = 4
# Ours (SINGA has none). NumPy has no bfloat16: to_numpy gives float32 (exact), and NumPy
# data becomes bfloat16 through a dtype=bfloat16 Tensor or as_type(bfloat16).
bfloat16 = 6
# SINGA's kUChar value; int64 and bool are ours (ONNX graphs use them for shapes, indices
# and masks). The bool dtype is ``bool_`` (NumPy's spelling) so it does not hide Python's
# bool in this module; ``tensor.bool`` is the same constant (module __getattr__ below).
uint8 = 5
int64 = 7
bool_ = 8

CTensor = singa.Tensor

_NP_TO_DTYPE = {np.dtype(np.float32): float32, np.dtype(np.float16): float16,
                np.dtype(np.int32): int32, np.dtype(np.float64): float64}
# NumPy dtypes the core reads as they are; from_numpy(keep_dtype=True) keeps them.
_NP_NATIVE = {np.dtype(np.int64): int64, np.dtype(np.uint8): uint8, np.dtype(np.bool_): bool_}
# The NumPy dtype of each dtype's to_numpy arrays.
_DTYPE_TO_NP = {float32: np.float32, float16: np.float16, int32: np.int32, float64: np.float64,
                bfloat16: np.float32, int64: np.int64, uint8: np.uint8, bool_: np.bool_}
_DTYPE_NAMES = {float32: "float32", float16: "float16", int32: "int32", float64: "float64",
                bfloat16: "bfloat16", int64: "int64", uint8: "uint8", bool_: "bool"}


def __getattr__(name):
    if name == "bool":
        return bool_
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))


def _check_dtype(dtype):
    if dtype not in _DTYPE_TO_NP:
        raise TypeError("unsupported dtype {!r}; use tensor.float32, float16, bfloat16, int32, "
                        "int64, uint8, bool_ or float64".format(dtype))
    return dtype


class Tensor(object):
    """An n-dimensional array on a device.

    Args:
        shape: tuple of ints (ignored when ``data`` is given).
        device: a Device; the default (CPU) device when None.
        dtype: float32 (default), float16, bfloat16, int32, int64, uint8, bool_ or float64.
        data: a NumPy array to copy, or a core tensor to wrap.
        requires_grad: whether autograd should compute a gradient for it.
        stores_grad: whether ``autograd.backward`` yields its gradient (parameters).
        creator: the Operation that produced it (``Dummy`` for leaves).
        name: a name, used by layers for parameter names.

    Attributes:
        tensor_count: (class attribute) how many unnamed Tensors have been made so far,
            by the constructor or a tensor function; SINGA numbers its ``Dummy#N`` names
            with it. Operation outputs are not counted (SINGA names them after the op).
    """

    tensor_count = 0

    def __init__(self, shape=(), device=None, dtype=float32, data=None, requires_grad=True,
                 stores_grad=False, creator=None, name=None):
        if device is None:
            device = get_default_device()
        elif not isinstance(device, singa.Device):
            raise TypeError("Tensor: device must be a Device (e.g. device.get_default_device()), "
                            "got {!r}".format(device))
        if isinstance(data, np.ndarray):
            self.data = CTensor(list(data.shape), device, _check_dtype(dtype))
            copy_from_numpy(self.data, data)
        elif isinstance(data, CTensor):
            self.data = data
            if data.device() != device:
                self.data = data.Clone()
                self.data.ToDevice(device)
        elif data is not None:
            raise TypeError("Tensor: data must be a NumPy array or a core tensor, got {}"
                            .format(type(data).__name__))
        else:
            shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
            if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                       for n in shape):
                raise ArgumentTypeError("Tensor: a shape is a tuple of ints, got {!r}"
                                        .format(shape))
            self.data = CTensor(list(shape), device, _check_dtype(dtype))
            # Zero-filled, as SINGA's are: a user's tensor never shows stale memory
            # (op outputs are core tensors and skip this).
            self.data.SetValue(0.0)
        self.requires_grad = requires_grad
        self.stores_grad = stores_grad
        self.name = name
        if name is None:
            Tensor.tensor_count += 1
        self._creator = creator

    # ---- attributes ----
    @property
    def creator(self):
        """The Operation that produced this tensor; for a leaf, its ``autograd.Dummy``
        (made on first use, by the factory autograd registers: this module sits below
        autograd and does not import it)."""
        c = self._creator
        if c is None and _leaf_creator is not None:
            c = self._creator = _leaf_creator(self)
        return c

    @creator.setter
    def creator(self, op):
        self._creator = op

    @property
    def shape(self):
        return self.data.shape()

    @property
    def device(self):
        return self.data.device()

    @property
    def dtype(self):
        return self.data.data_type()

    def ndim(self):
        """Number of dimensions."""
        return self.data.nDim()

    def is_dummy(self):
        """Whether this is an unnamed leaf (SINGA names those ``Dummy#N``): a tensor made
        by the user rather than by an operation, and not a named parameter."""
        c = self._creator
        return self.name is None and (c is None or getattr(c, "tensor", None) is self)

    def is_empty(self):
        return self.size() == 0

    def is_transpose(self):
        return self.data.transpose()

    def size(self):
        """Number of elements."""
        return self.data.Size()

    def memsize(self):
        """Bytes the elements occupy."""
        return self.data.MemSize()

    # ---- shape ----
    def reshape(self, shape):
        """Returns a Tensor of the given shape (a view when the data is contiguous)."""
        return _wrap(singa.Reshape(self.data, list(_as_shape(shape))), self)

    def transpose(self, axes=None):
        """Returns a transposed view (all axes reversed when ``axes`` is None)."""
        if axes is None:
            return _wrap(singa.DefaultTranspose(self.data), self)
        return _wrap(singa.Transpose(self.data, list(axes)), self)

    def T(self):
        return self.transpose()

    def contiguous(self):
        """Returns a row-major contiguous Tensor (self's data when it already is)."""
        return _wrap(singa.Contiguous(self.data), self)

    def repeat(self, repeats, axis):
        """Repeats elements along ``axis`` (NumPy ``repeat``; ``axis=None`` flattens)."""
        return repeat(self, repeats, axis)

    # ---- type and device ----
    def as_type(self, dtype):
        """Returns a copy converted to ``dtype``: a dtype constant, or SINGA's names
        ``'int'`` (int32) and ``'float'`` (float32). Floats become integers truncated toward
        zero (NaN gives 0, int32/int64 saturate) and bools by ``x != 0``."""
        return _wrap(self.data.AsType(_dtype_arg(dtype)), self)

    def to_type(self, dtype):
        """Converts in place to ``dtype`` (as in ``as_type``) and returns self."""
        self.data.ToType(_dtype_arg(dtype))
        return self

    def to_device(self, device):
        """Moves the data to ``device`` in place."""
        self.data.ToDevice(device)

    def to_host(self):
        """Moves the data to the CPU in place."""
        self.data.ToHost()

    def reset_like(self, t):
        """Gives self fresh storage of t's shape, dtype and device."""
        self.data.ResetLike(t.data)

    # ---- values ----
    def l2(self):
        """sqrt(sum(x^2)) / size, as SINGA defines it."""
        return self.data.L2()

    def l1(self):
        """sum(|x|) / size, as SINGA defines it."""
        return self.data.L1()

    def set_value(self, x, inplace=True):
        """Sets every element to ``x``."""
        if inplace:
            self.data.SetValue(float(x))
            return self
        t = self.clone()
        t.data.SetValue(float(x))
        return t

    def copy_from_numpy(self, np_array, offset=0):
        """Copies a NumPy array's values into self (converting dtype)."""
        copy_from_numpy(self.data, np_array, offset)

    def copy_from(self, t, offset=0):
        """Copies the values of t (a Tensor or, as in SINGA, a NumPy array) into self,
        starting at ``offset`` (flat)."""
        if isinstance(t, np.ndarray):
            copy_from_numpy(self.data, t, offset)
            return
        if not isinstance(t, Tensor):
            raise TypeError("copy_from: t must be a Tensor or a NumPy array, got {}"
                            .format(type(t).__name__))
        copy_data_to_from(self, t, t.size(), offset, 0)

    def copy_data(self, t):
        """Copies t's values into self (same number of elements)."""
        self.data.CopyData(t.data)

    def clone(self):
        """A deep copy of the values (a new leaf)."""
        return _wrap(self.data.Clone(), self)

    def copy(self):
        """A shallow copy sharing the data."""
        return _wrap(self.data, self)

    def deepcopy(self):
        return self.clone()

    def numpy(self):
        """A NumPy view of the values (shares memory)."""
        return singa.to_numpy(self.data)

    # ---- random fills (in place) ----
    def bernoulli(self, p, inplace=True):
        singa.Bernoulli(float(p), self.data)
        return self

    def gaussian(self, mean, std, inplace=True):
        singa.Gaussian(float(mean), float(std), self.data)
        return self

    def uniform(self, low, high, inplace=True):
        singa.Uniform(float(low), float(high), self.data)
        return self

    # ---- matrix helpers (in place) ----
    def add_column(self, v):
        singa.AddColumn(v.data, self.data)
        return self

    def add_row(self, v):
        singa.AddRow(v.data, self.data)
        return self

    def div_column(self, v):
        singa.DivColumn(v.data, self.data)
        return self

    def div_row(self, v):
        singa.DivRow(v.data, self.data)
        return self

    def mult_column(self, v):
        singa.MultColumn(v.data, self.data)
        return self

    def mult_row(self, v):
        singa.MultRow(v.data, self.data)
        return self

    # ---- operators ----
    def __iadd__(self, x):
        self.data += _operand(x)
        return self

    def __isub__(self, x):
        self.data -= _operand(x)
        return self

    def __imul__(self, x):
        self.data *= _operand(x)
        return self

    def __itruediv__(self, x):
        self.data /= _operand(x)
        return self

    __idiv__ = __itruediv__

    def __add__(self, x):
        return _binary(singa.__add__, self, x)

    def __sub__(self, x):
        return _binary(singa.__sub__, self, x)

    def __mul__(self, x):
        return _binary(singa.__mul__, self, x)

    def __truediv__(self, x):
        return _binary(singa.__div__, self, x)

    __div__ = __truediv__

    def __floordiv__(self, x):
        return _wrap(_floordiv(self.data, _lift(x, self.data)), self)

    def __rfloordiv__(self, x):
        return _wrap(_floordiv(_lift(x, self.data), self.data), self)

    def __pow__(self, x):
        return _binary(singa.__pow__, self, x)

    def __radd__(self, x):
        return _binary(singa.__add__, self, x)

    def __rmul__(self, x):
        return _binary(singa.__mul__, self, x)

    def __rsub__(self, x):
        return _wrap(singa.RSubFloat(float(x), self.data), self)

    def __rtruediv__(self, x):
        return _wrap(singa.RDivFloat(float(x), self.data), self)

    __rdiv__ = __rtruediv__

    def __rpow__(self, x):
        return _wrap(singa.RPowFloat(float(x), self.data), self)

    def __neg__(self):
        return _wrap(singa.Neg(self.data), self)

    def __abs__(self):
        return _wrap(singa.Abs(self.data), self)

    def __lt__(self, x):
        return _binary(singa.__lt__, self, x)

    def __le__(self, x):
        return _binary(singa.__le__, self, x)

    def __gt__(self, x):
        return _binary(singa.__gt__, self, x)

    def __ge__(self, x):
        return _binary(singa.__ge__, self, x)

    def __eq__(self, x):
        if x is None:
            return False
        return _binary(singa.__eq__, self, x)

    def __ne__(self, x):
        if x is None:
            return True
        eq = singa.__eq__(self.data, _operand(x))
        return _wrap(singa.RSubFloat(1.0, eq), self)

    # Tensors are used as dictionary keys (optimizer states), so hash by identity.
    __hash__ = object.__hash__

    def __len__(self):
        if self.ndim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __getitem__(self, key):
        """Indexing with ints, slices (with steps), Ellipsis and None; returns a view."""
        return _wrap(_index(self.data, key), self)

    def __setitem__(self, key, value):
        view = _index(self.data, key)
        if isinstance(value, Tensor):
            src = value.data
        elif isinstance(value, np.ndarray):
            src = singa.from_numpy(np.ascontiguousarray(value))
        else:
            view.SetValue(float(value))
            return
        view.CopyData(singa.Broadcast(src, list(view.shape())) if src.shape() != view.shape() else src)

    def __repr__(self):
        return "Tensor(shape={}, dtype={}, device={})\n{}".format(
            self.shape, _DTYPE_NAMES.get(self.dtype, self.dtype), self.device.name(),
            np.array2string(to_numpy_view(self)))

    def __float__(self):
        """The value of a one-element tensor (e.g. ``float(tensor.sum(t))``)."""
        if self.size() != 1:
            raise TypeError("only one-element tensors convert to float; this one has shape {}"
                            .format(self.shape))
        return float(to_numpy_view(self).reshape(-1)[0])

    def __array__(self, dtype=None, copy=None):
        a = to_numpy(self) if copy else to_numpy_view(self)
        return a.astype(dtype) if dtype is not None else a

    # ---- zero-copy exchange (DLPack, the CUDA Array Interface): src/bind/bind_dlpack.cc ----
    def __dlpack__(self, stream=None, *, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor's memory (the Python array API standard), for
        ``np.from_dlpack``, ``torch.from_dlpack``, ``cupy.from_dlpack``: a versioned capsule
        when ``max_version >= (1, 0)``, else a legacy one. ``stream`` is the consumer's CUDA
        stream, made to wait for singa's work on this GPU (None or 1: the legacy default
        stream, 2: the per-thread default stream, -1: no synchronisation; None on the CPU).
        ``dl_device=(1, 0)`` asks for a host copy of a GPU tensor; ``copy=True`` exports a
        copy and ``copy=False`` refuses one. BufferError when the memory cannot be exported.
        """
        return self.data.__dlpack__(stream, max_version=max_version, dl_device=dl_device,
                                    copy=copy)

    def __dlpack_device__(self):
        """(DLPack device type, device id): (1, 0) for host memory, (2, ordinal) on a GPU."""
        return self.data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        """The CUDA Array Interface (version 3, with singa's stream) of a CUDA tensor, for
        CuPy and Numba; AttributeError on any other tensor, so no consumer takes host memory
        for device memory."""
        return self.data.__cuda_array_interface__


_DTYPE_WORDS = {"int": int32, "float": float32}


def _dtype_arg(dtype):
    """A dtype constant from a constant or one of SINGA's words for them."""
    if isinstance(dtype, str):
        if dtype not in _DTYPE_WORDS:
            raise TypeError("unsupported dtype {!r}; the names accepted are 'int' and 'float' "
                            "(or use tensor.float32, float16, int32, int64, uint8, bool_, "
                            "float64)".format(dtype))
        return _DTYPE_WORDS[dtype]
    return _check_dtype(dtype)


def _as_shape(shape):
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _wrap(ct, like=None):
    """A new leaf Tensor around core tensor ``ct``."""
    t = Tensor.__new__(Tensor)
    t.data = ct
    t.requires_grad = like.requires_grad if like is not None else True
    t.stores_grad = False
    t.name = None
    t._creator = None
    Tensor.tensor_count += 1
    return t


_leaf_creator = None


def set_leaf_creator(factory):
    """Registers ``factory(tensor) -> Operation``, the creator of leaf tensors
    (``autograd`` registers its ``Dummy`` when it is imported)."""
    global _leaf_creator
    if factory is not None and not callable(factory):
        raise TypeError("set_leaf_creator: factory must be callable (or None), got {!r}"
                        .format(factory))
    _leaf_creator = factory


def _operand(x):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, CTensor):
        return x
    if isinstance(x, (str, bytes)):
        # float() would read "2"; an operand is a Tensor or a number, never text
        raise ArgumentTypeError("an operand must be a Tensor or a number, got {} {!r}"
                                .format(type(x).__name__, x))
    return float(x)


def _tensor_arg(x, what):
    """x's core tensor; TypeError naming the argument when x is no Tensor (the callers'
    named_entry puts the function's name in front)."""
    if isinstance(x, Tensor):
        return x.data
    raise TypeError("{} must be a singa Tensor, got {}".format(what, type(x).__name__))


def _number(x, what):
    """float(x) for a number or anything with a value (a 1-element Tensor); TypeError
    naming the argument otherwise (float() would also read a string)."""
    if not isinstance(x, (str, bytes)) and x is not None:
        try:
            return float(x)
        except (TypeError, ValueError):
            pass
    raise ArgumentTypeError("{} must be a number, got {} {!r}".format(
        what, type(x).__name__, x))


def _binary(fn, a, b):
    return _wrap(fn(a.data, _operand(b)), a)


def _lift(x, like):
    """x as a core tensor: a Tensor's data, or a 0-d tensor on ``like``'s device (of
    like's integer dtype for an integral number with an int32/int64/uint8 ``like``, else
    float32)."""
    if isinstance(x, (Tensor, CTensor)):
        return _operand(x)
    v = float(x)
    ldt = like.data_type()
    dt = ldt if ldt in (int32, int64, uint8) and v == int(v) else float32
    s = CTensor([], like.device(), dt)
    s.SetValue(v)
    return s


def _floordiv(a, b):
    """NumPy's a // b on core tensors: floor(a / b); for integers the truncated quotient
    steps down where a remainder's sign differs from b's."""
    q = singa.__div__(a, b)
    if q.data_type() not in (int32, int64, uint8):
        return singa.Floor(q)
    r = singa.__sub__(a, singa.__mul__(q, b))
    opposite = singa.Xor(singa.LTFloat(r, 0.0), singa.LTFloat(b, 0.0))
    down = singa.And(singa.RSubFloat(1.0, singa.EQFloat(r, 0.0)), opposite)
    return singa.__sub__(q, down)


def _index(ct, key):
    """Applies a NumPy-style basic index to a core tensor, returning a view."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = [j for j, k in enumerate(key) if k is Ellipsis]
        if len(i) > 1:
            raise IndexError("an index can only have a single ellipsis")
        used = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
        fill = (slice(None),) * (ct.nDim() - used)
        key = key[:i[0]] + fill + key[i[0] + 1:]
    used = builtins.sum(1 for k in key if k is not None)
    if used > ct.nDim():
        raise IndexError("too many indices ({}) for a tensor of shape {}".format(used, ct.shape()))
    out = ct
    axis = 0     # of the output being built
    in_axis = 0  # of the input, for messages
    for k in key:
        if k is None:
            out = out.Unsqueeze(axis)
            axis += 1
        elif isinstance(k, slice):
            # The core's Slice follows Python's slice rules (None, negative bounds, steps).
            out = out.Slice(axis, k.start, k.stop, 1 if k.step is None else k.step)
            axis += 1
            in_axis += 1
        elif isinstance(k, (int, np.integer)):
            n = out.shape(axis)
            i = int(k)
            if i < -n or i >= n:
                raise IndexError("index {} is out of bounds for axis {} with size {}"
                                 .format(i, in_axis, n))
            in_axis += 1
            i = i + n if i < 0 else i
            out = out.Slice(axis, i, i + 1).Squeeze(axis)
        else:
            raise IndexError("Tensor indices must be ints, slices, None or Ellipsis, got {}"
                             .format(type(k).__name__))
    return out


# ---------------------------------------------------------------- conversions

def from_raw_tensor(t):
    """Wraps a core tensor in a Tensor."""
    if not isinstance(t, CTensor):
        raise TypeError("from_raw_tensor: t must be a core tensor (singa_wrap.Tensor), got {}"
                        .format(type(t).__name__))
    return _wrap(t)


def from_raw_tensors(tt):
    return [from_raw_tensor(t) for t in tt]


@named_entry("product")
def product(shape):
    """Number of elements of a shape."""
    n = 1
    for s in shape:
        n *= s
    return n


@named_entry("sizeof")
def sizeof(dtype):
    """Bytes per element of ``dtype``."""
    return singa.SizeOf(dtype)


def _numpy_compatible(np_array, keep_dtype=False):
    a = np.asarray(np_array)
    if a.dtype in _NP_TO_DTYPE or keep_dtype and a.dtype in _NP_NATIVE:
        return a
    if a.dtype == np.bool_ or a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        return a.astype(np.float32) if a.dtype == np.bool_ else a.astype(np.int32)
    if a.dtype.kind in "iu":
        if a.size and (a.max() > np.iinfo(np.int32).max or a.min() < np.iinfo(np.int32).min):
            raise ArgumentError("from_numpy: integer values do not fit in int32")
        return a.astype(np.int32)
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    raise TypeError("from_numpy: unsupported NumPy dtype {}".format(a.dtype))


def from_numpy(np_array, dev=None, keep_dtype=False):
    """A Tensor with the array's values; shares memory when the array is C-contiguous
    and of a supported dtype (float32, float64, float16, int32).

    As in SINGA, other integer arrays become int32 and bool arrays float32; with
    ``keep_dtype`` int64, uint8 and bool arrays keep their dtype (sharing memory too)."""
    a = _numpy_compatible(np_array, keep_dtype)
    t = _wrap(singa.from_numpy(a, dev))
    return t


@named_entry("from_dlpack")
def from_dlpack(x, *, device=None, copy=None):
    """A Tensor sharing the memory of `x`, another library's array (the Python array API
    standard's ``from_dlpack``): anything with ``__dlpack__`` (NumPy, PyTorch, CuPy, JAX,
    singa tensors), a DLPack capsule, or an object with only ``__cuda_array_interface__``
    (older CuPy, Numba). A write through either is seen by the other, and the memory stays
    valid after `x` is gone. Read-only memory (a read-only NumPy array) is copied, since
    singa tensors are writable; ``copy=False`` then raises BufferError. ``copy=True`` always
    copies. ``device``: a singa Device to copy the result to when the memory is elsewhere.
    CUDA memory needs a CUDA build (BufferError otherwise); singa's stream waits for the
    producer's pending work (singa.tensor_interop)."""
    return _wrap(_interop.from_dlpack(x, device=device, copy=copy))


def copy_from_numpy(data, np_array, offset=0):
    """Copies array values into core tensor ``data`` (flat, from ``offset``)."""
    if not isinstance(data, CTensor):
        raise TypeError("copy_from_numpy: data must be a core tensor (singa_wrap.Tensor), "
                        "got {}".format(type(data).__name__))
    a = np.ascontiguousarray(np.asarray(np_array))
    if a.size + offset > data.Size():
        raise ArgumentError("copy_from_numpy: {} values at offset {} do not fit a tensor of {}"
                         .format(a.size, offset, data.Size()))
    # The core converts to data's dtype; the dtypes it reads natively need no NumPy copy
    # (nor the int32 range check).
    a = _numpy_compatible(a, keep_dtype=True)
    data.CopyDataFromHostPtr(a.reshape(-1), a.size, offset)


def to_host(t):
    """A copy of t on the CPU."""
    ret = _tensor_arg_of("to_host", t).clone()
    ret.to_host()
    return ret


def to_numpy(t):
    """A NumPy copy of t's values: later changes to t (an optimizer step) do not show
    in it, as in SINGA."""
    return singa.to_numpy(_tensor_arg_of("to_numpy", t).data).copy()


def to_numpy_view(t):
    """A NumPy array sharing t's memory (no copy; a host-memory device only): it changes
    when t does. For internal paths that read values once."""
    return singa.to_numpy(_tensor_arg_of("to_numpy_view", t).data)


def _tensor_arg_of(function, t):
    if not isinstance(t, Tensor):
        raise TypeError("{}: t must be a singa Tensor, got {}".format(function, type(t).__name__))
    return t


# SINGA's name for a Tensor that a graph is built on before its values are known.
PlaceHolder = Tensor


# The module-level functions (zeros, sum, add, ...) live in tensor_functions.py and are
# this module's API too. Imported last: they use the class and helpers above (and
# tensor_functions binds those from here at its own end, so either import order works).
from .tensor_functions import (zeros, ones, zeros_like, ones_like, random, reshape,  # noqa: E402
                               transpose, contiguous, repeat, concatenate, copy_data_to_from,
                               abs, exp, ceil, floor, log, sigmoid, sign, sqrt, square, tanh,
                               relu, sum, average, softmax, pow, lt, le, gt, ge, eq, add, sub,
                               eltwise_mult, div, mult, axpy, bernoulli, gaussian, uniform,
                               add_column, add_row, sum_columns, sum_rows, tensordot, einsum)
