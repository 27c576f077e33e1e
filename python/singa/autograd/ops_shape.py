"""Shape operations, indexing, and reductions."""

import builtins

import numpy as np

from .. import singa_wrap as singa
from ..errors import ArgumentError, ArgumentTypeError
from .. import tensor as tensor_mod
from ..tensor import Tensor
from ._util import is_constant, sum_to, zeros
from .engine import Operation

__all__ = ["Reshape", "Flatten", "Transpose", "Unsqueeze", "Squeeze", "Expand", "Tile", "Slice",
           "Split", "Concat", "Gather", "ScatterElements", "Where", "ConstantOfShape", "Cast",
           "OneHot", "NonZero", "Shape", "ReduceSum", "ReduceMean", "GlobalAveragePool", "reshape",
           "flatten", "transpose", "unsqueeze", "squeeze", "expand", "tile", "slice", "split",
           "cat", "gather", "scatter_elements", "where", "constant_of_shape", "cast", "onehot",
           "nonzero", "shape", "reduce_sum", "reduce_mean", "globalaveragepool"]


def _axes_list(axes, ndim):
    if axes is None:
        return list(range(ndim))
    if isinstance(axes, int):
        axes = [axes]
    out = []
    for a in axes:
        if a < -ndim or a >= ndim:
            raise IndexError("axis {} is out of range for a tensor with {} dimensions"
                             .format(a, ndim))
        out.append(a % ndim)
    return out


class Reshape(Operation):
    """Reshapes x; a 0 keeps that input dimension and one -1 is inferred (ONNX rules)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x):
        shape = [x.shape()[i] if s == 0 and i < x.nDim() else s for i, s in enumerate(self.shape)]
        self.save(xshape=x.shape())
        return singa.Reshape(x, [int(s) for s in shape])

    def backward(self, dy):
        return singa.Reshape(dy, list(self.xshape))


class Flatten(Operation):
    """Flattens x to 2-D: (prod(shape[:axis]), prod(shape[axis:]))."""

    def __init__(self, axis=1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        nd = x.nDim()
        axis = self.axis + nd if self.axis < 0 else self.axis
        if axis < 0 or axis > nd:
            raise IndexError("Flatten: axis {} is out of range for shape {}".format(self.axis, x.shape()))
        lead = int(np.prod(x.shape()[:axis], dtype=np.int64))
        self.save(xshape=x.shape())
        return singa.Reshape(x, [lead, int(x.Size() // lead) if lead else 0])

    def backward(self, dy):
        return singa.Reshape(dy, list(self.xshape))


class Transpose(Operation):
    """Permutes the axes (all reversed when ``perm`` is None)."""

    def __init__(self, perm=None):
        super().__init__()
        self.perm = None if perm is None else list(perm)

    def forward(self, x):
        perm = self.perm if self.perm is not None else list(range(x.nDim()))[::-1]
        if sorted(perm) != list(range(x.nDim())):
            raise ArgumentError("Transpose: {} is not a permutation of the axes of shape {}"
                             .format(self.perm, x.shape()))
        self.used_perm = perm
        return singa.Transpose(x, perm)

    def backward(self, dy):
        inv = [0] * len(self.used_perm)
        for i, p in enumerate(self.used_perm):
            inv[p] = i
        return singa.Transpose(dy, inv)


class Unsqueeze(Operation):
    """Inserts size-1 axes at the positions ``axis`` (of the output)."""

    def __init__(self, axis):
        super().__init__()
        self.axis = [axis] if isinstance(axis, int) else list(axis)

    def forward(self, x):
        n = x.nDim() + len(self.axis)
        axes = sorted(_axes_list(self.axis, n))
        shape = list(x.shape())
        for a in axes:
            shape.insert(a, 1)
        self.save(xshape=x.shape())
        return singa.Reshape(x, shape)

    def backward(self, dy):
        return singa.Reshape(dy, list(self.xshape))


class Squeeze(Operation):
    """Removes size-1 axes (the given ones, or all when ``axis`` is empty)."""

    def __init__(self, axis=None):
        super().__init__()
        if axis is None:
            axis = []
        self.axis = [axis] if isinstance(axis, int) else list(axis)

    def forward(self, x):
        shape = x.shape()
        axes = _axes_list(self.axis, x.nDim()) if self.axis else [i for i, s in enumerate(shape) if s == 1]
        for a in axes:
            if shape[a] != 1:
                raise ArgumentError("Squeeze: axis {} of shape {} does not have size 1".format(a, shape))
        self.save(xshape=shape)
        return singa.Reshape(x, [s for i, s in enumerate(shape) if i not in axes])

    def backward(self, dy):
        return singa.Reshape(dy, list(self.xshape))


class Expand(Operation):
    """Broadcasts x to ``shape`` (NumPy/ONNX rules: the result may have more axes)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x):
        xs = list(x.shape())
        n = max(len(xs), len(self.shape))
        a = [1] * (n - len(xs)) + xs
        b = [1] * (n - len(self.shape)) + self.shape
        out = []
        for da, db in zip(a, b):
            if da != db and da != 1 and db != 1:
                raise ArgumentError("Expand: shape {} cannot be expanded to {}".format(x.shape(), self.shape))
            out.append(db if da == 1 else da)
        self.save(xshape=x.shape())
        return singa.Contiguous(singa.Broadcast(x, out)).Clone()

    def backward(self, dy):
        return sum_to(dy, self.xshape)


