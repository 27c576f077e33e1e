"""Shape operations, indexing, and reductions."""

import builtins

import numpy as np

from .. import singa_wrap as singa
from ..errors import ArgumentError
from .. import tensor as tensor_mod
from ..tensor import Tensor
from ._util import sum_to, zeros
from .engine import Operation

__all__ = ["Reshape", "Flatten", "Transpose", "Unsqueeze", "Squeeze", "Expand", "Tile",
           "Slice", "Split", "Concat", "Gather", "ScatterElements", "Pad", "UpSample", "Where",
           "ConstantOfShape", "Cast", "OneHot", "NonZero", "Shape", "ReduceSum", "ReduceMean",
           "GlobalAveragePool", "reshape", "flatten", "transpose", "unsqueeze", "squeeze",
           "expand", "tile", "slice", "split", "cat", "gather", "scatter_elements", "pad",
           "upsample", "depth_to_space", "space_to_depth", "where", "constant_of_shape",
           "cast", "onehot", "nonzero", "shape", "reduce_sum", "reduce_mean",
           "globalaveragepool"]


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
        axes = sorted(a % n for a in self.axis)
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
        axis = self.axis % x.nDim()
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
        axis = self.axis % xs[0].nDim()
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
    arr = np.ascontiguousarray(np.asarray(indices, dtype=np.int32))
    return singa.from_numpy(arr, like.device())


class Gather(Operation):
    """Takes ``indices`` along ``axis`` (np.take)."""

    def __init__(self, axis, indices):
        super().__init__()
        self.axis, self.indices = axis, indices

    def forward(self, x):
        idx = _index_tensor(self.indices, x)
        axis = self.axis % x.nDim()
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
    """Copies ``updates`` into x at ``indices`` along ``axis`` (ONNX ScatterElements)."""

    def __init__(self, indices, axis=0):
        super().__init__()
        self.indices, self.axis = indices, axis

    def forward(self, x, updates):
        idx = _index_tensor(self.indices, x)
        self.save(idx=idx)
        return singa.ScatterElements(x, idx, updates, self.axis, False)

    def backward(self, dy):
        dupd = singa.GatherElements(dy, self.idx, self.axis)
        dx = singa.ScatterElements(dy, self.idx, zeros(self.idx.shape(), dy), self.axis, False)
        return dx, dupd


_PAD_MODES = {"constant": 0, "edge": 1, "reflect": 2}


class Pad(Operation):
    """Pads x. ``pads`` uses ONNX's layout [x1_begin, x2_begin, ..., x1_end, x2_end]."""

    def __init__(self, mode, pads, constant=0.0):
        super().__init__()
        if mode not in _PAD_MODES:
            raise ArgumentError("Pad: mode {!r} is not one of {}".format(mode, sorted(_PAD_MODES)))
        self.mode, self.pads, self.constant = mode, list(pads), float(constant)

    def forward(self, x):
        nd = x.nDim()
        if len(self.pads) != 2 * nd:
            raise ArgumentError("Pad: {} pad values for a tensor of rank {} (need {})"
                             .format(len(self.pads), nd, 2 * nd))
        pairs = [(self.pads[i], self.pads[i + nd]) for i in range(nd)]
        if any(p < 0 for p in self.pads):
            raise ArgumentError("Pad: negative pads {} are not supported".format(self.pads))
        self.save(pairs=pairs, xshape=x.shape())
        return singa.Pad(x, pairs, _PAD_MODES[self.mode], self.constant)

    def backward(self, dy):
        if self.mode == "constant":
            view = dy
            for a, ((b, _), n) in enumerate(zip(self.pairs, self.xshape)):
                view = view.Slice(a, b, b + n)
            return view.Clone()
        # edge/reflect: several outputs read one input; accumulate axis by axis.
        g = singa.to_numpy(singa.Contiguous(dy)).copy()
        for a, ((b, _), n) in enumerate(zip(self.pairs, self.xshape)):
            m = g.shape[a]
            src = np.arange(m) - b
            if self.mode == "edge":
                src = np.clip(src, 0, n - 1)
            else:
                src = np.abs(src)
                src = np.where(src >= n, 2 * (n - 1) - src, src)
            shape = list(g.shape)
            shape[a] = n
            out = np.zeros(shape, dtype=g.dtype)
            idx = [builtins.slice(None)] * g.ndim
            idx[a] = src
            np.add.at(out, tuple(idx), g)
            g = out
        return singa.from_numpy(np.ascontiguousarray(g), dy.device())


