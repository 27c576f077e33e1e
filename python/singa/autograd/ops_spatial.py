"""Spatial rearrangements: padding, nearest-neighbour upsampling, and moving blocks
between depth and space (ONNX DepthToSpace / SpaceToDepth)."""

import builtins

import numpy as np

from .. import singa_wrap as singa
from ..errors import ArgumentError
from .engine import Operation

__all__ = ["Pad", "UpSample", "DepthToSpace", "SpaceToDepth", "pad", "upsample",
           "depth_to_space", "space_to_depth"]


_PAD_MODES = {"constant": 0, "edge": 1, "reflect": 2}


def _pad_sources(mode, m, before, n):
    """For each of the m positions along a padded axis of input size n, the input
    position it copies (edge and reflect). Reflect follows np.pad, which keeps
    reflecting when a pad reaches or passes the axis size (period 2 (n - 1))."""
    i = np.arange(m) - before
    if mode == "edge" or n == 1:
        return np.clip(i, 0, n - 1)
    period = 2 * (n - 1)
    j = np.mod(i, period)
    return np.where(j < n, j, period - j)


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
        if self.mode == "reflect" and any(max(p) >= n for p, n in zip(pairs, x.shape())):
            # The core reflects once; past that, gather the np.pad positions axis by axis.
            y = x
            for a, ((b, e), n) in enumerate(zip(pairs, x.shape())):
                if b or e:
                    idx = _pad_sources("reflect", n + b + e, b, n).astype(np.int32)
                    y = singa.Take(y, singa.from_numpy(idx, x.device()), a)
            return y
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
            shape = list(g.shape)
            src = _pad_sources(self.mode, shape[a], b, n)
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
            raise ArgumentError("UpSample: {} scales for a tensor of rank {}"
                                .format(len(self.scales), x.nDim()))
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


# ONNX's two layouts of the b*b block inside the channel axis: DCR puts the block
# outermost (channel = block * C + c), CRD innermost (channel = c * b*b + block). Each
# pair below is a reshape, a transpose and a reshape, and SpaceToDepth with a mode undoes
# DepthToSpace with the same mode, so each op's backward is the other's forward.
_D2S = {"DCR": (lambda n, b, c, h, w: [n, b, b, c, h, w], [0, 3, 4, 1, 5, 2]),
        "CRD": (lambda n, b, c, h, w: [n, c, b, b, h, w], [0, 1, 4, 2, 5, 3])}
_S2D = {"DCR": [0, 3, 5, 1, 2, 4], "CRD": [0, 1, 3, 5, 2, 4]}


def _check_block_mode(op, x, b, mode):
    if mode not in _S2D:
        raise ArgumentError("{}: mode must be 'DCR' or 'CRD', got {!r}".format(op, mode))
    if b < 1:
        raise ArgumentError("{}: blocksize must be positive, got {}".format(op, b))
    if x.nDim() != 4:
        raise ArgumentError("{}: needs an (N, C, H, W) input, got shape {}".format(op, x.shape()))


def _depth_to_space(x, b, mode):
    n, c, h, w = x.shape()
    if c % (b * b):
        raise ArgumentError("DepthToSpace: channels {} are not divisible by blocksize^2 = {}"
                            .format(c, b * b))
    split, perm = _D2S[mode]
    y = singa.Transpose(singa.Reshape(x, split(n, b, c // (b * b), h, w)), perm)
    return singa.Reshape(singa.Contiguous(y), [n, c // (b * b), h * b, w * b])


def _space_to_depth(x, b, mode):
    n, c, h, w = x.shape()
    if h % b or w % b:
        raise ArgumentError("SpaceToDepth: spatial shape {}x{} is not divisible by blocksize {}"
                            .format(h, w, b))
    y = singa.Transpose(singa.Reshape(x, [n, c, h // b, b, w // b, b]), _S2D[mode])
    return singa.Reshape(singa.Contiguous(y), [n, c * b * b, h // b, w // b])


class DepthToSpace(Operation):
    """Moves depth blocks into space: (N, C*b*b, H, W) -> (N, C, H*b, W*b) (ONNX)."""

    def __init__(self, blocksize, mode="DCR"):
        super().__init__()
        self.blocksize, self.mode = int(blocksize), mode

    def forward(self, x):
        _check_block_mode("DepthToSpace", x, self.blocksize, self.mode)
        return _depth_to_space(x, self.blocksize, self.mode)

    def backward(self, dy):
        return _space_to_depth(dy, self.blocksize, self.mode)


class SpaceToDepth(Operation):
    """Moves spatial blocks into depth: (N, C, H*b, W*b) -> (N, C*b*b, H, W) (ONNX)."""

    def __init__(self, blocksize, mode="DCR"):
        super().__init__()
        self.blocksize, self.mode = int(blocksize), mode

    def forward(self, x):
        _check_block_mode("SpaceToDepth", x, self.blocksize, self.mode)
        return _space_to_depth(x, self.blocksize, self.mode)

    def backward(self, dy):
        return _depth_to_space(dy, self.blocksize, self.mode)


# ----------------------------------------------------------- functional forms

def pad(x, mode, pads, constant=0.0):
    return Pad(mode, pads, constant)(x)[0]


def upsample(x, mode, scales):
    return UpSample(mode, scales)(x)[0]


def depth_to_space(x, blocksize, mode="DCR"):
    """Moves depth blocks into space: (N, C*b*b, H, W) -> (N, C, H*b, W*b)."""
    return DepthToSpace(blocksize, mode)(x)[0]


def space_to_depth(x, blocksize, mode="DCR"):
    """Moves spatial blocks into depth: (N, C, H*b, W*b) -> (N, C*b*b, H, W)."""
    return SpaceToDepth(blocksize, mode)(x)[0]
