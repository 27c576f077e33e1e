"""Convolutions over NCHW inputs (Conv2d, SeparableConv2d) and the kernel geometry they
share with pooling: int-or-pair arguments, ONNX pad modes, handle paddings and the
input-too-small check."""

from .. import autograd
from .. import singa_wrap as singa
from ..initializer import glorot_with_fans, zeros
from .base import Layer, _check_x, _mismatch, _param_dtype, _size

__all__ = ["Conv2d", "SeparableConv2d"]


def _pair(v, name, who):
    """(v, v) for an int, else v's 2 ints; each >= 1 (a kernel size, stride or dilation)."""
    if isinstance(v, int):
        v = (v, v)
    elif isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise TypeError("{}: {} must be an int or 2 ints, got {!r}".format(who, name, v))
    v = tuple(_size(who, name, i) if not isinstance(i, int) else i for i in v)
    if len(v) != 2:
        raise ValueError("{}: {} must be an int or 2 ints, got {}".format(who, name, v))
    if min(v) < 1:
        raise ValueError("{}: {} must be >= 1, got {}".format(who, name, v))
    return v


def _check_spatial(layer, x, pads, kernel, stride, dilation=(1, 1)):
    """Raises when the (padded) input is smaller than the (dilated) kernel."""
    h, w = x.shape[2] + pads[0] + pads[1], x.shape[3] + pads[2] + pads[3]
    kh = (kernel[0] - 1) * dilation[0] + 1
    kw = (kernel[1] - 1) * dilation[1] + 1
    if h < kh or w < kw:
        raise _mismatch(layer, x, "height and width of at least {}x{} after padding {}".format(
            kh, kw, pads), "; the padded input is {}x{}: the input is too small for this "
            "layer (check the image size or the strides/pooling before it)".format(h, w))


def _same_pads(in_size, k, s, d, lower):
    """(begin, end) padding of ONNX SAME_UPPER/SAME_LOWER: output = ceil(in / stride)."""
    out = -(-in_size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - in_size, 0)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


def _pads(pad_mode, padding, x_hw, kernel, stride, dilation=(1, 1), who="Conv2d"):
    """[top, bottom, left, right] for a pad mode."""
    if not isinstance(pad_mode, str):
        raise TypeError("{}: pad_mode must be a string, got {!r}".format(who, pad_mode))
    mode = pad_mode.upper()
    if mode == "NOTSET":
        if isinstance(padding, int):
            return [padding] * 4
        p = tuple(padding)
        if len(p) == 2:
            return [p[0], p[0], p[1], p[1]]
        if len(p) == 4:
            return list(p)
        raise ValueError("{}: padding must be an int, 2 ints or 4 ints, got {}".format(
            who, padding))
    if mode == "VALID":
        return [0, 0, 0, 0]
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        lower = mode == "SAME_LOWER"
        t, b = _same_pads(x_hw[0], kernel[0], stride[0], dilation[0], lower)
        l, r = _same_pads(x_hw[1], kernel[1], stride[1], dilation[1], lower)
        return [t, b, l, r]
    raise ValueError("{}: pad_mode must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {!r}"
                     .format(who, pad_mode))


def _handle_pads(p):
    """The handle takes (ph, pw) when symmetric, else (top, bottom, left, right)."""
    return [p[0], p[2]] if p[0] == p[1] and p[2] == p[3] else list(p)


