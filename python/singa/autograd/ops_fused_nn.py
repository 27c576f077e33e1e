"""Fused neural-network operations: a convolution (bias included) followed by ReLU, and
batch normalisation followed by ReLU, each one Operation over one core kernel.

They compute exactly what the pairs ``relu(conv2d(...))`` and ``relu(batchnorm_2d(...))``
compute, with the same parameters, but the activation is written once (oneDNN's ReLU
post-op for the convolution) and backward takes the ReLU mask from the output (y > 0
wherever the pre-activation is), so no pre-activation tensor is kept for backward.
"""

from .. import autocast
from .. import singa_wrap as singa
from .mode import is_train_mode
from .ops_nn import _BatchNorm2d, _Conv2d, _odd_pad

__all__ = ["_Conv2dReLU", "_BatchNorm2dReLU", "conv2d_relu", "batchnorm_2d_relu"]


class _Conv2dReLU(_Conv2d):
    """relu(conv(x, W) + b) with the geometry of a ``singa_wrap.ConvHandle``."""

    def forward(self, x, W, b=None):
        x = singa.Contiguous(x)
        W = singa.Contiguous(W)
        self.has_b = b is not None
        if b is None:
            b = singa.Tensor([W.shape()[0]], x.device(), x.data_type())
            b.SetValue(0.0)
        x, W, b_low = autocast.lower(self, x, W, b)
        y = autocast.widen(self, singa.CpuConvReLUForward(x, W, b_low, self.handle))
        self.save(x=x, W=W, b=b, y=y)
        return y

    def backward(self, dy):
        # The ReLU's backward, then the convolution's with the masked gradient.
        return super().backward(singa.ReLUBackward(singa.Contiguous(dy), self.y))


class _BatchNorm2dReLU(_BatchNorm2d):
    """relu(batch normalisation of x), in training with the batch statistics (and the
    running ones updated in place), otherwise with the running statistics."""

    def forward(self, x, scale, bias):
        x = singa.Contiguous(x)
        if is_train_mode():
            y, mean, var = singa.CpuBatchNormReLUForwardTraining(
                self.handle, x, scale, bias, self.running_mean, self.running_var)
            self.save(x=x, y=y, scale=scale, bias=bias, mean=mean, var=var)
            return y
        y = singa.CpuBatchNormReLUForwardInference(
            self.handle, x, scale, bias, self.running_mean, self.running_var)
        self.save(x=x, y=y, scale=scale, bias=bias, mean=None, var=None)
        return y

    def backward(self, dy):
        dy = singa.Contiguous(dy)
        if self.mean is None:
            return self._backward_inference(singa.ReLUBackward(dy, self.y))
        return tuple(singa.CpuBatchNormReLUBackwardx(
            self.handle, self.y, dy, self.x, self.scale, self.bias, self.mean, self.var))


def conv2d_relu(handle, x, W, b=None, odd_padding=(0, 0, 0, 0)):
    """``relu(conv2d(handle, x, W, b, odd_padding))`` as one fused Operation."""
    x = _odd_pad(x, odd_padding)
    op = _Conv2dReLU(handle)
    return op(x, W)[0] if b is None else op(x, W, b)[0]


def batchnorm_2d_relu(handle, x, scale, bias, running_mean, running_var):
    """``relu(batchnorm_2d(...))`` as one fused Operation (same arguments)."""
    return _BatchNorm2dReLU(handle, running_mean, running_var)(x, scale, bias)[0]
