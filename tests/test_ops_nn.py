"""Neural-network autograd operations: gemm, add_bias, dropout, and conv2d /
pooling_2d / batchnorm_2d / lrn through SINGA's handle API, each against a NumPy
reference and a float64 gradient check."""

import numpy as np
import pytest

from singa import autograd, singa_wrap, tensor, testing
from singa.testing import tensor_from as _t


def _f32(a):
    return np.asarray(a, np.float32)


def check_forward(fn, ref, arrays, rtol=1e-5, atol=1e-5):
    testing.check_forward(fn, ref, arrays, rtol, atol)


def _randn(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


needs = {
    "conv": pytest.mark.skipif(not hasattr(singa_wrap, "ConvHandle"),
                               reason="singa_wrap.ConvHandle not built yet"),
    "pool": pytest.mark.skipif(not hasattr(singa_wrap, "PoolingHandle"),
                               reason="singa_wrap.PoolingHandle not built yet"),
    "bn": pytest.mark.skipif(not hasattr(singa_wrap, "BatchNormHandle"),
                             reason="singa_wrap.BatchNormHandle not built yet"),
    "lrn": pytest.mark.skipif(not hasattr(singa_wrap, "CpuLRNForward"),
                              reason="singa_wrap.CpuLRNForward not built yet"),
}


# ------------------------------------------------------------------ gemm


@pytest.mark.parametrize("transA,transB", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("cshape", [None, (4,), (1,), (3, 4), (3, 1)], ids=str)
def test_gemm(transA, transB, cshape):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(2, 3) if transA else (3, 2))
    B = rng.normal(size=(4, 2) if transB else (2, 4))
    alpha, beta = 0.7, 1.3
    arrays = [A, B] + ([] if cshape is None else [rng.normal(size=cshape)])

    def fn(a, b, c=None):
        return autograd.gemm(a, b, c, alpha, beta, transA, transB)

    def ref(a, b, c=None):
        y = alpha * (a.T if transA else a) @ (b.T if transB else b)
        return y if c is None else y + beta * c
    check_forward(fn, ref, arrays)
    assert testing.gradcheck(fn, arrays)


def test_gemm_defaults():
    A, B = _randn((3, 2)), _randn((2, 4), 1)
    check_forward(autograd.gemm, lambda a, b: a @ b, [A, B])


# -------------------------------------------------------------- add_bias


@pytest.mark.parametrize("axis,xshape,bshape", [(0, (3, 4), (4,)), (1, (3, 4), (3,)),
                                                (0, (1, 4), (4,)), (0, (3, 1), (1,)),
                                                (1, (3, 4), (3, 1))], ids=str)
def test_add_bias(axis, xshape, bshape):
    x, b = _randn(xshape), _randn(bshape, 1)
    n = xshape[1 - axis]

    def ref(a, c):
        return a + (c.reshape(1, n) if axis == 0 else c.reshape(n, 1))
    fn = lambda a, c: autograd.add_bias(a, c, axis)  # noqa: E731
    check_forward(fn, ref, [x, b])
    assert testing.gradcheck(fn, [x, b])


def test_add_bias_wrong_size_names_op():
    with pytest.raises(ValueError, match="AddBias"):
        autograd.add_bias(_t(np.zeros((3, 4), np.float32)), _t(np.zeros(3, np.float32)))


# --------------------------------------------------------------- dropout


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.8])
def test_dropout_training(ratio):
    autograd.training = True
    x = _t(np.full((200, 100), 2.0, np.float32), stores_grad=True)
    y = autograd.dropout(x, ratio=ratio)
    out = tensor.to_numpy(y)
    zero = out == 0
    assert abs(zero.mean() - ratio) < 0.02
    # Kept values are scaled by 1 / (1 - ratio) (not by 1 - ratio, as SINGA does).
    np.testing.assert_allclose(out[~zero], 2.0 / (1 - ratio), rtol=1e-6)
    # The gradient uses the same mask and scale.
    g = tensor.to_numpy(autograd.gradients(y, _t(np.ones((200, 100), np.float32)))[id(x)])
    np.testing.assert_allclose(g, out / 2.0, rtol=1e-6)


