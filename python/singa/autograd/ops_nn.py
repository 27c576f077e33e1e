"""Neural-network operations: gemm, bias, dropout, convolution, pooling,
batch normalisation and local response normalisation."""

import functools

import numpy as np

from .. import autocast
from .. import singa_wrap as singa
from ..errors import ArgumentError
from ..tensor import Tensor
from ._util import as_float, sum_to
from .engine import Operation
from .mode import is_train_mode
from .ops_spatial import pad

__all__ = ["Gemm", "AddBias", "Dropout", "_Conv2d", "_Pooling2d", "_BatchNorm2d", "LRN",
           "gemm", "add_bias", "dropout", "conv2d", "pooling_2d", "batchnorm_2d", "lrn"]


def _data(t):
    return t.data if isinstance(t, Tensor) else t


class Gemm(Operation):
    """Y = alpha * A' @ B' + beta * C, where A' = A^T if transA, B' = B^T if transB."""

    def __init__(self, alpha=1.0, beta=1.0, transA=0, transB=0):
        super().__init__()
        self.alpha, self.beta = as_float("Gemm", "alpha", alpha), as_float("Gemm", "beta", beta)
        self.transA, self.transB = bool(transA), bool(transB)

    def forward(self, A, B, C=None):
        if A.nDim() != 2 or B.nDim() != 2:
            raise ArgumentError("Gemm: A and B must be 2-D, got {} and {}".format(A.shape(), B.shape()))
        A, B = autocast.lower(self, A, B)
        a = singa.DefaultTranspose(A) if self.transA else A
        b = singa.DefaultTranspose(B) if self.transB else B
        y = autocast.widen(self, singa.Mult(a, b))
        if self.alpha != 1.0:
            y = singa.MultFloat(y, self.alpha)
        if C is not None:
            y = y + singa.MultFloat(C, self.beta)
        self.save(a=a, b=b, cshape=None if C is None else C.shape())
        return y

    def backward(self, dy):
        g = singa.MultFloat(dy, self.alpha) if self.alpha != 1.0 else dy
        g = autocast.lower_grad(self, g)
        da = singa.Mult(g, singa.DefaultTranspose(self.b)) if self.needs_grad(0) else None
        db = singa.Mult(singa.DefaultTranspose(self.a), g) if self.needs_grad(1) else None
        da, db = autocast.widen_grads(self, da, db)
        if self.transA and da is not None:
            da = singa.DefaultTranspose(da)
        if self.transB and db is not None:
            db = singa.DefaultTranspose(db)
        if self.cshape is None:
            return da, db
        return da, db, sum_to(singa.MultFloat(dy, self.beta), self.cshape)


class AddBias(Operation):
    """Adds bias b to every row (axis=0) or every column (axis=1) of a 2-D x."""

    def __init__(self, axis=0):
        super().__init__()
        if axis not in (0, 1):
            raise ArgumentError("AddBias: axis must be 0 or 1, got {}".format(axis))
        self.axis = axis

    def forward(self, x, b):
        # Each shape is read once: a read is a call into the core, a sizeable part of a
        # small op's cost.
        xshape = x.shape()
        if len(xshape) != 2:
            raise ArgumentError("AddBias: x must be 2-D, got {}".format(xshape))
        want = xshape[1 - self.axis]
        bshape = b.shape()
        size = 1
        for n in bshape:
            size *= n
        if size != want:
            raise ArgumentError("AddBias: bias of shape {} does not match x {} on axis {}".format(
                bshape, xshape, 1 - self.axis))
        self.save(bshape=bshape)
        shape = [1, want] if self.axis == 0 else [want, 1]
        return x + singa.Reshape(b, shape)

    def backward(self, dy):
        db = singa.ReduceSum(dy, [self.axis], False)
        return dy, singa.Reshape(db, list(self.bshape))


