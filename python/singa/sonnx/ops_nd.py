"""Handlers for ONNX's GatherND, ScatterND, EyeLike and the Hann, Hamming and Blackman
windows. GatherND/ScatterND turn each index tuple into a row of the data's leading axes
(an integer dot product in the core) and take or write rows; the windows are cosines of
a Range computed by the core."""

import math

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from .common import onnx_type_to_singa_type
from .ops_math import affine
from .registry import register

__all__ = ["RowIndex", "ScatterAdd"]


class RowIndex(Operation):
    """int64 row numbers of index tuples: ``indices`` (..., k) into the first k axes of
    a tensor of ``shape``, negative entries counting from the end, summed with the
    row-major strides of those axes. Indices carry no gradient."""

    def __init__(self, shape):
        super().__init__()
        self.shape = [int(s) for s in shape]

    def forward(self, indices):
        k = indices.shape()[-1]
        dims = np.asarray(self.shape[:k], np.int64)
        strides = np.append(np.cumprod(dims[::-1])[::-1][1:], 1).astype(np.int64)
        ones = [1] * (len(indices.shape()) - 1)
        dev = indices.device()
        idx = indices.AsType(tensor_mod.int64)
        size = singa.from_numpy(dims.reshape(ones + [k]), dev)
        # Negative entries count from the end: (i + n) mod n.
        idx = singa.Mod(singa.Add(idx, size), size)
        rows = singa.EltwiseMult(idx, singa.from_numpy(strides.reshape(ones + [k]), dev))
        return singa.ReduceSum(rows, [len(ones)], False)

    def backward(self, dy):
        return None


def _rows(x, indices):
    """x as (rows, rest) over the axes the index tuples address, the tuple count k and
    the row numbers."""
    k = indices.shape[-1]
    if k > x.ndim():
        raise ValueError("index tuples of length {} for data of rank {}".format(k, x.ndim()))
    n_rows = int(np.prod(x.shape[:k], dtype=np.int64))
    rest = list(x.shape[k:])
    flat = autograd.reshape(x, [n_rows, int(np.prod(rest, dtype=np.int64))])
    return flat, k, rest, RowIndex(x.shape)(indices)[0]


@register("GatherND")
def _gather_nd(node, ins):
    x, indices = ins.t(0), ins.t(1)
    if node.getattr("batch_dims", 0):
        raise node.error("batch_dims > 0 is not supported")
    try:
        flat, k, rest, rows = _rows(x, indices)
    except ValueError as e:
        raise node.error(str(e)) from None
    taken = autograd.gather(flat, 0, rows)
    return autograd.reshape(taken, list(indices.shape[:-1]) + rest)


@register("ScatterND")
def _scatter_nd(node, ins):
    x, indices, updates = ins.t(0), ins.t(1), ins.t(2)
    reduction = node.getattr("reduction", "none")
    if reduction not in ("none", "add"):
        raise node.error("reduction {!r} is not supported (none and add are)".format(reduction))
    try:
        flat, k, rest, rows = _rows(x, indices)
    except ValueError as e:
        raise node.error(str(e)) from None
    width = flat.shape[1]
    n_updates = int(np.prod(indices.shape[:-1], dtype=np.int64))
    flat_updates = autograd.reshape(updates, [n_updates, width])
    # Every element of an update row goes to the same data row.
    row_index = autograd.expand(autograd.reshape(rows, [n_updates, 1]), [n_updates, width])
    if reduction == "add":
        scattered = ScatterAdd()(flat, flat_updates, row_index)[0]
    else:
        scattered = autograd.scatter_elements(flat, row_index, flat_updates, 0)
    return autograd.reshape(scattered, list(x.shape))


class ScatterAdd(Operation):
    """x with ``updates`` added where ``index`` points along ``axis`` (ONNX
    ScatterElements reduction="add"); the gradient of x is dy, that of the updates dy read
    back at those places."""

    def __init__(self, axis=0):
        super().__init__()
        self.axis = int(axis)

    def forward(self, x, updates, index):
        self.save(index=index)
        return singa.ScatterElements(x, index, updates, self.axis, True)

    def backward(self, dy):
        return dy, singa.GatherElements(dy, self.index, self.axis), None


@register("EyeLike")
def _eye_like(node, ins):
    x = ins.t(0)
    if x.ndim() != 2:
        raise node.error("input must be 2-D, got shape {}".format(x.shape))
    dtype = x.dtype if node.getattr("dtype") is None else onnx_type_to_singa_type(
        node.getattr("dtype"))
    # The ones lie on diagonal k: geometry, from the shape alone.
    eye = np.eye(x.shape[0], x.shape[1], node.getattr("k", 0),
                 dtype=tensor_mod._DTYPE_TO_NP[dtype])
    return tensor_mod.Tensor(device=x.device, data=eye, dtype=dtype, requires_grad=False)


# Cosine coefficients a0, a1, a2: w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N).
_WINDOWS = {"HannWindow": (0.5, 0.5, 0.0),
            "HammingWindow": (25.0 / 46.0, 1.0 - 25.0 / 46.0, 0.0),
            "BlackmanWindow": (0.42, 0.5, 0.08)}


@register(*_WINDOWS)
def _window(node, ins):
    size = int(np.asarray(ins.host(0, "size")).reshape(-1)[0])
    periodic = node.getattr("periodic", 1)
    dtype = onnx_type_to_singa_type(node.getattr("output_datatype", 1))
    a0, a1, a2 = _WINDOWS[node.op_type]
    n = tensor_mod.Tensor(device=ins.device, data=np.arange(size, dtype=np.float32),
                          requires_grad=False)
    period = size if periodic else size - 1
    step = 2.0 * math.pi / period if period > 0 else 0.0
    w = affine(autograd.cos(affine(n, step)), -a1, a0)
    if a2:
        w = autograd.add(w, affine(autograd.cos(affine(n, 2.0 * step)), a2))
    return w if dtype == tensor_mod.float32 else autograd.cast(w, dtype)