def test_dropout_eval_is_identity():
    autograd.training = False
    x = _randn((5, 7)).astype(np.float32)
    np.testing.assert_array_equal(tensor.to_numpy(autograd.dropout(_t(x), ratio=0.5)), x)


def test_dropout_zero_ratio_and_bad_ratio():
    autograd.training = True
    x = _randn((4, 3))
    assert testing.gradcheck(lambda a: autograd.dropout(a, ratio=0.0), [x])
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            autograd.dropout(_t(_f32(x)), ratio=bad)


# ---------------------------------------------------------------- conv2d


def _conv_ref(x, W, b, stride, pad, group):
    """Direct grouped convolution (cross-correlation) in NumPy; pad = (ph, pw)."""
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    sh, sw = stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - kh) // sh + 1
    ow = (w + 2 * pad[1] - kw) // sw + 1
    y = np.zeros((n, f, oh, ow))
    fg = f // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        for o in range(g * fg, (g + 1) * fg):
            for i in range(oh):
                for j in range(ow):
                    patch = xs[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    y[:, o, i, j] = (patch * W[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.reshape(1, f, 1, 1)
    return y


# (x shape, out channels, kernel, stride, padding, group, bias)
CONV_CASES = [
    ((2, 3, 5, 5), 4, (3, 3), (1, 1), (1, 1), 1, True),
    ((1, 2, 6, 5), 3, (3, 2), (2, 1), (0, 1), 1, False),
    ((2, 4, 5, 6), 6, (3, 3), (1, 2), (1, 0), 2, True),      # groups
    ((1, 4, 5, 5), 4, (3, 3), (1, 1), (1, 1), 4, True),      # depthwise
    ((1, 3, 6, 6), 6, (3, 3), (2, 2), (1, 1), 3, False),     # depthwise multiplier 2, stride
    ((2, 3, 4, 4), 2, (1, 1), (1, 1), (0, 0), 1, True),      # 1x1
    ((1, 1, 3, 3), 1, (3, 3), (1, 1), (0, 0), 1, True),      # 1x1 output
]


@needs["conv"]
@pytest.mark.parametrize("xshape,f,k,s,p,group,bias", CONV_CASES, ids=str)
def test_conv2d(xshape, f, k, s, p, group, bias):
    c = xshape[1]
    x = _randn(xshape, 1)
    W = _randn((f, c // group) + k, 2) * 0.5
    arrays = [x, W] + ([_randn((f,), 3)] if bias else [])
    handle = singa_wrap.ConvHandle(_t(_f32(x)).data, list(k), list(s), list(p), c, f, bias, group)

    def fn(a, w, b=None):
        return autograd.conv2d(handle, a, w, b)

    def ref(a, w, b=None):
        return _conv_ref(a, w, b, s, p, group)
    check_forward(fn, ref, arrays)
    assert testing.gradcheck(fn, arrays)


@needs["conv"]
def test_conv2d_odd_padding():
    """SINGA expresses asymmetric (e.g. SAME_UPPER) padding as extra zeros before the conv."""
    x, W, b = _randn((1, 2, 5, 4), 1), _randn((3, 2, 3, 3), 2), _randn((3,), 3)
    odd = (0, 1, 1, 0)  # top, bottom, left, right
    padded_shape = (1, 2, 6, 5)
    handle = singa_wrap.ConvHandle(_t(np.zeros(padded_shape, np.float32)).data, [3, 3], [1, 1],
                                   [1, 1], 2, 3, True, 1)
    fn = lambda a, w, c: autograd.conv2d(handle, a, w, c, odd)  # noqa: E731

    def ref(a, w, c):
        a = np.pad(a, ((0, 0), (0, 0), (odd[0], odd[1]), (odd[2], odd[3])))
        return _conv_ref(a, w, c, (1, 1), (1, 1), 1)
    check_forward(fn, ref, [x, W, b])
    assert testing.gradcheck(fn, [x, W, b])


@needs["conv"]
def test_conv2d_wrong_weight_shape_raises():
    handle = singa_wrap.ConvHandle(_t(np.zeros((1, 2, 4, 4), np.float32)).data, [3, 3], [1, 1],
                                   [1, 1], 2, 3, True, 1)
    x = _t(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(Exception):
        autograd.conv2d(handle, x, _t(np.zeros((3, 5, 3, 3), np.float32)))


# ----------------------------------------------------------- pooling_2d


def _pool_ref(x, k, s, p, is_max, include_pad=True):
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - k[0]) // s[0] + 1
    ow = (w + 2 * p[1] - k[1]) // s[1] + 1
    fill = -np.inf if is_max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    ones = np.pad(np.ones((h, w)), ((p[0], p[0]), (p[1], p[1])))
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            if is_max:
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = k[0] * k[1] if include_pad else \
                    ones[i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].sum()
                y[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return y


POOL_CASES = [
    ((2, 3, 4, 4), (2, 2), (2, 2), (0, 0)),
    ((1, 2, 5, 5), (3, 3), (2, 2), (1, 1)),
    ((1, 2, 5, 4), (3, 2), (1, 2), (1, 0)),
    ((2, 1, 3, 3), (3, 3), (1, 1), (0, 0)),   # global window
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0)),
]


@needs["pool"]
@pytest.mark.parametrize("is_max", [True, False], ids=["max", "avg"])
@pytest.mark.parametrize("xshape,k,s,p", POOL_CASES, ids=str)
def test_pooling_2d(xshape, k, s, p, is_max):
    # A permutation, so max windows have a unique winner (no ties to break).
    x = (np.random.default_rng(4).permutation(int(np.prod(xshape))) * 0.1).reshape(xshape)
    handle = singa_wrap.PoolingHandle(_t(_f32(x)).data, list(k), list(s), list(p), is_max)
    fn = lambda a: autograd.pooling_2d(handle, a)  # noqa: E731
    check_forward(fn, lambda a: _pool_ref(a, k, s, p, is_max), [x])
    assert testing.gradcheck(fn, [x])


@needs["pool"]
def test_avg_pooling_exclude_pad():
    x = _randn((1, 2, 5, 5), 5)
    handle = singa_wrap.PoolingHandle(_t(_f32(x)).data, [3, 3], [2, 2], [1, 1], False, False)
    fn = lambda a: autograd.pooling_2d(handle, a)  # noqa: E731
    check_forward(fn, lambda a: _pool_ref(a, (3, 3), (2, 2), (1, 1), False, False), [x])
    assert testing.gradcheck(fn, [x])


@needs["pool"]
def test_pooling_odd_padding():
    x = _randn((1, 2, 4, 5), 6)
    odd = (1, 0, 0, 1)
    handle = singa_wrap.PoolingHandle(_t(np.zeros((1, 2, 5, 6), np.float32)).data, [2, 2],
                                      [2, 2], [0, 0], False)
    fn = lambda a: autograd.pooling_2d(handle, a, odd)  # noqa: E731

    def ref(a):
        a = np.pad(a, ((0, 0), (0, 0), (odd[0], odd[1]), (odd[2], odd[3])))
        return _pool_ref(a, (2, 2), (2, 2), (0, 0), False)
    check_forward(fn, ref, [x])
    assert testing.gradcheck(fn, [x])


# ---------------------------------------------------------- batchnorm_2d

EPS = 1e-5


def _bn_train_ref(x, scale, bias):
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    shp = (1, -1, 1, 1)
    return (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + EPS) * scale.reshape(shp) \
        + bias.reshape(shp), mean, var


@needs["bn"]
@pytest.mark.parametrize("xshape", [(4, 3, 2, 2), (2, 2, 3, 1), (1, 2, 3, 3), (5, 1, 1, 1)],
                         ids=str)
def test_batchnorm_2d_training(xshape):
    c = xshape[1]
    rng = np.random.default_rng(7)
    x = rng.normal(size=xshape) * 2 + 1
    scale, bias = rng.uniform(0.5, 1.5, c), rng.normal(size=c)
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2, c)
    momentum = 0.9
    handle = singa_wrap.BatchNormHandle(momentum, _t(_f32(x)).data)
    autograd.training = True
    rm, rv = _t(_f32(rm0)), _t(_f32(rv0))
    y = autograd.batchnorm_2d(handle, _t(_f32(x)), _t(_f32(scale)), _t(_f32(bias)), rm, rv)
    expected, mean, var = _bn_train_ref(x, scale, bias)
    np.testing.assert_allclose(tensor.to_numpy(y), expected, rtol=1e-4, atol=1e-4)
    # Running statistics: momentum * running + (1 - momentum) * batch, unbiased variance.
    m = x.size // c
    unbiased = var * m / (m - 1) if m > 1 else var
    np.testing.assert_allclose(tensor.to_numpy(rm), momentum * rm0 + (1 - momentum) * mean,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tensor.to_numpy(rv), momentum * rv0 + (1 - momentum) * unbiased,
                               rtol=1e-5, atol=1e-6)
    if m > 1:
        # Gradient w.r.t. x, scale and bias in training mode (batch statistics).
        rm64, rv64 = _t(rm0), _t(rv0)
        fn = lambda a, s, b: autograd.batchnorm_2d(handle, a, s, b, rm64, rv64)  # noqa: E731
        assert testing.gradcheck(fn, [x, scale, bias], atol=1e-4, rtol=1e-4)


@needs["bn"]
def test_batchnorm_2d_eval_uses_running_stats():
    c = 3
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, c, 2, 3))
    scale, bias = rng.uniform(0.5, 1.5, c), rng.normal(size=c)
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2, c)
    handle = singa_wrap.BatchNormHandle(0.9, _t(_f32(x)).data)
    autograd.training = False
    rm, rv = _t(_f32(rm0)), _t(_f32(rv0))
    y = autograd.batchnorm_2d(handle, _t(_f32(x)), _t(_f32(scale)), _t(_f32(bias)), rm, rv)
    shp = (1, -1, 1, 1)
    expected = (x - rm0.reshape(shp)) / np.sqrt(rv0.reshape(shp) + EPS) * scale.reshape(shp) \
        + bias.reshape(shp)
    np.testing.assert_allclose(tensor.to_numpy(y), expected, rtol=1e-5, atol=1e-5)
    # Evaluation leaves the running statistics alone.
    np.testing.assert_array_equal(tensor.to_numpy(rm), _f32(rm0))
    np.testing.assert_array_equal(tensor.to_numpy(rv), _f32(rv0))


