"""Normalisation layers: BatchNorm2d (with running statistics) and LRN."""

from .. import autograd
from .. import singa_wrap as singa
from ..initializer import ones, zeros
from ..tensor import Tensor
from .base import Layer, _check_x, _mismatch, _param_dtype, _size

__all__ = ["BatchNorm2d", "LRN"]


class BatchNorm2d(Layer):
    """Batch normalisation per channel of (N, C, H, W) or (N, C) inputs.

    Args:
        num_features: optional (SINGA 2.x form); taken from the input otherwise.
        momentum: running = momentum * running + (1 - momentum) * batch statistic.
        activation: 'NOTSET' or 'RELU': ReLU applied to the normalised output, fused with
            it into one Operation (autograd.batchnorm_2d_relu). This argument is an
            extension: SINGA's BatchNorm2d has none.
    Params: scale (C,), bias (C,). States: running_mean (C,), running_var (C,).
    """

    _state_names = ("running_mean", "running_var")

    def __init__(self, *args, momentum=0.9, activation="NOTSET"):
        super(BatchNorm2d, self).__init__()
        if len(args) > 1:
            momentum = args[1]
        if not 0.0 <= momentum <= 1.0:
            raise ValueError("BatchNorm2d: momentum must be in [0, 1], got {}".format(momentum))
        if not isinstance(activation, str) or activation.upper() not in ("NOTSET", "RELU"):
            raise ValueError("BatchNorm2d: activation must be 'NOTSET' or 'RELU', got {!r}"
                             .format(activation))
        self.momentum = float(momentum)
        self.activation = activation
        self.channels = _size("BatchNorm2d", "num_features", args[0]) if args else None
        self._handle = None
        self._handle_key = None
        if self.channels is not None:
            self._create(self.channels, None)

    def _create(self, c, device, dtype=None):
        self.channels = c
        self._new_param("scale", (c,), device, init=ones, dtype=dtype)
        self._new_param("bias", (c,), device, init=zeros, dtype=dtype)
        self.running_mean = zeros(Tensor((c,), device, requires_grad=False, name="running_mean"))
        self.running_var = ones(Tensor((c,), device, requires_grad=False, name="running_var"))
        if dtype is not None:
            self.running_mean.to_type(dtype)
            self.running_var.to_type(dtype)

    def initialize(self, x):
        _check_x(self, x, (2, 4))
        if getattr(self, "scale", None) is None:
            self._create(x.shape[1], x.device, _param_dtype(x))
        else:
            self._adopt_input_dtype(x, ("scale", "bias", "running_mean", "running_var"))

    def forward(self, x):
        _check_x(self, x, (2, 4))
        if x.shape[1] != self.channels:
            raise _mismatch(self, x, "{} channels (axis 1), got {}".format(
                self.channels, x.shape[1]), "; its scale/bias/running statistics have {}"
                .format(self.channels))
        key = tuple(x.shape)
        if self._handle_key != key:
            self._handle = singa.BatchNormHandle(self.momentum, x.data)
            self._handle_key = key
        norm = autograd.batchnorm_2d_relu if self.activation.upper() == "RELU" \
            else autograd.batchnorm_2d
        return norm(self._handle, x, self.scale, self.bias, self.running_mean, self.running_var)


class LRN(Layer):
    """Local response normalisation across channels (see autograd.lrn)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        super(LRN, self).__init__()
        self.size, self.alpha, self.beta, self.k = _size("LRN", "size", size), alpha, beta, k

    def forward(self, x):
        return autograd.lrn(x, self.size, self.alpha, self.beta, self.k)