class Dropout(Operation):
    """Zeroes each element with probability ``ratio`` during training and scales the
    rest by 1 / (1 - ratio), so evaluation needs no rescaling.

    Args:
        seed: 0 (the default) or None draws the masks from the device's generator
            (seeded with ``Device.SetRandSeed``); any other int gives this op its own
            generator seeded with it, so its sequence of masks is the same on every run.
        ratio: the probability of zeroing an element, in [0, 1).

    SINGA's order is (seed, ratio): ``Dropout(0.5)`` is a seed, and a float seed is an
    error rather than a ratio taken for a seed.
    """

    def __init__(self, seed=0, ratio=0.5):
        super().__init__()
        if seed is None:
            seed = 0
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ArgumentError("Dropout: seed must be an int, got {!r}; pass the drop "
                                "probability as ratio= (SINGA's order is seed, ratio)"
                                .format(seed))
        if not 0.0 <= ratio < 1.0:
            raise ArgumentError("Dropout: ratio {} must be in [0, 1)".format(ratio))
        self.seed, self.ratio = int(seed), float(ratio)
        self._rng = np.random.default_rng(self.seed) if self.seed else None

    def forward(self, x):
        if not is_train_mode() or self.ratio == 0.0:
            self.save(mask=None)
            return x
        if self._rng is None:
            y, mask = singa.DropoutForward(x, self.ratio)
        else:
            keep = self._rng.random(tuple(x.shape())) >= self.ratio
            scaled = keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.ratio))
            mask = singa.from_numpy(scaled, x.device()).AsType(x.data_type())
            y = x * mask
        self.save(mask=mask)
        return y

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask


@functools.lru_cache(maxsize=None)
def _handle_classes(kind):
    # looked up once per kind: an op is built on every conv/pool/batchnorm call
    return tuple(getattr(singa, n) for n in dir(singa) if n.endswith(kind))


def _handle(op, handle, kind):
    """handle when it is one of the core's ``*{kind}`` classes (ConvHandle, and in a CUDA
    build its cuDNN twin); TypeError naming the op otherwise, rather than the kernel's
    list of overloads at the first call."""
    if not isinstance(handle, _handle_classes(kind)):
        raise TypeError("{}: handle must be a singa_wrap.{}, got {}".format(
            op, kind, type(handle).__name__))
    return handle


class _Conv2d(Operation):
    """2-D convolution described by a ``singa_wrap.ConvHandle``."""

    def __init__(self, handle, odd_padding=(0, 0, 0, 0)):
        super().__init__()
        self.handle = _handle(type(self).__name__, handle, "ConvHandle")  # or a subclass's name
        self.odd_padding = tuple(odd_padding)

    def forward(self, x, W, b=None):
        x = singa.Contiguous(x)
        W = singa.Contiguous(W)
        if b is None:
            b = singa.Tensor([W.shape()[0]], x.device(), x.data_type())
            b.SetValue(0.0)
            self.has_b = False
        else:
            self.has_b = True
        # Under autocast the bias too enters in bfloat16: the kernel adds it to its float32
        # accumulator before the one rounding of the result.
        x, W, b_low = autocast.lower(self, x, W, b)
        self.save(x=x, W=W, b=b)
        return autocast.widen(self, singa.CpuConvForward(x, W, b_low, self.handle))

    def backward(self, dy):
        dy = singa.Contiguous(dy)
        dy_low = autocast.lower_grad(self, dy)
        # The first layer's input (the images) needs no gradient: skip that convolution.
        dx = singa.CpuConvBackwardx(dy_low, self.W, self.x, self.handle) if self.needs_grad(0) \
            else None
        dW = singa.CpuConvBackwardW(dy_low, self.x, self.W, self.handle) if self.needs_grad(1) \
            else None
        dx, dW = autocast.widen_grads(self, dx, dW)
        if not self.has_b:
            return dx, dW
        # The bias gradient is a plain sum of dy: float32 in, float32 out.
        db = singa.CpuConvBackwardb(dy, self.b, self.handle)
        return dx, dW, db


class _Pooling2d(Operation):
    """Max or average pooling described by a ``singa_wrap.PoolingHandle``."""

    def __init__(self, handle, odd_padding=(0, 0, 0, 0)):
        super().__init__()
        self.handle = _handle("_Pooling2d", handle, "PoolingHandle")
        self.odd_padding = tuple(odd_padding)

    def forward(self, x):
        x = singa.Contiguous(x)
        y = singa.CpuPoolingForward(self.handle, x)
        self.save(x=x, y=y)
        return y

    def backward(self, dy):
        return singa.CpuPoolingBackward(self.handle, singa.Contiguous(dy), self.x, self.y)


