"""Convolution, pooling, batch-norm and LRN core kernels against NumPy references.

Forward passes are compared with naive NumPy loops written here; backward passes with
central-difference gradients (``singa.testing.numeric_grad``) of the scalar loss sum(y * r)
in float64.
"""
import numpy as np
import pytest

from singa import singa_wrap as sw
from singa.testing import numeric_grad


@pytest.fixture
def rng():
    """Fixed seed, so failures reproduce (kept local: this file needs no conftest)."""
    return np.random.default_rng(1234)


def T(a):
    return sw.from_numpy(np.ascontiguousarray(a))


def N(t):
    return np.array(sw.to_numpy(t))


def pad4(p):
    return tuple(p) * 2 if len(p) == 1 else (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)


# ---------------------------------------------------------------- convolution

def conv_ref(x, w, b, stride, pad, group, dilation=(1, 1)):
    t, bo, le, ri = pad4(pad)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (le, ri)))
    n, c, h, wd = xp.shape
    f, cg, kh, kw = w.shape
    sh, sw_ = stride
    dh, dw = dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw_ + 1
    fg = f // group
    y = np.zeros((n, f, oh, ow), x.dtype)
    for g in range(group):
        for i in range(oh):
            for j in range(ow):
                win = xp[:, g * cg:(g + 1) * cg,
                         i * sh:i * sh + dh * (kh - 1) + 1:dh,
                         j * sw_:j * sw_ + dw * (kw - 1) + 1:dw]
                y[:, g * fg:(g + 1) * fg, i, j] = np.einsum("nckl,fckl->nf", win,
                                                            w[g * fg:(g + 1) * fg])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


# (N, C, H, W, F, kernel, stride, padding, group, bias, dilation)
CONV_CASES = [
    pytest.param(2, 3, 5, 5, 4, (3, 3), (1, 1), (1, 1), 1, True, (1, 1), id="basic"),
    pytest.param(2, 3, 6, 7, 4, (3, 2), (2, 1), (0, 1, 1, 0), 1, False, (1, 1), id="asym-pad"),
    pytest.param(1, 3, 5, 6, 2, (2, 2), (2, 2), (0, 1, 0, 1), 1, True, (1, 1), id="same-upper"),
    pytest.param(1, 4, 5, 5, 6, (3, 3), (1, 2), (1, 1), 2, True, (1, 1), id="group2"),
    pytest.param(2, 4, 6, 6, 4, (3, 3), (2, 2), (1, 2, 0, 1), 4, True, (1, 1), id="depthwise"),
    pytest.param(2, 4, 5, 5, 8, (3, 3), (1, 1), (1, 1), 4, False, (1, 1), id="depthwise-x2"),
    pytest.param(2, 3, 4, 4, 5, (1, 1), (1, 1), (0, 0), 1, True, (1, 1), id="pointwise"),
    pytest.param(1, 2, 7, 7, 3, (3, 3), (1, 1), (2, 2), 1, True, (2, 2), id="dilated"),
]