class UpSample(Operation):
    """Nearest-neighbour upsampling by integer ``scales`` per axis."""

    def __init__(self, mode, scales):
        super().__init__()
        if mode != "nearest":
            raise ArgumentError("UpSample: only mode 'nearest' is supported, got {!r}".format(mode))
        self.scales = [int(s) for s in scales]
        if any(s != float(f) or s < 1 for s, f in zip(self.scales, scales)):
            raise ArgumentError("UpSample: scales must be positive integers, got {}".format(scales))

    def forward(self, x):
        if len(self.scales) != x.nDim():
            raise ArgumentError("UpSample: {} scales for a tensor of rank {}".format(len(self.scales), x.nDim()))
        inter, bshape, out = [], [], []
        for n, s in zip(x.shape(), self.scales):
            inter += [n, 1]
            bshape += [n, s]
            out.append(n * s)
        self.save(bshape=bshape, xshape=x.shape())
        v = singa.Broadcast(singa.Reshape(x, inter), bshape)
        return singa.Reshape(singa.Contiguous(v), out)

    def backward(self, dy):
        g = singa.ReduceSum(singa.Reshape(dy, self.bshape), list(range(1, 2 * len(self.xshape), 2)), False)
        return singa.Reshape(g, list(self.xshape))


class Where(Operation):
    """y = x where condition is non-zero, else y (broadcasting)."""

    def __init__(self, condition):
        super().__init__()
        self.condition = condition.data if isinstance(condition, Tensor) else condition

    def forward(self, a, b):
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

    def forward(self, indices):
        y = singa.OneHot(indices, self.depth, float(self.values[1]), float(self.values[0]), 0)
        nd = y.nDim()
        axis = self.axis % nd if self.axis < 0 else self.axis
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

    def __init__(self, data_format="channels_first"):
        super().__init__()
        if data_format not in ("channels_first", "channels_last"):
            raise ArgumentError("GlobalAveragePool: unknown data_format {!r}".format(data_format))
        self.data_format = data_format

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
    return ScatterElements(indices, axis)(x, updates)[0]


def pad(x, mode, pads, constant=0.0):
    return Pad(mode, pads, constant)(x)[0]


def upsample(x, mode, scales):
    return UpSample(mode, scales)(x)[0]


def depth_to_space(x, blocksize, mode="DCR"):
    """Moves depth blocks into space: (N, C*b*b, H, W) -> (N, C, H*b, W*b)."""
    n, c, h, w = x.shape
    b = int(blocksize)
    if c % (b * b):
        raise ArgumentError("depth_to_space: channels {} are not divisible by blocksize^2 = {}"
                         .format(c, b * b))
    if mode == "DCR":
        y = reshape(x, (n, b, b, c // (b * b), h, w))
        y = transpose(y, (0, 3, 4, 1, 5, 2))
    elif mode == "CRD":
        y = reshape(x, (n, c // (b * b), b, b, h, w))
        y = transpose(y, (0, 1, 4, 2, 5, 3))
    else:
        raise ArgumentError("depth_to_space: mode must be 'DCR' or 'CRD', got {!r}".format(mode))
    return reshape(y, (n, c // (b * b), h * b, w * b))


def space_to_depth(x, blocksize, mode="DCR"):
    """Moves spatial blocks into depth: (N, C, H*b, W*b) -> (N, C*b*b, H, W)."""
    n, c, h, w = x.shape
    b = int(blocksize)
    if h % b or w % b:
        raise ArgumentError("space_to_depth: spatial shape {}x{} is not divisible by blocksize {}"
                         .format(h, w, b))
    y = reshape(x, (n, c, h // b, b, w // b, b))
    if mode == "DCR":
        y = transpose(y, (0, 3, 5, 1, 2, 4))
    elif mode == "CRD":
        y = transpose(y, (0, 1, 3, 5, 2, 4))
    else:
        raise ArgumentError("space_to_depth: mode must be 'DCR' or 'CRD', got {!r}".format(mode))
    return reshape(y, (n, c * b * b, h // b, w // b))


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
