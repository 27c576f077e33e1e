"""Weight initialisers (SINGA's ``singa.initializer``); each fills a Tensor in place.

Fan-in and fan-out: a 2-D weight is (in, out) as SINGA's Linear stores it; a conv
weight is (out_channels, in_channels/group, kh, kw), so fan_in = in * kh * kw and
fan_out = out * kh * kw. 1-D tensors use their length for both.

The layers (singa.layer) take their initial values from here: ``glorot`` for dense
weights, ``glorot_with_fans`` for conv weights, ``recurrent_uniform`` for RNN/LSTM
weights, ``normal``/``uniform_range`` for embeddings, ``zeros``/``ones`` for biases,
batch-norm scales and running statistics.
"""

import math

import numpy as np

from . import tensor as tensor_mod

__all__ = ["eye", "orthogonal", "lecun_uniform", "lecun_normal", "glorot_uniform",
           "glorot_normal", "he_uniform", "he_normal", "gaussian", "uniform", "xavier",
           "glorot", "glorot_with_fans", "msra", "recurrent_uniform", "normal",
           "uniform_range", "constant", "zeros", "ones"]


def _fans(shape):
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _variance_scaling(t, scale, mode, distribution):
    fan_in, fan_out = _fans(t.shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    var = scale / max(1.0, n)
    if distribution == "normal":
        # A plain normal with exactly the target variance (SINGA divides by the std of a
        # truncated normal although it samples an untruncated one).
        t.gaussian(0.0, math.sqrt(var))
    else:
        limit = math.sqrt(3.0 * var)
        t.uniform(-limit, limit)
    return t


def _need_2d(name, t):
    if t.ndim() != 2:
        raise ValueError("initializer.{} needs a 2-D tensor, got shape {}".format(name, t.shape))


def eye(t):
    """Identity matrix (ones on the main diagonal of a 2-D tensor, rectangular allowed)."""
    _need_2d("eye", t)
    t.copy_from_numpy(np.eye(t.shape[0], t.shape[1], dtype=np.float32))
    return t


def orthogonal(t, gain=1.0):
    """A (semi-)orthogonal 2-D matrix scaled by ``gain`` (QR of a Gaussian matrix)."""
    _need_2d("orthogonal", t)
    rows, cols = t.shape
    g = tensor_mod.Tensor((max(rows, cols), min(rows, cols)), t.device)
    g.gaussian(0.0, 1.0)  # the device's generator, so SetRandSeed makes it reproducible
    a = tensor_mod.to_numpy(g).astype(np.float64)
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the decomposition unique (uniformly distributed q)
    if rows < cols:
        q = q.T
    t.copy_from_numpy((gain * q).astype(np.float32))
    return t


def lecun_uniform(t):
    """U(-l, l) with l = sqrt(3 / fan_in)."""
    return _variance_scaling(t, 1.0, "fan_in", "uniform")


def lecun_normal(t):
    """N(0, 1 / fan_in)."""
    return _variance_scaling(t, 1.0, "fan_in", "normal")


def glorot_uniform(t):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    return _variance_scaling(t, 1.0, "fan_avg", "uniform")


def glorot_normal(t):
    """N(0, 2 / (fan_in + fan_out))."""
    return _variance_scaling(t, 1.0, "fan_avg", "normal")


def he_uniform(t):
    """U(-l, l) with l = sqrt(6 / fan_in)."""
    return _variance_scaling(t, 2.0, "fan_in", "uniform")


def he_normal(t):
    """N(0, 2 / fan_in)."""
    return _variance_scaling(t, 2.0, "fan_in", "normal")


def _fan_args(t, fan_in, fan_out):
    if fan_in < 0 or fan_out < 0:
        raise ValueError("fan_in and fan_out must be >= 0, got {} and {}".format(fan_in, fan_out))
    if fan_in == 0 and fan_out == 0:
        fan_in, fan_out = _fans(t.shape)  # SINGA asserts here; the shape tells us
    avg = 1.0 if fan_in * fan_out == 0 else 2.0
    return avg, fan_in + fan_out


def gaussian(t, fan_in=0, fan_out=0):
    """N(0, std^2), std = sqrt(2 * avg / (fan_in + fan_out)), avg = 2 when both fans are
    given and 1 otherwise (SINGA's rule); fans come from the shape when both are 0."""
    avg, s = _fan_args(t, fan_in, fan_out)
    t.gaussian(0.0, math.sqrt(2.0 * avg / s))
    return t


def uniform(t, fan_in=0, fan_out=0):
    """U(-l, l), l = sqrt(3 * avg / (fan_in + fan_out)) (SINGA's rule, as in gaussian)."""
    avg, s = _fan_args(t, fan_in, fan_out)
    x = math.sqrt(3.0 * avg / s)
    t.uniform(-x, x)
    return t


def xavier(t):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t.shape)
    scale = math.sqrt(6.0 / (fan_in + fan_out))
    t.uniform(-scale, scale)
    return t


def glorot(t):
    """N(0, 2 / (fan_in + fan_out)) (Linear's and Gemm's weights)."""
    fan_in, fan_out = _fans(t.shape)
    return glorot_with_fans(t, fan_in, fan_out)


def glorot_with_fans(t, fan_in, fan_out):
    """N(0, 2 / (fan_in + fan_out)) with the fans given instead of read from the shape.

    Conv2d uses it with SINGA's conv rule, fan_in = in_channels * kh * kw (all input
    channels, whatever the grouping) and fan_out = out_channels.
    """
    t.gaussian(0.0, math.sqrt(2.0 / (fan_in + fan_out)))
    return t


def msra(t):
    """N(0, 2 / fan_in) (He et al.)."""
    fan_in, _ = _fans(t.shape)
    t.gaussian(0.0, math.sqrt(2.0 / fan_in))
    return t


def recurrent_uniform(t, hidden_size):
    """U(-k, k) with k = 1 / sqrt(hidden_size), the usual recurrent-weight scale."""
    k = 1.0 / math.sqrt(hidden_size)
    t.uniform(-k, k)
    return t


def normal(t, mean=0.0, std=1.0):
    """N(mean, std^2) (Embedding's default)."""
    t.gaussian(mean, std)
    return t


def uniform_range(t, low=-1.0, high=1.0):
    """U(low, high) (Embedding with ``initializer='uniform'``)."""
    t.uniform(low, high)
    return t


def constant(t, value):
    """Every element ``value``."""
    t.set_value(value)
    return t


def zeros(t):
    """All zeros (biases, BatchNorm's bias and running mean)."""
    return constant(t, 0.0)


def ones(t):
    """All ones (BatchNorm's scale and running variance)."""
    return constant(t, 1.0)
