"""Dense layers: Linear, Gemm (ONNX's Gemm with a learned weight) and Embedding."""

import numpy as np

from .. import autograd
from .. import tensor as tensor_mod
from ..tensor import Tensor
from ..initializer import glorot, normal, uniform_range, zeros
from .base import Layer, _mismatch, _param_dtype, _size, _tensor_input

__all__ = ["Linear", "Gemm", "Embedding"]


class Linear(Layer):
    """y = x @ W + b.

    Args:
        out_features: output size; ``Linear(in_features, out_features)`` also works.
        bias: whether to add a bias.
    Shape: x (N, in_features) -> (N, out_features); W (in, out), b (out,).
    """

    def __init__(self, out_features, *args, bias=True, **kwargs):
        super(Linear, self).__init__()
        self.in_features = None
        if args:
            self.in_features, out_features = out_features, args[0]
        elif "in_features" in kwargs:
            self.in_features = kwargs.pop("in_features")
        self.out_features = _size("Linear", "out_features", out_features)
        self.bias = bias
        if self.in_features is not None:
            self._create(_size("Linear", "in_features", self.in_features), None)

    def _create(self, in_features, device, dtype=None):
        self.in_features = in_features
        self._new_param("W", (in_features, self.out_features), device, init=glorot, dtype=dtype)
        if self.bias:
            self._new_param("b", (self.out_features,), device, init=zeros, dtype=dtype)

    def initialize(self, x):
        _tensor_input(self, x)
        if getattr(self, "W", None) is None:
            self._create(x.shape[-1], x.device, _param_dtype(x))
        else:
            self._check(x)
            self._adopt_input_dtype(x, ("W", "b"))

    def _check(self, x):
        if not x.shape or x.shape[-1] != self.in_features:
            raise _mismatch(self, x, "{} input features (last axis), got {}".format(
                self.in_features, x.shape[-1] if x.shape else "a scalar"),
                "; W is {}: the layers before it give a different size than when it was "
                "created (check the input size, or a Flatten before it)".format(
                    tuple(self.W.shape)))

    def forward(self, x):
        self._check(x)
        y = autograd.matmul(x, self.W)
        if self.bias:
            y = autograd.add_bias(y, self.b, axis=0)
        return y


class Gemm(Layer):
    """y = alpha * A' @ W' + beta * b (ONNX Gemm with a learned W and bias).

    Args:
        nb_kernels: output size. transA/transB: transpose x / W (W is (out, in) when
        transB). bias_shape: defaults to (1, nb_kernels).
    """

    def __init__(self, nb_kernels, alpha=1.0, beta=1.0, transA=False, transB=True, bias=True,
                 bias_shape=None):
        super(Gemm, self).__init__()
        self.nb_kernels = _size("Gemm", "nb_kernels", nb_kernels)
        self.alpha, self.beta = alpha, beta
        self.transA, self.transB = int(transA), int(transB)
        self.bias = bias
        self.bias_shape = bias_shape

    def initialize(self, x):
        _tensor_input(self, x)
        self.in_features = x.shape[0] if self.transA else x.shape[-1]
        shape = ((self.nb_kernels, self.in_features) if self.transB
                 else (self.in_features, self.nb_kernels))
        # glorot's fans of a 2-D weight sum to in + out whichever way W is stored
        dtype = _param_dtype(x)
        self._new_param("W", shape, x.device, init=glorot, dtype=dtype)
        if self.bias:
            self._new_param("b", self.bias_shape or (1, self.nb_kernels), x.device, init=zeros,
                            dtype=dtype)

    def forward(self, x):
        b = self.b if self.bias else None
        return autograd.gemm(x, self.W, b, self.alpha, self.beta, self.transA, self.transB)


class Embedding(Layer):
    """Looks up rows of W (input_dim, output_dim) for integer indices x.

    Args: input_dim, output_dim, initializer: 'gaussian' (N(0, 1), the default) or
    'uniform' (U(-1, 1)).
    """

    def __init__(self, input_dim, output_dim, initializer="gaussian"):
        super(Embedding, self).__init__()
        self.input_dim = _size("Embedding", "input_dim", input_dim)
        self.output_dim = _size("Embedding", "output_dim", output_dim)
        self.initializer = initializer
        self._new_param("W", (self.input_dim, self.output_dim))
        if initializer == "uniform":
            uniform_range(self.W, -1.0, 1.0)
        else:
            normal(self.W, 0.0, 1.0)

    def from_pretrained(self, W, freeze=True):
        """Takes the table ``W`` (a Tensor or NumPy array, (input_dim, output_dim), or
        another shape, which then becomes this layer's) as the embedding weights.

        Args:
            W: the pretrained table.
            freeze: keep it fixed: W then gets no gradient and no optimizer update,
                and stays in ``get_states()`` (checkpoints) but leaves ``get_params()``.
        Returns:
            self.
        """
        arr = tensor_mod.to_numpy(W) if isinstance(W, Tensor) else np.asarray(W)
        if arr.ndim != 2:
            raise ValueError("Embedding.from_pretrained: W must be 2-D (input_dim, "
                             "output_dim), got shape {}".format(arr.shape))
        if arr.dtype.kind != "f":
            raise ValueError("Embedding.from_pretrained: W must hold floats, got dtype {}"
                             .format(arr.dtype))
        if tuple(arr.shape) != tuple(self.W.shape):
            self.input_dim, self.output_dim = int(arr.shape[0]), int(arr.shape[1])
            self._new_param("W", arr.shape, self.W.device)
        self.W.copy_from_numpy(arr)
        trainable = not freeze
        self.W.requires_grad = self.W.stores_grad = trainable
        # a frozen table is a state, not a parameter: saved, never updated
        self._state_names = () if trainable else ("W",)
        return self

    def forward(self, x):
        return autograd.embedding(x, self.W)