class Conv2d(Layer):
    """2-D convolution over NCHW inputs.

    Args:
        nb_kernels: number of output channels. SINGA 2.x form:
            ``Conv2d(in_channels, out_channels, kernel_size, stride, padding, ...)``.
        kernel_size, stride, dilation: an int or 2 ints. padding: an int, 2 ints or
            (top, bottom, left, right). group: channel groups (depthwise when group ==
            in_channels). bias: add a bias. pad_mode: 'NOTSET' (use padding), 'SAME_UPPER',
            'SAME_LOWER' (output = ceil(in / stride), extra padding at the end/start) or
            'VALID'. activation: 'NOTSET' or 'RELU' (applied after the convolution, fused
            with it into one Operation, autograd.conv2d_relu).
    Shape: x (N, C, H, W) -> (N, nb_kernels, H', W'); W (nb_kernels, C/group, kh, kw).
    """

    def __init__(self, nb_kernels, kernel_size, *args, stride=1, padding=0, dilation=1, group=1,
                 bias=True, pad_mode="NOTSET", activation="NOTSET", **kwargs):
        super(Conv2d, self).__init__()
        self.in_channels = kwargs.pop("in_channels", None)
        if args:
            # Conv2d(in_channels, out_channels, kernel_size[, stride[, padding]])
            self.in_channels, nb_kernels, kernel_size = nb_kernels, kernel_size, args[0]
            if len(args) > 1:
                stride = args[1]
            if len(args) > 2:
                padding = args[2]
            if len(args) > 3:
                raise TypeError("Conv2d: too many positional arguments")
        if kwargs:
            raise TypeError("Conv2d: unexpected arguments {}".format(sorted(kwargs)))
        self.nb_kernels = _size("Conv2d", "nb_kernels", nb_kernels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.dilation = _pair(dilation, "dilation", "Conv2d")
        self.padding = padding if isinstance(padding, int) else tuple(padding)
        self.group = int(group)
        self.bias = bias
        self.pad_mode = pad_mode
        self.activation = activation
        if not isinstance(activation, str) or activation.upper() not in ("NOTSET", "RELU"):
            raise ValueError("Conv2d: activation must be 'NOTSET' or 'RELU', got {!r}"
                             .format(activation))
        _pads(pad_mode, self.padding, (1, 1), self.kernel_size, self.stride)  # validates
        if self.group < 1 or self.nb_kernels % self.group:
            raise ValueError("Conv2d: nb_kernels {} is not divisible by group {}".format(
                self.nb_kernels, self.group))
        self._handle = None
        self._handle_key = None
        if self.in_channels is not None:
            self._create(int(self.in_channels), None)

    def _create(self, in_channels, device, dtype=None):
        if in_channels % self.group:
            raise ValueError("Conv2d: in_channels {} is not divisible by group {}".format(
                in_channels, self.group))
        self.in_channels = in_channels
        kh, kw = self.kernel_size
        shape = (self.nb_kernels, in_channels // self.group, kh, kw)
        W = self._new_param("W", shape, device)
        # SINGA's fans for a conv weight: every input channel (whatever the grouping)
        # times the kernel area in, the output channels out
        glorot_with_fans(W, in_channels * kh * kw, self.nb_kernels)
        if dtype is not None and dtype != W.dtype:
            W.to_type(dtype)
        if self.bias:
            self._new_param("b", (self.nb_kernels,), device, init=zeros, dtype=dtype)

    def initialize(self, x):
        _check_x(self, x, (4,))
        if getattr(self, "W", None) is None:
            self._create(x.shape[1], x.device, _param_dtype(x))
        else:
            self._check_channels(x)
            self._adopt_input_dtype(x, ("W", "b"))

    def _check_channels(self, x):
        if x.shape[1] != self.in_channels:
            raise _mismatch(self, x, "{} input channels (axis 1 of NCHW), got {}".format(
                self.in_channels, x.shape[1]), "; W is {}".format(tuple(self.W.shape)))

    def _get_handle(self, x):
        key = tuple(x.shape)
        if self._handle_key != key:
            pads = _pads(self.pad_mode, self.padding, key[2:], self.kernel_size, self.stride,
                         self.dilation)
            _check_spatial(self, x, pads, self.kernel_size, self.stride, self.dilation)
            self._handle = singa.ConvHandle(
                x.data, list(self.kernel_size), list(self.stride), _handle_pads(pads),
                self.in_channels, self.nb_kernels, bool(self.bias), self.group,
                list(self.dilation))
            self._handle_key = key
        return self._handle

    def forward(self, x):
        _check_x(self, x, (4,))
        self._check_channels(x)
        b = self.b if self.bias else None
        if self.activation.upper() == "RELU":
            # one fused Operation: the same result as relu(conv2d(...)), one pass fewer
            return autograd.conv2d_relu(self._get_handle(x), x, self.W, b)
        return autograd.conv2d(self._get_handle(x), x, self.W, b)


class SeparableConv2d(Layer):
    """Depthwise (group = in_channels) convolution followed by a 1x1 pointwise one.

    Args: as Conv2d: ``SeparableConv2d(nb_kernels, kernel_size, stride=1, padding=0,
    bias=False)`` or the 2.x form ``SeparableConv2d(in_channels, out_channels,
    kernel_size, stride, padding, bias)``.
    """

    def __init__(self, nb_kernels, kernel_size, *args, stride=1, padding=0, bias=False):
        super(SeparableConv2d, self).__init__()
        in_channels = None
        if args:
            in_channels, nb_kernels, kernel_size = nb_kernels, kernel_size, args[0]
            if len(args) > 1:
                stride = args[1]
            if len(args) > 2:
                padding = args[2]
            if len(args) > 3:
                bias = args[3]
        self.nb_kernels = _size("SeparableConv2d", "nb_kernels", nb_kernels)
        _pair(kernel_size, "kernel_size", "SeparableConv2d")
        _pair(stride, "stride", "SeparableConv2d")
        self.kernel_size = kernel_size
        self.stride, self.padding, self.bias = stride, padding, bias
        self.in_channels = in_channels
        if in_channels is not None:
            self._create(in_channels)

    def _create(self, c):
        self.in_channels = c
        self.depthwise_conv = Conv2d(c, c, self.kernel_size, self.stride, self.padding,
                                     group=c, bias=self.bias)
        self.point_conv = Conv2d(c, self.nb_kernels, 1, bias=self.bias)

    def initialize(self, x):
        _check_x(self, x, (4,))
        if self.in_channels is None:
            self._create(x.shape[1])

    def forward(self, x):
        return self.point_conv(self.depthwise_conv(x))