class Tile(Operation):
    """Repeats the whole tensor ``repeats[i]`` times along axis i (np.tile)."""

    def __init__(self, repeats):
        super().__init__()
        self.repeats = [repeats] if isinstance(repeats, int) else list(repeats)
        if any(r < 0 for r in self.repeats):
            raise ArgumentError("Tile: repeats must be >= 0, got {}".format(self.repeats))

    def forward(self, x):
        self.save(xshape=x.shape())
        return singa.Tile(x, self.repeats)

    def backward(self, dy):
        nd = dy.nDim()
        reps = [1] * (nd - len(self.repeats)) + self.repeats
        base = [1] * (nd - len(self.xshape)) + list(self.xshape)
        split = []
        for r, b in zip(reps, base):
            split += [r, b]
        g = singa.ReduceSum(singa.Reshape(dy, split), list(range(0, 2 * nd, 2)), False)
        return singa.Reshape(g, list(self.xshape))


def _slice_view(t, starts, ends, axes, steps):
    view = t
    for s, e, a, st in zip(starts, ends, axes, steps):
        n = view.shape()[a]
        start, stop, step = builtins.slice(s, e, st).indices(n)
        if step < 0 and stop < 0:
            stop = 2 ** 64 - 1
        view = view.Slice(a, start, stop, step)
    return view


class Slice(Operation):
    """ONNX Slice: x[starts:ends:steps] on ``axes`` (all leading axes by default)."""

    def __init__(self, starts, ends, axes=None, steps=None):
        super().__init__()
        self.starts, self.ends = list(starts), list(ends)
        self.axes = list(range(len(starts))) if axes is None else list(axes)
        self.steps = [1] * len(starts) if steps is None else list(steps)
        if not (len(self.starts) == len(self.ends) == len(self.axes) == len(self.steps)):
            raise ArgumentError("Slice: starts, ends, axes and steps must have the same length")

    def forward(self, x):
        axes = _axes_list(self.axes, x.nDim())
        self.used_axes = axes
        self.save(xshape=x.shape(), xlike=x)
        return _slice_view(x, self.starts, self.ends, axes, self.steps).Clone()

    def backward(self, dy):
        dx = zeros(self.xshape, dy)
        _slice_view(dx, self.starts, self.ends, self.used_axes, self.steps).CopyData(dy)
        return dx