class _BatchNorm2d(Operation):
    """Batch normalisation over (N, H, W) per channel. In training it normalises with
    the batch statistics and updates the running ones in place; otherwise it uses
    the running statistics."""

    def __init__(self, handle, running_mean, running_var, name=None):
        super().__init__(name)
        self.handle = _handle(type(self).__name__, handle, "BatchNormHandle")
        self.running_mean = _data(running_mean)
        self.running_var = _data(running_var)

    def forward(self, x, scale, bias):
        x = singa.Contiguous(x)
        if is_train_mode():
            y, mean, var = singa.CpuBatchNormForwardTraining(
                self.handle, x, scale, bias, self.running_mean, self.running_var)
            # The backward recomputes the normalised input from x and the batch
            # statistics; keeping y as well would hold a second activation-sized tensor.
            self.save(x=x, scale=scale, bias=bias, mean=mean, var=var)
            return y
        # Inference behaviour: a fixed affine map of x with the running statistics.
        self.save(x=x, scale=scale, bias=bias, mean=None, var=None)
        return singa.CpuBatchNormForwardInference(
            self.handle, x, scale, bias, self.running_mean, self.running_var)

    def backward(self, dy):
        if self.mean is None:
            return self._backward_inference(dy)
        # SINGA's signature takes y; only its shape is read, so x stands in.
        dx, dscale, dbias = singa.CpuBatchNormBackwardx(
            self.handle, self.x, singa.Contiguous(dy), self.x, self.scale, self.bias, self.mean,
            self.var)
        return dx, dscale, dbias

    def _backward_inference(self, dy):
        """Gradients of y = scale * (x - mean) / sqrt(var + eps) + bias with the running
        statistics held fixed (grad mode on, training mode off)."""
        x, nd = self.x, self.x.nDim()
        shape = [1, x.shape()[1]] + [1] * (nd - 2)
        inv = singa.Reshape(singa.Reciprocal(singa.Sqrt(
            singa.AddFloat(self.running_var, self.handle.eps))), shape)
        xhat = (x - singa.Reshape(self.running_mean, shape)) * inv
        axes = [0] + list(range(2, nd))
        dy = singa.Contiguous(dy)
        dx = dy * (singa.Reshape(self.scale, shape) * inv)
        return dx, singa.ReduceSum(dy * xhat, axes, False), singa.ReduceSum(dy, axes, False)


class LRN(Operation):
    """Local response normalisation across channels (AlexNet/Caffe/ONNX):
    y = x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels) ^ beta."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        if size < 1:
            raise ArgumentError("LRN: size must be positive, got {}".format(size))
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x):
        x = singa.Contiguous(x)
        y = singa.CpuLRNForward(x, self.size, self.alpha, self.beta, self.k)
        self.save(x=x, y=y)
        return y

    def backward(self, dy):
        return singa.CpuLRNBackward(singa.Contiguous(dy), self.x, self.y, self.size,
                                    self.alpha, self.beta, self.k)


def gemm(A, B, C=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    op = Gemm(alpha, beta, transA, transB)
    return op(A, B)[0] if C is None else op(A, B, C)[0]


def add_bias(x, b, axis=0):
    return AddBias(axis)(x, b)[0]


def dropout(x, seed=0, ratio=0.5):
    """Dropout with SINGA's argument order; pass the ratio by keyword
    (``dropout(x, ratio=0.3)``)."""
    return Dropout(seed, ratio)(x)[0]


def _odd_pad(x, odd_padding):
    """Extra zero padding (top, bottom, left, right) on an NCHW input."""
    top, bottom, left, right = odd_padding
    if top == bottom == left == right == 0:
        return x
    return pad(x, "constant", [0, 0, top, left, 0, 0, bottom, right])


def conv2d(handle, x, W, b=None, odd_padding=(0, 0, 0, 0)):
    """Convolution with the geometry in ``handle``; odd_padding = (top, bottom, left, right)
    zeros added before it (SINGA's way of expressing asymmetric padding)."""
    x = _odd_pad(x, odd_padding)
    op = _Conv2d(handle)
    return op(x, W)[0] if b is None else op(x, W, b)[0]


def pooling_2d(handle, x, odd_padding=(0, 0, 0, 0)):
    """Pooling with the geometry in ``handle``; odd_padding as in conv2d."""
    x = _odd_pad(x, odd_padding)
    return _Pooling2d(handle)(x)[0]


def batchnorm_2d(handle, x, scale, bias, running_mean, running_var):
    return _BatchNorm2d(handle, running_mean, running_var)(x, scale, bias)[0]


def lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    return LRN(size, alpha, beta, k)(x)[0]
