"""Random fills of singa_wrap: moments, reproducibility through the device seed."""
import numpy as np
import pytest

from singa import singa_wrap as sw

dev = sw.GetDefaultDevice()


@pytest.fixture(autouse=True)
def seeded():
    """Moments are checked at fixed seeds, so the tests never fail by chance."""
    dev.SetRandSeed(2024)


def N(t):
    return np.array(sw.to_numpy(t))


def fill(kind, shape=(200, 500), dtype=sw.kFloat32, *args):
    t = sw.Tensor(list(shape), dev, dtype)
    if kind == "uniform":
        sw.Uniform(*(args or (-1.0, 3.0)), t)
    elif kind == "gaussian":
        sw.Gaussian(*(args or (2.0, 0.5)), t)
    else:
        sw.Bernoulli(*(args or (0.3,)), t)
    return N(t)


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble])
def test_uniform_moments(dtype):
    x = fill("uniform", dtype=dtype)
    assert x.min() >= -1 and x.max() < 3
    assert x.mean() == pytest.approx(1.0, abs=0.02)
    assert x.var() == pytest.approx(16 / 12, rel=0.02)
    hist, _ = np.histogram(x, bins=8, range=(-1, 3))
    assert np.all(np.abs(hist / x.size - 1 / 8) < 0.01)


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble])
def test_gaussian_moments(dtype):
    x = fill("gaussian", dtype=dtype).astype(np.float64)
    assert x.mean() == pytest.approx(2.0, abs=0.01)
    assert x.std() == pytest.approx(0.5, rel=0.01)
    z = (x - 2.0) / 0.5
    assert np.mean(z ** 3) == pytest.approx(0.0, abs=0.03)   # skewness
    assert np.mean(z ** 4) == pytest.approx(3.0, abs=0.08)   # kurtosis
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.6827, abs=0.01)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_bernoulli(p):
    x = fill("bernoulli", (100, 1000), sw.kFloat32, p)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert x.mean() == pytest.approx(p, abs=0.01)


def test_other_dtypes_and_views():
    t = sw.Tensor([1000], dev, sw.kInt)
    sw.Bernoulli(0.5, t)
    x = N(t)
    assert x.dtype == np.int32 and set(np.unique(x)) == {0, 1}
    h = sw.Tensor([4000], dev, sw.kFloat16)
    sw.Uniform(0.0, 1.0, h)
    assert N(h).dtype == np.float16 and 0.45 < N(h).astype(np.float64).mean() < 0.55
    base = sw.from_numpy(np.zeros((40, 60), np.float32))
    view = base.Slice(1, 0, 60, 2)          # every other column
    sw.Gaussian(0.0, 1.0, view)
    b = N(base)
    assert np.all(b[:, 1::2] == 0) and np.all(b[:, ::2] != 0)


def test_same_seed_same_numbers():
    dev.SetRandSeed(42)
    a = [fill("uniform"), fill("gaussian"), fill("bernoulli")]
    dev.SetRandSeed(42)
    b = [fill("uniform"), fill("gaussian"), fill("bernoulli")]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], fill("uniform"))  # later draws differ


def test_different_seed_different_numbers():
    dev.SetRandSeed(1)
    a = fill("gaussian")
    dev.SetRandSeed(2)
    b = fill("gaussian")
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02


def test_thread_count_does_not_change_numbers():
    n = sw.get_num_threads()
    try:
        dev.SetRandSeed(7)
        a = fill("gaussian", (300, 400))
        sw.set_num_threads(1)
        dev.SetRandSeed(7)
        b = fill("gaussian", (300, 400))
    finally:
        sw.set_num_threads(n)
    np.testing.assert_array_equal(a, b)


def test_invalid_parameters():
    t = sw.Tensor([3])
    with pytest.raises(ValueError, match="Bernoulli"):
        sw.Bernoulli(1.5, t)
    with pytest.raises(ValueError, match="Uniform"):
        sw.Uniform(2.0, 1.0, t)
    with pytest.raises(ValueError, match="Gaussian"):
        sw.Gaussian(0.0, -1.0, t)
