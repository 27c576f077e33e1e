"""Convolution, pooling, batch norm and LRN on the GPU (src/cuda/nn_cudnn.cc and
src/cuda/nn_kernels.cu) against the CPU device's results on the same inputs.

Every case runs the handle API (Cpu*Forward / Backward: the names are SINGA's, the kernels
run on the operands' device) once with the operands on the GPU and once on the CPU
device, and compares: convolutions (groups, depthwise, dilation, stride, asymmetric
padding, 1x1, with and without bias; forward and the three gradients) in float32, one in
float64, and the 16-bit floats; max and average pooling with count_include_pad both ways
and asymmetric padding (ties too: max pooling's gradient goes to the first maximal cell
on both devices); batch norm training (y, batch mean, biased variance, running
statistics), inference and backward on 4-D and 2-D inputs; LRN of odd and even sizes.
"""
import numpy as np
import pytest

from singa import singa_wrap as sw

from _gpu import tolerance


def on(dev, a):
    return sw.from_numpy(np.ascontiguousarray(a), dev)


def cpu(a):
    return sw.from_numpy(np.ascontiguousarray(a))


def back(t):
    return np.array(sw.to_numpy(t))


def close(got, want, dtype, reduced=1):
    rtol, atol = tolerance(dtype, reduced)
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=rtol, atol=atol * scale)


def nn_calls(dev):
    """NN kernel calls so far on a device that counts them (the test device), else None."""
    calls = dev.kernel_calls()
    return calls.get("nn", 0) if calls else None


@pytest.fixture
def rng():
    return np.random.default_rng(1616)


# ------------------------------------------------------------------ convolution

# (N, C, H, W, F, kernel, stride, padding, group, bias, dilation)
CONV_CASES = [
    pytest.param(2, 3, 9, 9, 4, [3, 3], [1, 1], [1, 1], 1, True, [1, 1], id="basic"),
    pytest.param(2, 4, 11, 10, 6, [3, 3], [2, 2], [1, 1], 1, True, [1, 1], id="stride2"),
    pytest.param(2, 6, 8, 8, 4, [3, 3], [1, 1], [1, 1], 2, True, [1, 1], id="groups"),
    pytest.param(2, 8, 9, 9, 8, [3, 3], [1, 1], [1, 1], 8, False, [1, 1], id="depthwise"),
    pytest.param(2, 8, 9, 9, 16, [3, 3], [2, 2], [1, 1], 8, True, [1, 1], id="depthwise_x2"),
    pytest.param(2, 3, 12, 12, 5, [3, 3], [1, 1], [2, 2], 1, True, [2, 2], id="dilation"),
    pytest.param(2, 3, 11, 9, 4, [3, 2], [1, 2], [1, 0, 2, 1], 1, True, [1, 1], id="asym_pad"),
    pytest.param(1, 4, 8, 8, 6, [3, 3], [2, 2], [0, 1, 0, 1], 2, True, [1, 1], id="same_upper"),
    pytest.param(2, 3, 8, 8, 3, [3, 3], [1, 1], [2, 1, 1, 2], 3, False, [2, 1], id="asym_dil_dw"),
    pytest.param(3, 5, 6, 7, 8, [1, 1], [1, 1], [0, 0], 1, True, [1, 1], id="pointwise"),
    pytest.param(2, 3, 7, 7, 4, [5, 3], [1, 1], [0, 0], 1, False, [1, 1], id="rect_nopad"),
]


def conv_all(dev, h, x, W, b, dy, bias):
    """y, dx, dW, db of one convolution with every operand on `dev` (as NumPy)."""
    X, Wt, DY = on(dev, x), on(dev, W), on(dev, dy)
    B = on(dev, b) if bias else None
    y = sw.CpuConvForward(X, Wt, B, h)
    dx = sw.CpuConvBackwardx(DY, Wt, X, h)
    dW = sw.CpuConvBackwardW(DY, X, Wt, h)
    out = [back(y), back(dx), back(dW)]
    if bias:
        out.append(back(sw.CpuConvBackwardb(DY, B, h)))
    return out


