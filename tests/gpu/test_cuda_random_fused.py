"""The CUDA random fills (src/cuda/random.cu) and fused kernels (src/cuda/fused.cu):
fills repeatable by seed, drawing the CPU's counter-based streams through the CPU's
transforms (core/random.h), with the right moments; every optimizer update equal to the
CPU device's for the same inputs (float32 and float64, each option); dropout's mask
and scale.

With SINGA_GPU_TEST_DEVICE=test they run on the host-memory test device (the CPU kernels),
which checks the tests themselves."""

import numpy as np
import pytest

from singa import singa_wrap as sw


from _gpu import tolerance

cpu = sw.GetDefaultDevice()
INITIAL_SEED = 0x5EED  # the seed a device starts with
NP = {sw.kFloat32: np.float32, sw.kDouble: np.float64}


def on(d, a):
    return sw.from_numpy(np.array(a, copy=True, order="C"), d)


def N(t):
    return np.array(sw.to_numpy(t))


ARGS = {"Uniform": (-1.0, 2.0), "Gaussian": (0.5, 2.0), "Bernoulli": (0.3,)}


def draw(d, kind, shape, dtype, seed, args=None):
    t = sw.Tensor(list(shape), d, dtype)
    d.SetRandSeed(seed)
    getattr(sw, kind)(*(args or ARGS[kind]), t)
    return N(t)


@pytest.fixture
def restore_cpu_seed():
    yield
    cpu.SetRandSeed(INITIAL_SEED)


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["Uniform", "Gaussian", "Bernoulli"])
def test_fill_is_repeatable_by_seed_and_draws_the_cpu_stream(gpu, kind, dtype, restore_cpu_seed):
    a = draw(gpu, kind, (300, 70), dtype, 1234)
    b = draw(gpu, kind, (300, 70), dtype, 1234)
    np.testing.assert_array_equal(a, b)
    c = draw(gpu, kind, (300, 70), dtype, 1235)
    assert not np.array_equal(a, c)
    want = draw(cpu, kind, (300, 70), dtype, 1234)
    if kind == "Bernoulli":
        np.testing.assert_array_equal(a, want)  # integer comparisons: exact everywhere
    else:
        # the same bits through the same transform (core/random.h); the GPU's double
        # log/cos (Gaussian) and fused multiply-adds may move the last bit of a double
        rtol = 1e-6 if dtype == sw.kFloat32 else 1e-12
        np.testing.assert_allclose(a, want, rtol=rtol, atol=rtol)


def test_consecutive_fills_draw_new_numbers(gpu):
    gpu.SetRandSeed(7)
    t = sw.Tensor([1000], gpu, sw.kFloat32)
    sw.Uniform(0.0, 1.0, t)
    first = N(t)
    sw.Uniform(0.0, 1.0, t)
    assert not np.array_equal(first, N(t))
    gpu.SetRandSeed(7)
    sw.Uniform(0.0, 1.0, t)
    np.testing.assert_array_equal(first, N(t))


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble], ids=["f32", "f64"])
def test_moments(gpu, dtype):
    n = 1 << 20
    u = draw(gpu, "Uniform", (n,), dtype, 11, (-1.0, 3.0)).astype(np.float64)
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.01 and abs(u.var() - 16 / 12) < 0.01
    g = draw(gpu, "Gaussian", (n,), dtype, 12, (2.0, 0.5)).astype(np.float64)
    assert abs(g.mean() - 2.0) < 0.005 and abs(g.std() - 0.5) < 0.005
    z = (g - 2.0) / 0.5
    assert abs((z ** 3).mean()) < 0.02 and abs((z ** 4).mean() - 3.0) < 0.05
    for p in (0.0, 0.25, 1.0):
        b = draw(gpu, "Bernoulli", (n,), dtype, 13, (p,))
        assert set(np.unique(b)) <= {0.0, 1.0}
        assert abs(b.mean() - p) < 0.005


def test_large_fill_covers_every_element(gpu):
    n = 65535 * 256 * 2 + 17  # more than one pass of the grid-stride loop
    b = draw(gpu, "Bernoulli", (n,), sw.kFloat32, 5, (1.0,))
    assert b.min() == 1.0
    u = draw(gpu, "Uniform", (n,), sw.kFloat32, 5, (1.0, 2.0))
    assert u.min() >= 1.0 and abs(u[-1000:].mean() - 1.5) < 0.05


def test_other_dtypes_and_views(gpu):
    t = sw.Tensor([4000], gpu, sw.kFloat16)
    gpu.SetRandSeed(3)
    sw.Uniform(0.0, 1.0, t)
    h = N(t)
    assert h.dtype == np.float16 and 0.0 <= h.min() and h.max() <= 1.0 and abs(h.mean() - 0.5) < 0.05
    base = on(gpu, np.zeros((40, 60), np.float32))
    sw.Gaussian(0.0, 1.0, base.Slice(1, 0, 30))
    a = N(base)
    assert (a[:, 30:] == 0).all() and abs(a[:, :30].std() - 1.0) < 0.1


# ---- optimizer updates: the CPU device's result for the same inputs ----

