"""Pooling layers: Pooling2d with its max/average forms, and their 1-D versions."""

from .. import autograd
from .. import singa_wrap as singa
from .base import Layer, _check_x
from .conv import _check_spatial, _handle_pads, _pads, _pair

__all__ = ["Pooling2d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d"]


class Pooling2d(Layer):
    """Max or average pooling over NCHW inputs.

    Args:
        kernel_size: an int or 2 ints. stride: defaults to kernel_size. padding: an int,
        2 ints or 4 ints. is_max: max (True) or average pooling. pad_mode: as Conv2d.
    """

    def __init__(self, kernel_size, stride=None, padding=0, is_max=True, pad_mode="NOTSET"):
        super(Pooling2d, self).__init__()
        who = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", who)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", who)
        self.padding = padding if isinstance(padding, int) else tuple(padding)
        self.is_max = is_max
        self.pad_mode = pad_mode
        _pads(pad_mode, self.padding, (1, 1), self.kernel_size, self.stride, who=who)
        self._handle = None
        self._handle_key = None

    def _get_handle(self, x):
        key = tuple(x.shape)
        if self._handle_key != key:
            pads = _pads(self.pad_mode, self.padding, key[2:], self.kernel_size, self.stride,
                         who=type(self).__name__)
            _check_spatial(self, x, pads, self.kernel_size, self.stride)
            self._handle = singa.PoolingHandle(x.data, list(self.kernel_size), list(self.stride),
                                               _handle_pads(pads), bool(self.is_max))
            self._handle_key = key
        return self._handle

    def forward(self, x):
        _check_x(self, x, (4,))
        return autograd.pooling_2d(self._get_handle(x), x)


class MaxPool2d(Pooling2d):
    """Max pooling; see Pooling2d."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(MaxPool2d, self).__init__(kernel_size, stride, padding, True, pad_mode)


class AvgPool2d(Pooling2d):
    """Average pooling (padded cells count in the divisor, as in SINGA); see Pooling2d."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(AvgPool2d, self).__init__(kernel_size, stride, padding, False, pad_mode)


class _Pool1d(Pooling2d):
    """1-D pooling along the last axis of (N, C, L) or (N, C, 1, L) inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, is_max=True, pad_mode="NOTSET"):
        stride = kernel_size if stride is None else stride
        super(_Pool1d, self).__init__((1, kernel_size), (1, stride), (0, padding), is_max,
                                      pad_mode)

    def forward(self, x):
        _check_x(self, x, (3, 4))
        if x.ndim() == 3:
            n, c, length = x.shape
            y = super(_Pool1d, self).forward(autograd.reshape(x, (n, c, 1, length)))
            return autograd.reshape(y, (n, c, y.shape[3]))
        return super(_Pool1d, self).forward(x)


class MaxPool1d(_Pool1d):
    """1-D max pooling."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(MaxPool1d, self).__init__(kernel_size, stride, padding, True, pad_mode)


class AvgPool1d(_Pool1d):
    """1-D average pooling."""

    def __init__(self, kernel_size, stride=None, padding=0, pad_mode="NOTSET"):
        super(AvgPool1d, self).__init__(kernel_size, stride, padding, False, pad_mode)