@pytest.mark.parametrize("n,c,hh,ww,f,k,s,p,g,bias,dil", CONV_CASES)
def test_conv(gpu, rng, n, c, hh, ww, f, k, s, p, g, bias, dil):
    h = sw.ConvHandle([n, c, hh, ww], k, s, p, c, f, bias, g, dil)
    x = rng.standard_normal((n, c, hh, ww)).astype(np.float32)
    W = rng.standard_normal((f, c // g, k[0], k[1])).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    dy = rng.standard_normal((n, f, h.conv_height, h.conv_width)).astype(np.float32)
    before = nn_calls(gpu)
    got = conv_all(gpu, h, x, W, b, dy, bias)
    if before is not None:
        assert nn_calls(gpu) >= before + 3  # the device's kernels ran
    want = conv_all(None, h, x, W, b, dy, bias)
    names = ["y", "dx", "dW", "db"]
    ckk = (c // g) * k[0] * k[1]
    reduced = [ckk, (f // g) * k[0] * k[1], n * h.conv_height * h.conv_width,
               n * h.conv_height * h.conv_width]
    for name, gv, wv, r in zip(names, got, want, reduced):
        assert gv.shape == wv.shape, name
        close(gv, wv, np.float32, r)


def test_conv_float64(gpu, rng):
    h = sw.ConvHandle([2, 4, 9, 8], [3, 3], [2, 1], [1, 0, 2, 1], 4, 6, True, 2, [1, 2])
    x = rng.standard_normal((2, 4, 9, 8))
    W = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    dy = rng.standard_normal((2, 6, h.conv_height, h.conv_width))
    got = conv_all(gpu, h, x, W, b, dy, True)
    want = conv_all(None, h, x, W, b, dy, True)
    for gv, wv in zip(got, want):
        assert gv.dtype == np.float64
        close(gv, wv, np.float64, 64)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", ["basic", "groups_asym"])
def test_conv_half(gpu, rng, dtype, case):
    """The 16-bit convolutions stay 16-bit and agree with the CPU's float32-accumulated ones
    (both round each result once; the tolerance is a few units of the 16-bit format)."""
    code = sw.kFloat16 if dtype == "float16" else sw.kBFloat16
    if case == "basic":
        shape, f, k, s, p, g = (2, 4, 8, 8), 6, [3, 3], [1, 1], [1, 1], 1
    else:
        shape, f, k, s, p, g = (2, 4, 9, 8), 4, [3, 3], [2, 1], [1, 0, 0, 1], 2
    n, c = shape[:2]
    h = sw.ConvHandle(list(shape), k, s, p, c, f, True, g)
    x = rng.standard_normal(shape).astype(np.float32)
    W = (rng.standard_normal((f, c // g) + tuple(k)) * 0.3).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    dy = rng.standard_normal((n, f, h.conv_height, h.conv_width)).astype(np.float32)

    def run(dev):
        X, Wt, B, DY = (sw.from_numpy(a, dev).AsType(code) for a in (x, W, b, dy))
        y = sw.CpuConvForward(X, Wt, B, h)
        dx = sw.CpuConvBackwardx(DY, Wt, X, h)
        dW = sw.CpuConvBackwardW(DY, X, Wt, h)
        assert y.data_type() == code and dx.data_type() == code and dW.data_type() == code
        return [back(t.AsType(sw.kFloat32)) for t in (y, dx, dW)]

    got, want = run(gpu), run(None)
    rel = 2.0 ** -8 if dtype == "float16" else 2.0 ** -6
    for gv, wv in zip(got, want):
        scale = float(np.max(np.abs(wv)))
        np.testing.assert_allclose(gv, wv, rtol=rel, atol=rel * scale)


def test_conv_no_images_weight_grad(gpu):
    h = sw.ConvHandle([0, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, False)
    x = on(gpu, np.zeros((0, 3, 5, 5), np.float32))
    W = on(gpu, np.ones((2, 3, 3, 3), np.float32))
    dy = on(gpu, np.zeros((0, 2, 5, 5), np.float32))
    np.testing.assert_array_equal(back(sw.CpuConvBackwardW(dy, x, W, h)),
                                  np.zeros((2, 3, 3, 3), np.float32))


# ------------------------------------------------------------------ pooling

# (shape, kernel, stride, padding, is_max, count_include_pad)
POOL_CASES = [
    pytest.param((2, 3, 8, 8), [2, 2], [2, 2], [0, 0], True, True, id="max2x2"),
    pytest.param((2, 3, 9, 9), [3, 3], [2, 2], [1, 1], True, True, id="max3x3s2p1"),
    pytest.param((2, 2, 9, 7), [3, 2], [1, 2], [1, 0, 0, 1], True, True, id="max_asym"),
    pytest.param((2, 3, 9, 9), [3, 3], [2, 2], [1, 1], False, True, id="avg_incl"),
    pytest.param((2, 3, 9, 9), [3, 3], [2, 2], [1, 1], False, False, id="avg_excl"),
    pytest.param((2, 2, 10, 7), [3, 3], [2, 1], [2, 1, 0, 2], False, True, id="avg_asym_incl"),
    pytest.param((2, 2, 10, 7), [3, 3], [2, 1], [2, 1, 0, 2], False, False, id="avg_asym_excl"),
    pytest.param((1, 4, 7, 7), [7, 7], [1, 1], [0, 0], False, True, id="global_avg"),
]


def pool_both(dev, h, x, dy):
    X = on(dev, x)
    y = sw.CpuPoolingForward(h, X)
    dx = sw.CpuPoolingBackward(h, on(dev, dy), X, y)
    return back(y), back(dx)


@pytest.mark.parametrize("shape,k,s,p,is_max,incl", POOL_CASES)
def test_pooling(gpu, rng, shape, k, s, p, is_max, incl):
    h = sw.PoolingHandle(list(shape), k, s, p, is_max, incl)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal((shape[0], shape[1], h.pooled_height, h.pooled_width)).astype(np.float32)
    gy, gdx = pool_both(gpu, h, x, dy)
    cy, cdx = pool_both(None, h, x, dy)
    close(gy, cy, np.float32, k[0] * k[1])
    close(gdx, cdx, np.float32, k[0] * k[1])


@pytest.mark.parametrize("p", [[0, 0], [1, 1]])
def test_max_pool_ties(gpu, rng, p):
    """Integer inputs with many equal maxima: both devices route each gradient to the first
    maximal cell of its window, so dx agrees exactly."""
    shape = (2, 2, 8, 8)
    h = sw.PoolingHandle(list(shape), [3, 3], [1, 1], p, True, True)
    x = rng.integers(0, 3, shape).astype(np.float32)
    dy = rng.integers(-4, 5, (2, 2, h.pooled_height, h.pooled_width)).astype(np.float32)
    gy, gdx = pool_both(gpu, h, x, dy)
    # The CPU's own loops (not oneDNN's primitive) define the tie rule.
    backend = sw.get_conv_backend()
    sw.set_conv_backend("reference")
    try:
        cy, cdx = pool_both(None, h, x, dy)
    finally:
        sw.set_conv_backend(backend)
    np.testing.assert_array_equal(gy, cy)
    np.testing.assert_array_equal(gdx, cdx)


def test_pooling_float64(gpu, rng):
    h = sw.PoolingHandle([2, 3, 9, 8], [3, 3], [2, 2], [1, 1], False, False)
    x = rng.standard_normal((2, 3, 9, 8))
    dy = rng.standard_normal((2, 3, h.pooled_height, h.pooled_width))
    for gv, cv in zip(pool_both(gpu, h, x, dy), pool_both(None, h, x, dy)):
        assert gv.dtype == np.float64
        close(gv, cv, np.float64, 9)


# ------------------------------------------------------------------ batch norm

@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (16, 5), (1, 4, 3, 3)],
                         ids=["4d", "2d", "one_image"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_batchnorm(gpu, rng, shape, dtype):
    C = shape[1]
    m = int(np.prod(shape)) // C
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    scale = rng.uniform(0.5, 1.5, C).astype(dtype)
    bias = rng.standard_normal(C).astype(dtype)
    rm0 = rng.standard_normal(C).astype(dtype)
    rv0 = rng.uniform(0.5, 2, C).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)

    def run(dev):
        h = sw.BatchNormHandle(0.9, list(shape))
        X, S, B = on(dev, x), on(dev, scale), on(dev, bias)
        rm, rv = on(dev, rm0), on(dev, rv0)
        y, mean, var = sw.CpuBatchNormForwardTraining(h, X, S, B, rm, rv)
        yi = sw.CpuBatchNormForwardInference(h, X, S, B, rm, rv)
        dx, ds, db = sw.CpuBatchNormBackwardx(h, y, on(dev, dy), X, S, B, mean, var)
        return [back(t) for t in (y, mean, var, rm, rv, yi, dx, ds, db)]

    got, want = run(gpu), run(None)
    names = ["y", "mean", "var", "running_mean", "running_var", "y_inference", "dx", "dscale",
             "dbias"]
    for name, gv, wv in zip(names, got, want):
        assert gv.shape == wv.shape, name
        close(gv, wv, dtype, m)


def test_batchnorm_var_is_biased(gpu, rng):
    """The batch variance returned is the biased one (the running one takes the unbiased)."""
    x = rng.standard_normal((8, 2, 3, 3)).astype(np.float32)
    h = sw.BatchNormHandle(0.0, list(x.shape))
    rm, rv = on(gpu, np.zeros(2, np.float32)), on(gpu, np.ones(2, np.float32))
    _, mean, var = sw.CpuBatchNormForwardTraining(h, on(gpu, x), on(gpu, np.ones(2, np.float32)),
                                                  on(gpu, np.zeros(2, np.float32)), rm, rv)
    xs = x.transpose(1, 0, 2, 3).reshape(2, -1).astype(np.float64)
    close(back(mean), xs.mean(1), np.float32, xs.shape[1])
    close(back(var), xs.var(1), np.float32, xs.shape[1])
    close(back(rv), xs.var(1, ddof=1), np.float32, xs.shape[1])


# ------------------------------------------------------------------ LRN

@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 1.0), (3, 0.5, 0.75, 2.0),
                                               (4, 0.3, 0.5, 1.0), (2, 0.2, 1.0, 1.5),
                                               (7, 0.4, 0.6, 1.0), (19, 0.1, 0.75, 1.0)],
                         ids=["alexnet", "s3", "even4", "s2b1", "s7b06", "s19"])
def test_lrn(gpu, rng, size, alpha, beta, k):
    shape = (2, 9, 4, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)

    def run(dev):
        X = on(dev, x)
        y = sw.CpuLRNForward(X, size, alpha, beta, k)
        dx = sw.CpuLRNBackward(on(dev, dy), X, y, size, alpha, beta, k)
        return back(y), back(dx)

    for gv, wv in zip(run(gpu), run(None)):
        close(gv, wv, np.float32, size)


def test_lrn_2d_float64(gpu, rng):
    x = rng.standard_normal((6, 11))
    dy = rng.standard_normal((6, 11))

    def run(dev):
        X = on(dev, x)
        y = sw.CpuLRNForward(X, 5, 0.3, 0.75, 1.0)
        return back(y), back(sw.CpuLRNBackward(on(dev, dy), X, y, 5, 0.3, 0.75, 1.0))

    for gv, wv in zip(run(gpu), run(None)):
        close(gv, wv, np.float64, 5)