class Split(Operation):
    """Splits x along ``axis`` into pieces of the sizes in ``parts``
    (or ``num_output`` equal pieces when ``parts`` is None)."""

    def __init__(self, axis, parts, num_output=None):
        super().__init__()
        self.axis, self.parts, self.num_output = axis, parts, num_output

    def forward(self, x):
        axis = _axes_list(self.axis, x.nDim())[0]
        n = x.shape()[axis]
        parts = self.parts
        if parts is None:
            if not self.num_output or n % self.num_output:
                raise ArgumentError("Split: axis of size {} cannot be split into {} equal parts"
                                 .format(n, self.num_output))
            parts = [n // self.num_output] * self.num_output
        if sum(parts) != n:
            raise ArgumentError("Split: parts {} do not add up to the axis size {}".format(parts, n))
        self.used_axis = axis
        outs, pos = [], 0
        for p in parts:
            outs.append(singa.SliceOn(x, pos, pos + p, axis))
            pos += p
        return tuple(outs)

    def backward(self, *dys):
        return singa.ConcatOn(list(dys), self.used_axis)


class Concat(Operation):
    """Joins the inputs along ``axis``."""

    def __init__(self, axis=0):
        super().__init__()
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise ArgumentError("Concat: needs at least one input")
        axis = _axes_list(self.axis, xs[0].nDim())[0]
        self.save(sizes=[x.shape()[axis] for x in xs], used_axis=axis)
        return singa.ConcatOn(list(xs), axis)

    def backward(self, dy):
        out, pos = [], 0
        for n in self.sizes:
            out.append(singa.SliceOn(dy, pos, pos + n, self.used_axis))
            pos += n
        return tuple(out)


def _index_tensor(indices, like):
    if isinstance(indices, Tensor):
        return indices.data.AsType(singa.kInt)
    if isinstance(indices, singa.Tensor):
        return indices.AsType(singa.kInt)
    given = np.asarray(indices)
    if given.dtype.kind not in "biuf" or (given.dtype.kind == "f" and
                                          np.any(given != np.floor(given))):
        # int32 conversion would truncate 0.5 to 0 and fail on text without the values
        raise ArgumentTypeError("indices must be integers, got {} {}".format(
            given.dtype, given.reshape(-1)[:4].tolist()))
    arr = np.ascontiguousarray(given.astype(np.int32))
    return singa.from_numpy(arr, like.device())


def _data_tensor(values, like):
    """values (a Tensor, core tensor, list or array) as a core tensor on like's device;
    NumPy data converts as tensor.from_numpy does (bool to float32, int64 to int32)."""
    if isinstance(values, Tensor):
        return values.data
    if isinstance(values, singa.Tensor):
        return values
    return tensor_mod.from_numpy(np.ascontiguousarray(values), like.device()).data


class Gather(Operation):
    """Takes ``indices`` along ``axis`` (np.take)."""

    def __init__(self, axis, indices):
        super().__init__()
        self.axis, self.indices = axis, indices

    def forward(self, x):
        idx = _index_tensor(self.indices, x)
        axis = _axes_list(self.axis, x.nDim())[0]
        self.save(idx=idx, xshape=x.shape(), used_axis=axis)
        return singa.Take(x, idx, axis)

    def backward(self, dy):
        shape, ax = self.xshape, self.used_axis
        outer = int(np.prod(shape[:ax], dtype=np.int64))
        inner = int(np.prod(shape[ax + 1:], dtype=np.int64))
        idx = singa.to_numpy(self.idx).reshape(-1)
        idx = np.where(idx < 0, idx + shape[ax], idx)
        g = singa.to_numpy(singa.Contiguous(dy)).reshape(outer, idx.size, inner)
        dx = np.zeros((outer, shape[ax], inner), dtype=g.dtype)
        np.add.at(dx, (builtins.slice(None), idx, builtins.slice(None)), g)
        return singa.from_numpy(np.ascontiguousarray(dx.reshape(shape)), dy.device())


class ScatterElements(Operation):
    """Copies ``updates`` into x at ``indices`` along ``axis`` (ONNX ScatterElements).

    SINGA's form gives the updates to the constructor (a Tensor, list or NumPy array):
    x is then the one input and ``backward`` returns dx alone. With ``updates=None`` the
    updates are the second input and get a gradient too.
    """

    def __init__(self, indices, updates=None, axis=0):
        super().__init__()
        if isinstance(updates, (int, float)):
            raise ArgumentError("ScatterElements: updates must be a Tensor, list or array, got "
                                "the number {!r} (pass the axis as axis=)".format(updates))
        self.indices, self.updates, self.axis = indices, updates, axis

    def forward(self, x, updates=None):
        if (updates is None) == (self.updates is None):
            raise ArgumentError("ScatterElements: give the updates once, to the constructor "
                                "or as the second input")
        idx = _index_tensor(self.indices, x)
        if updates is None:
            updates = _data_tensor(self.updates, x)
        self.save(idx=idx)
        return singa.ScatterElements(x, idx, updates, self.axis, False)

    def backward(self, dy):
        dx = singa.ScatterElements(dy, self.idx, zeros(self.idx.shape(), dy), self.axis, False)
        if self.updates is not None:
            return dx
        return dx, singa.GatherElements(dy, self.idx, self.axis)


class Where(Operation):
    """y = x where condition is non-zero, else y (broadcasting). The condition is a
    Tensor, or a list or NumPy array as in SINGA."""

    def __init__(self, condition):
        super().__init__()
        self.condition = condition.data if isinstance(condition, Tensor) else condition

    def forward(self, a, b):
        if not isinstance(self.condition, singa.Tensor):
            self.condition = _data_tensor(self.condition, a)
        self.save(shapes=(a.shape(), b.shape()))
        return singa.Where(self.condition, a, b)

    def backward(self, dy):
        c = singa.RSubFloat(1.0, singa.EQFloat(self.condition.AsType(dy.data_type()), 0.0))
        da = dy * c
        db = dy - da
        return sum_to(da, self.shapes[0]), sum_to(db, self.shapes[1])


class ConstantOfShape(Operation):
    """A tensor of shape given by the values of x, filled with ``value``."""

    def __init__(self, value=0.0):
        super().__init__()
        self.value = float(value)

    def forward(self, x):
        shape = [int(v) for v in singa.to_numpy(x.AsType(singa.kInt)).reshape(-1)]
        out = singa.Tensor(shape, x.device(), singa.kFloat32)
        out.SetValue(self.value)
        return out

    def backward(self, dy):
        return None


class Cast(Operation):
    """Converts x to dtype ``to``; the gradient is converted back."""

    def __init__(self, to):
        super().__init__()
        self.to = to

    def forward(self, x):
        self.save(xtype=x.data_type())
        return x.AsType(self.to)

    def backward(self, dy):
        return dy.AsType(self.xtype)


class OneHot(Operation):
    """One-hot encoding of integer ``indices`` with ``depth`` classes inserted at ``axis``;
    ``values`` = [off_value, on_value]."""

    def __init__(self, axis, depth, values):
        super().__init__()
        self.axis, self.depth, self.values = axis, int(depth), list(values)
        if self.depth < 1:
            raise ArgumentError("OneHot: depth must be >= 1, got {}".format(depth))

    def forward(self, indices):
        y = singa.OneHot(indices, self.depth, float(self.values[1]), float(self.values[0]), 0)
        nd = y.nDim()
        axis = _axes_list(self.axis, nd)[0]
        if axis != nd - 1:
            perm = list(range(nd - 1))
            perm.insert(axis, nd - 1)
            y = singa.Transpose(y, perm).Clone()
        return y

    def backward(self, dy):
        return None


class NonZero(Operation):
    """Indices of the non-zero elements, shape (ndim, count) (ONNX NonZero)."""

    def forward(self, x):
        idx = np.array(np.nonzero(singa.to_numpy(x)), dtype=np.int32)
        return singa.from_numpy(np.ascontiguousarray(idx), x.device())

    def backward(self, dy):
        return None


class Shape(Operation):
    """The shape of x as a 1-D int32 tensor."""

    def forward(self, x):
        return singa.from_numpy(np.array(x.shape(), dtype=np.int32), x.device())

    def backward(self, dy):
        return None


# ------------------------------------------------------------------ reductions

class ReduceSum(Operation):
    """Sum over ``axes`` (all when None); keepdims keeps them as size 1."""

    _reduce = singa.ReduceSum

    def __init__(self, axes=None, keepdims=1):
        super().__init__()
        self.axes, self.keepdims = axes, bool(keepdims)

    def forward(self, x):
        axes = _axes_list(self.axes, x.nDim())
        self.save(xshape=x.shape(), used_axes=axes)
        return self._reduce(x, axes, self.keepdims)

    def backward(self, dy):
        kept = [1 if i in self.used_axes else s for i, s in enumerate(self.xshape)]
        return singa.Broadcast(singa.Reshape(dy, kept), list(self.xshape))


class ReduceMean(ReduceSum):
    """Mean over ``axes`` (all when None); keepdims keeps them as size 1."""

    _reduce = singa.ReduceMean

    def backward(self, dy):
        count = int(np.prod([self.xshape[i] for i in self.used_axes], dtype=np.int64))
        return super().backward(singa.MultFloat(dy, 1.0 / max(count, 1)))


class GlobalAveragePool(Operation):
    """Mean over the spatial axes, keeping them as size 1 ((N, C, 1, 1) for NCHW)."""

    # SINGA spells channels-last 'channel_last'.
    _FORMATS = {"channels_first": "channels_first", "channels_last": "channels_last",
                "channel_last": "channels_last"}

    def __init__(self, data_format="channels_first"):
        super().__init__()
        if data_format not in self._FORMATS:
            raise ArgumentError("GlobalAveragePool: unknown data_format {!r}; use one of {}"
                                .format(data_format, sorted(self._FORMATS)))
        self.data_format = self._FORMATS[data_format]

    def forward(self, x):
        if x.nDim() < 3:
            raise ArgumentError("GlobalAveragePool: needs (N, C, spatial...) input, got {}".format(x.shape()))
        nd = x.nDim()
        axes = list(range(2, nd)) if self.data_format == "channels_first" else list(range(1, nd - 1))
        self.op = ReduceMean(axes, 1)
        return self.op.forward(x)

    def backward(self, dy):
        return self.op.backward(dy)


# ----------------------------------------------------------- functional forms

def reshape(x, shape):
    return Reshape(shape)(x)[0]


def flatten(x, axis=1):
    return Flatten(axis)(x)[0]


def transpose(x, shape=None):
    return Transpose(shape)(x)[0]


def unsqueeze(x, axis=-1):
    return Unsqueeze(axis)(x)[0]


def squeeze(x, axis=None):
    return Squeeze(axis)(x)[0]


def expand(x, shape):
    return Expand(shape)(x)[0]


def tile(x, repeats):
    return Tile(repeats)(x)[0]


# Shadows the builtin in this module: code above uses builtins.slice.
def slice(x, starts, ends, axes=None, steps=None):
    return Slice(starts, ends, axes, steps)(x)[0]


def split(x, axis, parts, num_output=None):
    return Split(axis, parts, num_output)(x)


def cat(xs, axis=0):
    return Concat(axis)(*xs)[0]


def gather(x, axis, indices):
    return Gather(axis, indices)(x)[0]


def scatter_elements(x, indices, updates, axis=0):
    """x with ``updates`` written at ``indices`` along ``axis``. Updates that are plain
    data go to the constructor (one input, as in SINGA); updates that gradients can
    reach (a parameter, or the output of recorded operations) are an input."""
    if is_constant(updates):
        return ScatterElements(indices, updates, axis)(x)[0]
    return ScatterElements(indices, axis=axis)(x, updates)[0]


def where(x, y, condition):
    return Where(condition)(x, y)[0]


def constant_of_shape(x, value=0):
    return ConstantOfShape(value)(x)[0]


def cast(x, to):
    return Cast(to)(x)[0]


def onehot(axis, indices, depth, values):
    if not isinstance(indices, Tensor):
        indices = tensor_mod.from_numpy(np.asarray(indices, dtype=np.int32))
    return OneHot(axis, depth, values)(indices)[0]


def nonzero(x):
    return NonZero()(x)[0]


def shape(x):
    return Shape()(x)[0]


def reduce_sum(x, axes=None, keepdims=1):
    return ReduceSum(axes, keepdims)(x)[0]


def reduce_mean(x, axes=None, keepdims=1):
    return ReduceMean(axes, keepdims)(x)[0]


def globalaveragepool(x, data_format="channels_first"):
    return GlobalAveragePool(data_format)(x)[0]