def make_conv(rng, n, c, h, w, f, k, stride, pad, group, bias, dtype=np.float64):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((f, c // group) + tuple(k)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype) if bias else None
    return x, W, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c,h,w,f,k,stride,pad,group,bias,dil", CONV_CASES)
def test_conv_forward(rng, n, c, h, w, f, k, stride, pad, group, bias, dil, dtype):
    x, W, b = make_conv(rng, n, c, h, w, f, k, stride, pad, group, bias, dtype)
    hd = sw.ConvHandle(T(x), list(k), list(stride), list(pad), c, f, bias, group, list(dil))
    y = N(sw.CpuConvForward(T(x), T(W), T(b) if bias else None, hd))
    ref = conv_ref(x, W, b, stride, pad, group, dil)
    assert y.dtype == dtype
    assert (hd.conv_height, hd.conv_width) == ref.shape[2:]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("n,c,h,w,f,k,stride,pad,group,bias,dil", CONV_CASES)
def test_conv_backward(rng, n, c, h, w, f, k, stride, pad, group, bias, dil):
    x, W, b = make_conv(rng, n, c, h, w, f, k, stride, pad, group, True)
    hd = sw.ConvHandle(x.shape, k, stride, pad, c, f, True, group, dil)
    r = rng.standard_normal((n, f, hd.conv_height, hd.conv_width))

    def loss():
        return float((N(sw.CpuConvForward(T(x), T(W), T(b), hd)) * r).sum())

    dy = T(r)
    dx = N(sw.CpuConvBackwardx(dy, T(W), T(x), hd))
    dW = N(sw.CpuConvBackwardW(dy, T(x), T(W), hd))
    db = N(sw.CpuConvBackwardb(dy, T(b), hd))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dW, numeric_grad(loss, W), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(db, numeric_grad(loss, b), rtol=1e-6, atol=1e-6)


def test_conv_handle_attributes():
    hd = sw.ConvHandle([2, 6, 9, 8], [3, 2], [2, 1], [1, 0, 2, 1], 6, 4, False, 2)
    assert (hd.kernel_h, hd.kernel_w, hd.stride_h, hd.stride_w) == (3, 2, 2, 1)
    assert (hd.pad_top, hd.pad_bottom, hd.pad_left, hd.pad_right) == (1, 0, 2, 1)
    assert (hd.pad_h, hd.pad_w) == (1, 2)
    assert (hd.channels, hd.num_filters, hd.group, hd.bias_term) == (6, 4, 2, False)
    assert (hd.batchsize, hd.height, hd.width) == (2, 9, 8)
    assert (hd.conv_height, hd.conv_width) == ((9 + 1 - 3) // 2 + 1, 8 + 3 - 2 + 1)
    # ints are accepted where SINGA passes 2-element lists
    hd = sw.ConvHandle([1, 3, 5, 5], 3, 1, 1, 3, 2, True)
    assert (hd.kernel_h, hd.kernel_w, hd.pad_bottom, hd.conv_height) == (3, 3, 1, 5)


def test_conv_no_bias_ignores_b(rng):
    x, W, _ = make_conv(rng, 1, 2, 4, 4, 3, (3, 3), (1, 1), (1, 1), 1, False, np.float32)
    hd = sw.ConvHandle(T(x), [3, 3], [1, 1], [1, 1], 2, 3, False)
    ref = conv_ref(x, W, None, (1, 1), (1, 1), 1)
    for b in (None, sw.Tensor((0,)), T(np.ones(3, np.float32))):
        np.testing.assert_allclose(N(sw.CpuConvForward(T(x), T(W), b, hd)), ref, rtol=1e-5,
                                   atol=1e-5)


def test_conv_batch_may_differ_from_handle(rng):
    x, W, b = make_conv(rng, 3, 2, 4, 4, 3, (3, 3), (1, 1), (1, 1), 1, True)
    hd = sw.ConvHandle([1, 2, 4, 4], [3, 3], [1, 1], [1, 1], 2, 3, True)
    np.testing.assert_allclose(N(sw.CpuConvForward(T(x), T(W), T(b), hd)),
                               conv_ref(x, W, b, (1, 1), (1, 1), 1), rtol=1e-10)


# ---------------------------------------------------------------- pooling

def pool_ref(x, k, stride, pad, is_max, include_pad=True):
    t, bo, le, ri = pad4(pad)
    fill = -np.inf if is_max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (le, ri)), constant_values=fill)
    mask = np.pad(np.ones(x.shape[2:]), ((t, bo), (le, ri)))
    n, c, h, w = xp.shape
    oh, ow = (h - k[0]) // stride[0] + 1, (w - k[1]) // stride[1] + 1
    y = np.zeros((n, c, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * stride[0], j * stride[1]
            win = xp[:, :, hs:hs + k[0], ws:ws + k[1]]
            if is_max:
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = k[0] * k[1] if include_pad else mask[hs:hs + k[0], ws:ws + k[1]].sum()
                y[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return y


# (N, C, H, W, kernel, stride, padding)
POOL_CASES = [
    pytest.param(2, 3, 6, 6, (2, 2), (2, 2), (0, 0), id="2x2"),
    pytest.param(1, 2, 5, 7, (3, 3), (2, 2), (1, 1), id="3x3-pad"),
    pytest.param(2, 2, 5, 5, (3, 2), (1, 2), (1, 0, 0, 1), id="asym"),
    pytest.param(1, 1, 4, 4, (2, 2), (1, 1), (0, 1, 0, 1), id="same-upper"),
]
POOL_MODES = [pytest.param(True, True, id="max"), pytest.param(False, True, id="avg"),
              pytest.param(False, False, id="avg-exclude-pad")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("is_max,include_pad", POOL_MODES)
@pytest.mark.parametrize("n,c,h,w,k,stride,pad", POOL_CASES)
def test_pool_forward(rng, n, c, h, w, k, stride, pad, is_max, include_pad, dtype):
    # all-negative inputs: padded cells must never win a max window
    x = (rng.standard_normal((n, c, h, w)) - 5).astype(dtype)
    hd = sw.PoolingHandle(T(x), list(k), list(stride), list(pad), is_max, include_pad)
    y = N(sw.CpuPoolingForward(hd, T(x)))
    ref = pool_ref(x, k, stride, pad, is_max, include_pad)
    assert (hd.pooled_height, hd.pooled_width) == ref.shape[2:]
    np.testing.assert_allclose(y, ref, rtol=1e-6)


@pytest.mark.parametrize("is_max,include_pad", POOL_MODES)
@pytest.mark.parametrize("n,c,h,w,k,stride,pad", POOL_CASES)
def test_pool_backward(rng, n, c, h, w, k, stride, pad, is_max, include_pad):
    x = rng.standard_normal((n, c, h, w)) - 5
    hd = sw.PoolingHandle(x.shape, k, stride, pad, is_max, include_pad)
    y = sw.CpuPoolingForward(hd, T(x))
    r = rng.standard_normal(N(y).shape)

    def loss():
        return float((N(sw.CpuPoolingForward(hd, T(x))) * r).sum())

    dx = N(sw.CpuPoolingBackward(hd, T(r), T(x), y))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-6)


def test_pool_handle_attributes():
    hd = sw.PoolingHandle([2, 3, 7, 6], [3, 2], [2, 2], [1, 0, 1, 1], False)
    assert (hd.kernel_h, hd.kernel_w, hd.stride_h, hd.stride_w) == (3, 2, 2, 2)
    assert (hd.pad_top, hd.pad_bottom, hd.pad_left, hd.pad_right) == (1, 0, 1, 1)
    assert (hd.batchsize, hd.channels, hd.height, hd.width) == (2, 3, 7, 6)
    assert (hd.pooled_height, hd.pooled_width) == (3, 4)
    assert not hd.is_max_pooling and hd.count_include_pad


def test_max_pool_tie_gradient_goes_to_one_cell():
    x = np.ones((1, 1, 2, 2))
    hd = sw.PoolingHandle(x.shape, [2, 2], [2, 2], [0, 0])
    dx = N(sw.CpuPoolingBackward(hd, T(np.full((1, 1, 1, 1), 3.0)), T(x),
                                 sw.CpuPoolingForward(hd, T(x))))
    assert dx.sum() == 3.0 and dx[0, 0, 0, 0] == 3.0


# ---------------------------------------------------------------- batch norm

def bn_ref(x, scale, bias, mean, var, eps=1e-5):
    shp = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * scale.reshape(shp) \
        + bias.reshape(shp)


BN_SHAPES = [pytest.param((4, 3, 3, 2), id="4d"), pytest.param((5, 4), id="2d"),
             pytest.param((2, 2, 1, 1), id="1x1")]


def bn_params(rng, c, dtype=np.float64):
    return (rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype),
            rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_training_forward(rng, shape, dtype):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    c = shape[1]
    scale, bias, rm, rv = bn_params(rng, c, dtype)
    rm0, rv0 = rm.copy(), rv.copy()
    hd = sw.BatchNormHandle(0.9, T(x))
    assert (hd.batchsize, hd.channels, hd.is_2d) == (shape[0], c, len(shape) == 2)
    assert hd.eps == pytest.approx(1e-5) and hd.factor == pytest.approx(0.9)
    trm, trv = T(rm), T(rv)
    y, mean, var = sw.CpuBatchNormForwardTraining(hd, T(x), T(scale), T(bias), trm, trv)
    axes = (0,) + tuple(range(2, len(shape)))
    bm, bv = x.mean(axis=axes), x.var(axis=axes)
    m = x.size // c
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(N(mean), bm, rtol=tol, atol=tol)
    np.testing.assert_allclose(N(var), bv, rtol=tol, atol=tol)
    np.testing.assert_allclose(N(y), bn_ref(x, scale, bias, bm, bv), rtol=tol, atol=tol)
    # running = momentum * running + (1 - momentum) * batch; unbiased variance
    np.testing.assert_allclose(N(trm), 0.9 * rm0 + 0.1 * bm, rtol=tol, atol=tol)
    np.testing.assert_allclose(N(trv), 0.9 * rv0 + 0.1 * bv * m / (m - 1), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_inference(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    scale, bias, rm, rv = bn_params(rng, shape[1], dtype)
    hd = sw.BatchNormHandle(0.9, x.shape)
    y = sw.CpuBatchNormForwardInference(hd, T(x), T(scale), T(bias), T(rm), T(rv))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(N(y), bn_ref(x, scale, bias, rm, rv), rtol=tol, atol=tol)


def test_batchnorm_running_stats_accept_4d_views(rng):
    x = rng.standard_normal((3, 2, 2, 2))
    hd = sw.BatchNormHandle(0.5, x.shape)
    rm, rv = T(np.zeros((1, 2, 1, 1))), T(np.ones((1, 2, 1, 1)))
    sw.CpuBatchNormForwardTraining(hd, T(x), T(np.ones(2)), T(np.zeros(2)), rm, rv)
    np.testing.assert_allclose(N(rm).ravel(), 0.5 * x.mean(axis=(0, 2, 3)))


@pytest.mark.parametrize("shape", BN_SHAPES[:2])
def test_batchnorm_backward(rng, shape):
    x = rng.standard_normal(shape) * 2 + 1
    scale, bias, rm, rv = bn_params(rng, shape[1])
    hd = sw.BatchNormHandle(0.9, x.shape)
    r = rng.standard_normal(shape)

    def fwd():
        return sw.CpuBatchNormForwardTraining(hd, T(x), T(scale), T(bias), T(rm.copy()),
                                              T(rv.copy()))

    def loss():
        return float((N(fwd()[0]) * r).sum())

    y, mean, var = fwd()
    dx, ds, db = sw.CpuBatchNormBackwardx(hd, y, T(r), T(x), T(scale), T(bias), mean, var)
    np.testing.assert_allclose(N(dx), numeric_grad(loss, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(ds), numeric_grad(loss, scale), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(db), numeric_grad(loss, bias), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- LRN

def lrn_ref(x, size, alpha, beta, k):
    c = x.shape[1]
    sq = x ** 2
    s = np.zeros_like(x)
    for i in range(c):
        lo, hi = max(0, i - (size - 1) // 2), min(c - 1, i + size // 2)
        s[:, i] = sq[:, lo:hi + 1].sum(axis=1)
    return x / (k + alpha / size * s) ** beta


LRN_CASES = [
    pytest.param((2, 6, 3, 3), 5, 1e-4, 0.75, 1.0, id="alexnet"),
    pytest.param((1, 7, 2, 3), 3, 0.5, 0.75, 2.0, id="strong"),
    pytest.param((2, 5, 2, 2), 4, 0.3, 0.5, 1.0, id="even-size"),
    pytest.param((3, 4), 3, 0.2, 1.0, 1.5, id="2d"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,size,alpha,beta,k", LRN_CASES)
def test_lrn_forward(rng, shape, size, alpha, beta, k, dtype):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    y = N(sw.CpuLRNForward(T(x), size, alpha, beta, k))
    np.testing.assert_allclose(y, lrn_ref(x.astype(np.float64), size, alpha, beta, k),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape,size,alpha,beta,k", LRN_CASES)
def test_lrn_backward(rng, shape, size, alpha, beta, k):
    x = rng.standard_normal(shape) * 2
    r = rng.standard_normal(shape)

    def loss():
        return float((N(sw.CpuLRNForward(T(x), size, alpha, beta, k)) * r).sum())

    y = sw.CpuLRNForward(T(x), size, alpha, beta, k)
    dx = N(sw.CpuLRNBackward(T(r), T(x), y, size, alpha, beta, k))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-7)


def test_lrn_default_arguments(rng):
    x = rng.standard_normal((1, 6, 2, 2))
    np.testing.assert_allclose(N(sw.CpuLRNForward(T(x), 5)), lrn_ref(x, 5, 1e-4, 0.75, 1.0))


# ---------------------------------------------------------------- errors

def f32(*shape):
    return T(np.zeros(shape, np.float32))


ERROR_CASES = [
    pytest.param(lambda: sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 4, 2, True),
                 ValueError, "ConvHandle", id="handle-channels"),
    pytest.param(lambda: sw.ConvHandle([1, 4, 5, 5], [3, 3], [1, 1], [1, 1], 4, 6, True, 4),
                 ValueError, "ConvHandle", id="handle-group"),
    pytest.param(lambda: sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1, 1], 3, 2, True),
                 ValueError, "padding", id="handle-3-pads"),
    pytest.param(lambda: sw.ConvHandle([1, 3, 2, 2], [5, 5], [1, 1], [0, 0], 3, 2, True),
                 ValueError, "ConvHandle", id="kernel-too-big"),
    pytest.param(lambda: sw.CpuConvForward(
        f32(1, 4, 5, 5), f32(2, 3, 3, 3), f32(2),
        sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, True)),
        ValueError, "CpuConvForward", id="fwd-x-channels"),
    pytest.param(lambda: sw.CpuConvForward(
        f32(1, 3, 5, 5), f32(2, 4, 3, 3), f32(2),
        sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, True)),
        ValueError, "CpuConvForward", id="fwd-W-shape"),
    pytest.param(lambda: sw.CpuConvForward(
        f32(1, 3, 5, 5), f32(2, 3, 3, 3), f32(3),
        sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, True)),
        ValueError, "CpuConvForward", id="fwd-b-shape"),
    pytest.param(lambda: sw.CpuConvBackwardx(
        f32(1, 2, 4, 4), f32(2, 3, 3, 3), f32(1, 3, 5, 5),
        sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, True)),
        ValueError, "CpuConvBackwardx", id="bwd-dy-shape"),
    pytest.param(lambda: sw.CpuConvForward(
        T(np.zeros((1, 3, 5, 5), np.int32)), f32(2, 3, 3, 3), f32(2),
        sw.ConvHandle([1, 3, 5, 5], [3, 3], [1, 1], [1, 1], 3, 2, True)),
        TypeError, "CpuConvForward", id="int-input"),
    pytest.param(lambda: sw.CpuPoolingForward(
        sw.PoolingHandle([1, 3, 4, 4], [2, 2], [2, 2], [0, 0]), f32(1, 2, 4, 4)),
        ValueError, "CpuPoolingForward", id="pool-channels"),
    pytest.param(lambda: sw.PoolingHandle([1, 3, 4, 4], [2, 2], [2, 2], [2, 2]),
                 ValueError, "PoolingHandle", id="pool-pad-too-big"),
    pytest.param(lambda: sw.CpuBatchNormForwardInference(
        sw.BatchNormHandle(0.9, [2, 3, 2, 2]), f32(2, 4, 2, 2), f32(3), f32(3), f32(3), f32(3)),
        ValueError, "CpuBatchNormForwardInference", id="bn-channels"),
    pytest.param(lambda: sw.CpuBatchNormForwardTraining(
        sw.BatchNormHandle(0.9, [2, 3, 2, 2]), f32(2, 3, 2, 2), f32(4), f32(3), f32(3), f32(3)),
        ValueError, "scale", id="bn-scale"),
    pytest.param(lambda: sw.BatchNormHandle(0.9, [2, 3, 2]), ValueError, "BatchNormHandle",
                 id="bn-3d"),
    pytest.param(lambda: sw.CpuLRNBackward(f32(1, 3, 2, 2), f32(1, 3, 2, 2), f32(1, 3, 2, 1), 3),
                 ValueError, "CpuLRNBackward", id="lrn-y-shape"),
]


@pytest.mark.parametrize("fn,exc,needle", ERROR_CASES)
def test_errors(fn, exc, needle):
    with pytest.raises(exc, match=needle):
        fn()


# ---------------------------------------------------------------- oneDNN vs reference
#
# float32 kernels run on oneDNN when singa is built with it; the im2col/loop kernels above
# stay the reference. Each case runs both backends on the same data and compares.

needs_dnnl = pytest.mark.skipif(not getattr(sw, "USE_DNNL", False),
                                reason="singa built without oneDNN")


class backend:
    """Context manager: run the nn kernels on `name`, restoring the previous backend."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.old = sw.get_conv_backend()
        sw.set_conv_backend(self.name)

    def __exit__(self, *exc):
        sw.set_conv_backend(self.old)


def both(fn):
    """fn() under the reference and the oneDNN backends, outputs as lists of arrays."""
    out = []
    for name in ("reference", "dnnl"):
        with backend(name):
            r = fn()
        out.append([N(t) for t in (r if isinstance(r, (list, tuple)) else [r])])
    return out


def assert_close(got, want, rtol=1e-4, floor=1e-30):
    """Elementwise within rtol of each output's largest magnitude (at least `floor`, for
    outputs that are small by cancellation, like batch-norm's dx on a batch of 2)."""
    for g, w in zip(got, want):
        scale = max(float(np.abs(w).max()), floor) if w.size else 1.0
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale)


def test_backend_switch():
    old = sw.get_conv_backend()
    assert old in ("auto", "reference", "dnnl")
    with pytest.raises(ValueError, match="set_conv_backend"):
        sw.set_conv_backend("cudnn")
    with backend("reference"):
        assert sw.get_conv_backend() == "reference"
    assert sw.get_conv_backend() == old
    if not sw.USE_DNNL:
        with pytest.raises(ValueError, match="without oneDNN"):
            sw.set_conv_backend("dnnl")


# (N, C, H, W, F, kernel, stride, padding, group, bias, dilation)
DNNL_CONV_CASES = CONV_CASES + [
    pytest.param(4, 3, 32, 32, 32, (5, 5), (1, 1), (2, 2), 1, True, (1, 1), id="cifar-conv1"),
    pytest.param(3, 32, 15, 15, 32, (5, 5), (1, 1), (2, 2), 1, True, (1, 1), id="cifar-conv2"),
    pytest.param(2, 32, 7, 7, 64, (5, 5), (1, 1), (2, 2), 1, False, (1, 1), id="cifar-conv3"),
    pytest.param(2, 32, 9, 11, 48, (3, 3), (2, 2), (0, 1, 1, 0), 1, True, (1, 1),
                 id="strided-asym"),
    pytest.param(2, 64, 10, 10, 64, (3, 3), (1, 1), (1, 1), 64, False, (1, 1),
                 id="depthwise-64"),
    pytest.param(2, 48, 9, 9, 48, (3, 3), (2, 2), (1, 1), 48, True, (1, 1),
                 id="depthwise-s2"),
    pytest.param(2, 64, 8, 8, 128, (1, 1), (1, 1), (0, 0), 1, False, (1, 1), id="pointwise-64"),
    pytest.param(2, 32, 12, 12, 64, (3, 3), (1, 1), (1, 1), 4, True, (1, 1), id="group4"),
    pytest.param(2, 16, 12, 12, 16, (3, 3), (1, 1), (2, 2), 1, True, (2, 2), id="dilated-16"),
    pytest.param(1, 5, 6, 9, 7, (2, 4), (3, 2), (1, 0, 2, 1), 1, True, (1, 2),
                 id="odd-everything"),
]


@needs_dnnl
@pytest.mark.parametrize("n,c,h,w,f,k,stride,pad,group,bias,dil", DNNL_CONV_CASES)
def test_dnnl_conv_matches_reference(rng, n, c, h, w, f, k, stride, pad, group, bias, dil):
    x, W, b = make_conv(rng, n, c, h, w, f, k, stride, pad, group, bias, np.float32)
    hd = sw.ConvHandle(x.shape, list(k), list(stride), list(pad), c, f, bias, group, list(dil))
    dy = rng.standard_normal((n, f, hd.conv_height, hd.conv_width)).astype(np.float32)
    bt = T(b) if bias else None

    def run():
        out = [sw.CpuConvForward(T(x), T(W), bt, hd),
               sw.CpuConvBackwardx(T(dy), T(W), T(x), hd),
               sw.CpuConvBackwardW(T(dy), T(x), T(W), hd)]
        if bias:
            out.append(sw.CpuConvBackwardb(T(dy), bt, hd))
        return out

    ref, got = both(run)
    assert_close(got, ref)
    # a second call reuses the cached primitives and must give the same numbers
    with backend("dnnl"):
        again = [N(t) for t in run()]
    for a, g in zip(again, got):
        np.testing.assert_array_equal(a, g)


@needs_dnnl
def test_dnnl_conv_batch_sizes_share_handle(rng):
    hd = sw.ConvHandle([1, 16, 8, 8], [3, 3], [1, 1], [1, 1], 16, 32, True)
    W = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    for n in (1, 3, 2, 3):
        x = rng.standard_normal((n, 16, 8, 8)).astype(np.float32)
        ref, got = both(lambda: sw.CpuConvForward(T(x), T(W), T(b), hd))
        assert_close(got, ref)
        np.testing.assert_allclose(got[0], conv_ref(x, W, b, (1, 1), (1, 1), 1), rtol=1e-4,
                                   atol=1e-4)


DNNL_POOL_CASES = POOL_CASES + [
    pytest.param(4, 32, 32, 32, (3, 3), (2, 2), (0, 0), id="cifar-3s2"),
    pytest.param(2, 32, 15, 15, (3, 3), (2, 2), (1, 1), id="3s2-pad"),
    pytest.param(2, 16, 10, 9, (2, 3), (2, 1), (1, 0, 0, 2), id="asym-16"),
    pytest.param(2, 8, 8, 8, (8, 8), (1, 1), (0, 0), id="global"),
]


@needs_dnnl
@pytest.mark.parametrize("is_max,include_pad", POOL_MODES)
@pytest.mark.parametrize("n,c,h,w,k,stride,pad", DNNL_POOL_CASES)
def test_dnnl_pool_matches_reference(rng, n, c, h, w, k, stride, pad, is_max, include_pad):
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    hd = sw.PoolingHandle(x.shape, list(k), list(stride), list(pad), is_max, include_pad)
    dy = rng.standard_normal((n, c, hd.pooled_height, hd.pooled_width)).astype(np.float32)

    def run():
        y = sw.CpuPoolingForward(hd, T(x))
        return [y, sw.CpuPoolingBackward(hd, T(dy), T(x), y)]

    ref, got = both(run)
    assert_close(got, ref)


@needs_dnnl
def test_dnnl_max_pool_ties_match_reference():
    # Equal values in a window: both backends must send the gradient to the same cell.
    x = np.round(np.random.default_rng(7).standard_normal((2, 16, 9, 9))).astype(np.float32)
    hd = sw.PoolingHandle(x.shape, [3, 3], [2, 2], [1, 1], True)
    dy = np.ones((2, 16, hd.pooled_height, hd.pooled_width), np.float32)
    ref, got = both(lambda: sw.CpuPoolingBackward(hd, T(dy), T(x),
                                                  sw.CpuPoolingForward(hd, T(x))))
    assert_close(got, ref)


DNNL_BN_SHAPES = BN_SHAPES + [pytest.param((8, 32, 6, 6), id="32ch"),
                              pytest.param((16, 24), id="2d-24")]


@needs_dnnl
@pytest.mark.parametrize("shape", DNNL_BN_SHAPES)
def test_dnnl_batchnorm_matches_reference(rng, shape):
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    scale, bias, rm, rv = bn_params(rng, shape[1], np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    hd = sw.BatchNormHandle(0.9, x.shape)

    def run():
        trm, trv = T(rm.copy()), T(rv.copy())  # updated in place (T may share memory)
        y, mean, var = sw.CpuBatchNormForwardTraining(hd, T(x), T(scale), T(bias), trm, trv)
        yi = sw.CpuBatchNormForwardInference(hd, T(x), T(scale), T(bias), trm, trv)
        grads = sw.CpuBatchNormBackwardx(hd, y, T(dy), T(x), T(scale), T(bias), mean, var)
        return [y, mean, var, trm, trv, yi] + list(grads)

    ref, got = both(run)
    assert_close(got, ref, floor=1.0)


DNNL_LRN_CASES = LRN_CASES + [pytest.param((4, 32, 8, 8), 3, 5e-5, 0.75, 1.0, id="cifar"),
                              pytest.param((2, 16, 5, 5), 5, 1e-3, 0.6, 2.0, id="beta0.6")]


@needs_dnnl
@pytest.mark.parametrize("shape,size,alpha,beta,k", DNNL_LRN_CASES)
def test_dnnl_lrn_matches_reference(rng, shape, size, alpha, beta, k):
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)

    def run():
        y = sw.CpuLRNForward(T(x), size, alpha, beta, k)
        return [y, sw.CpuLRNBackward(T(dy), T(x), y, size, alpha, beta, k)]

    ref, got = both(run)
    assert_close(got, ref)
    np.testing.assert_allclose(got[0], lrn_ref(x.astype(np.float64), size, alpha, beta, k),
                               rtol=1e-4, atol=1e-5)