def _state(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    npd = NP[dtype]
    p = rng.uniform(-1, 1, shape).astype(npd)
    g = rng.uniform(-1, 1, shape).astype(npd)
    s1 = rng.uniform(0, 1, shape).astype(npd)
    s2 = rng.uniform(0, 1, shape).astype(npd)
    return p, g, s1, s2


def _run(d, update, arrays, steps):
    ts = [on(d, a) for a in arrays]
    for step in range(1, steps + 1):
        update(ts, step)
    return [N(t) for t in ts]


SGD_CASES = [
    ("plain", lambda t, s: sw.SGDUpdate(t[0], t[1], None, 0.1)),
    ("weight decay", lambda t, s: sw.SGDUpdate(t[0], t[1], None, 0.1, 0.0, 0.0, 1e-2)),
    ("momentum", lambda t, s: sw.SGDUpdate(t[0], t[1], t[2], 0.05, 0.9, 0.1, 1e-3)),
    ("nesterov", lambda t, s: sw.SGDUpdate(t[0], t[1], t[2], 0.05, 0.9, 0.0, 1e-3, True)),
]
UPDATES = SGD_CASES + [
    ("rmsprop", lambda t, s: sw.RMSPropUpdate(t[0], t[1], t[2], 0.01, 0.9, 1e-8, 1e-3)),
    ("adagrad", lambda t, s: sw.AdaGradUpdate(t[0], t[1], t[2], 0.01, 1e-8, 1e-3)),
    ("adam", lambda t, s: sw.AdamUpdate(t[0], t[1], t[2], t[3], 0.01, 0.9, 0.999, 1e-8, 1e-3, s)),
    ("adam no decay", lambda t, s: sw.AdamUpdate(t[0], t[1], t[2], t[3], 1e-3, 0.8, 0.99, 1e-6, 0.0, s)),
]


@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kDouble], ids=["f32", "f64"])
@pytest.mark.parametrize("name,update", UPDATES, ids=[u[0] for u in UPDATES])
def test_update_matches_the_cpu(gpu, name, update, dtype):
    arrays = _state((37, 53), dtype, seed=len(name))
    want = _run(cpu, update, arrays, steps=5)
    got = _run(gpu, update, arrays, steps=5)
    rtol, atol = tolerance(NP[dtype], reduced=5)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    assert not np.array_equal(got[0], arrays[0])  # the parameter moved


def test_sgd_matches_its_formula(gpu):
    p, g, buf, _ = _state((1000,), sw.kDouble, seed=1)
    t = [on(gpu, p), on(gpu, g), on(gpu, buf)]
    sw.SGDUpdate(t[0], t[1], t[2], 0.1, 0.9, 0.25, 0.01, False)
    gi = g + 0.01 * p
    m = 0.9 * buf + 0.75 * gi
    np.testing.assert_allclose(N(t[2]), m, rtol=1e-12)
    np.testing.assert_allclose(N(t[0]), p - 0.1 * m, rtol=1e-12)


def test_adam_matches_its_formula(gpu):
    p, g, m, v = _state((1000,), sw.kDouble, seed=2)
    t = [on(gpu, a) for a in (p, g, m, v)]
    step, lr, b1, b2, eps, wd = 3, 0.01, 0.9, 0.999, 1e-8, 1e-3
    sw.AdamUpdate(t[0], t[1], t[2], t[3], lr, b1, b2, eps, wd, step)
    gi = g + wd * p
    m2 = b1 * m + (1 - b1) * gi
    v2 = b2 * v + (1 - b2) * gi * gi
    want = p - lr * (m2 / (1 - b1 ** step)) / (np.sqrt(v2 / (1 - b2 ** step)) + eps)
    np.testing.assert_allclose(N(t[0]), want, rtol=1e-10, atol=1e-12)


def test_large_update(gpu):
    n = 65535 * 256 + 999
    p = np.ones(n, np.float32)
    g = np.full(n, 0.5, np.float32)
    t = [on(gpu, p), on(gpu, g)]
    sw.SGDUpdate(t[0], t[1], None, 0.1)
    np.testing.assert_array_equal(N(t[0]), np.float32(1) - np.float32(0.1) * np.float32(0.5))


# ---- dropout ----

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.75])
def test_dropout(gpu, dtype, ratio, restore_cpu_seed):
    x = np.random.default_rng(4).uniform(-1, 1, (300, 211)).astype(dtype)
    gpu.SetRandSeed(42)
    y, mask = sw.DropoutForward(on(gpu, x), ratio)
    y, mask = N(y), N(mask)
    assert y.dtype == dtype and mask.dtype == dtype
    scale = dtype(1.0 / (1.0 - ratio))
    assert set(np.unique(mask)) <= {dtype(0), scale}
    np.testing.assert_array_equal(y, x * mask)
    assert abs((mask != 0).mean() - (1 - ratio)) < 0.01
    # repeatable by seed, fresh bits on the next call, the CPU's mask for the same seed
    gpu.SetRandSeed(42)
    np.testing.assert_array_equal(N(sw.DropoutForward(on(gpu, x), ratio)[1]), mask)
    if ratio > 0:
        assert not np.array_equal(N(sw.DropoutForward(on(gpu, x), ratio)[1]), mask)
    cpu.SetRandSeed(42)
    np.testing.assert_array_equal(N(sw.DropoutForward(on(cpu, x), ratio)[1]), mask)


def test_dropout_half_input(gpu):
    x = np.random.default_rng(5).uniform(-1, 1, (64, 64)).astype(np.float16)
    gpu.SetRandSeed(1)
    y, mask = sw.DropoutForward(on(gpu, x), 0.5)
    y, mask = N(y), N(mask)
    assert y.dtype == np.float16 and set(np.unique(mask)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y, (x.astype(np.float32) * mask.astype(np.float32)).astype(np.float16))
