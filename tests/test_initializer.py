"""Weight initialisers: in-place fills with the documented scale."""
import math

import numpy as np
import pytest

from singa import device, initializer, tensor

# (in, out) dense weight and (out, in, kh, kw) conv weight
DENSE = (200, 300)
CONV = (64, 32, 3, 3)


def _fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = shape[2] * shape[3]
    return shape[1] * rf, shape[0] * rf


# name -> (kind, variance from (fan_in, fan_out))
RULES = {
    "lecun_uniform": ("uniform", lambda i, o: 1.0 / i),
    "lecun_normal": ("normal", lambda i, o: 1.0 / i),
    "glorot_uniform": ("uniform", lambda i, o: 2.0 / (i + o)),
    "glorot_normal": ("normal", lambda i, o: 2.0 / (i + o)),
    "he_uniform": ("uniform", lambda i, o: 2.0 / i),
    "he_normal": ("normal", lambda i, o: 2.0 / i),
    "xavier": ("uniform", lambda i, o: 2.0 / (i + o)),
    "glorot": ("normal", lambda i, o: 2.0 / (i + o)),
    "msra": ("normal", lambda i, o: 2.0 / i),
    "gaussian": ("normal", lambda i, o: 4.0 / (i + o)),   # SINGA: std = sqrt(2 * 2 / (i + o))
}


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(RULES))
def test_variance_and_support(name, shape):
    device.get_default_device().SetRandSeed(7)
    t = tensor.Tensor(shape)
    t.set_value(123.0)
    out = getattr(initializer, name)(t)
    assert out is t
    a = tensor.to_numpy(t)
    kind, var = RULES[name]
    v = var(*_fans(shape))
    assert not np.any(a == 123.0)
    assert abs(a.mean()) < 4 * math.sqrt(v / a.size) + 1e-6
    assert a.var() == pytest.approx(v, rel=0.05)
    if kind == "uniform":
        limit = math.sqrt(3 * v)
        assert a.max() <= limit + 1e-6 and a.min() >= -limit - 1e-6
        assert a.max() > 0.95 * limit


def test_gaussian_and_uniform_with_explicit_fans():
    t = tensor.Tensor((100, 100))
    initializer.gaussian(t, fan_in=50)         # one fan given: avg = 1, std = sqrt(2 / 50)
    assert tensor.to_numpy(t).std() == pytest.approx(math.sqrt(2.0 / 50), rel=0.05)
    initializer.uniform(t, fan_in=30, fan_out=70)
    assert np.abs(tensor.to_numpy(t)).max() <= math.sqrt(6.0 / 100) + 1e-6
    with pytest.raises(ValueError):
        initializer.gaussian(t, fan_in=-1)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)])
def test_eye(shape):
    t = tensor.Tensor(shape)
    initializer.eye(t)
    np.testing.assert_array_equal(tensor.to_numpy(t), np.eye(*shape))


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8)])
def test_orthogonal(shape):
    t = tensor.Tensor(shape)
    initializer.orthogonal(t, gain=2.0)
    q = tensor.to_numpy(t).astype(np.float64) / 2.0
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


@pytest.mark.parametrize("fn", [initializer.eye, initializer.orthogonal])
def test_eye_orthogonal_need_2d(fn):
    with pytest.raises(ValueError, match="2-D"):
        fn(tensor.Tensor((2, 2, 2)))


def test_seed_makes_fills_reproducible():
    dev = device.get_default_device()
    vals = []
    for _ in range(2):
        dev.SetRandSeed(42)
        t = tensor.Tensor((10, 10))
        initializer.orthogonal(t)
        initializer.he_uniform(tensor.Tensor((3, 3)))
        vals.append(tensor.to_numpy(t).copy())
    np.testing.assert_array_equal(vals[0], vals[1])