# ------------------------------------------------------------------- lrn


def _lrn_ref(x, size, alpha, beta, k):
    c = x.shape[1]
    sq = x ** 2
    lo, hi = (size - 1) // 2, size // 2
    s = np.zeros_like(x)
    for i in range(c):
        s[:, i] = sq[:, max(0, i - lo):min(c, i + hi + 1)].sum(axis=1)
    return x / (k + alpha / size * s) ** beta


LRN_CASES = [((2, 5, 3, 3), 5, 1e-4, 0.75, 1.0), ((1, 4, 2, 2), 3, 0.5, 0.75, 2.0),
             ((1, 3, 2, 1), 2, 1.0, 0.5, 1.0), ((2, 1, 2, 2), 5, 0.3, 0.75, 1.0),
             ((1, 6, 1, 1), 4, 2.0, 1.0, 0.5)]


@needs["lrn"]
@pytest.mark.parametrize("xshape,size,alpha,beta,k", LRN_CASES, ids=str)
def test_lrn(xshape, size, alpha, beta, k):
    x = _randn(xshape, 9)
    fn = lambda a: autograd.lrn(a, size, alpha, beta, k)  # noqa: E731
    check_forward(fn, lambda a: _lrn_ref(a, size, alpha, beta, k), [x])
    assert testing.gradcheck(fn, [x])


@needs["lrn"]
def test_lrn_defaults():
    x = _randn((1, 7, 2, 2), 10)
    check_forward(autograd.lrn, lambda a: _lrn_ref(a, 5, 1e-4, 0.75, 1.0), [x])
