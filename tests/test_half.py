"""float16 and bfloat16 on the CPU: storage, conversion, every op family, the dtype rules.

Each op runs on 16-bit inputs and is compared with the same op in float32 on the inputs
rounded to that dtype, so the only differences left are float32-accumulation order and
the one rounding of the result; the tolerance is a few units of the dtype's precision.
GEMM and convolution run both ways the CPU has (oneDNN's native 16-bit primitives where
`half_native` says so, and float32 conversion with the 'reference' conv backend).
"""

import numpy as np
import pytest

from singa import autograd, tensor
from singa import singa_wrap as sw

HALVES = [sw.kFloat16, sw.kBFloat16]
# Unit roundoff of each dtype (float16: 11-bit significand, bfloat16: 8-bit).
EPS = {sw.kFloat16: 2.0 ** -11, sw.kBFloat16: 2.0 ** -8}


def N(t):
    return np.asarray(sw.to_numpy(t))


def round_to(a, dt):
    """a (float32) rounded to dtype dt, as float32: float16 through NumPy, bfloat16 by
    round-to-nearest-even on the upper 16 bits."""
    a = np.ascontiguousarray(a, np.float32)
    if dt == sw.kFloat16:
        return a.astype(np.float16).astype(np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


def half(a, dt):
    return sw.from_numpy(np.ascontiguousarray(a, np.float32)).AsType(dt)


def assert_close(out, ref, dt, ulps=4):
    """out (a 16-bit tensor) against a float32 reference, within `ulps` units of the
    dtype's precision of the reference's largest magnitude."""
    assert out.data_type() == dt
    ref = np.asarray(ref, np.float32)
    scale = max(float(np.abs(ref).max()), 1e-3)
    np.testing.assert_allclose(N(out.AsType(sw.kFloat32)), ref, rtol=0,
                               atol=ulps * EPS[dt] * scale)


@pytest.fixture(params=["native", "float32"])
def path(request):
    """Runs a test with oneDNN's native 16-bit kernels (where the CPU has them) and with
    float32 conversion (the 'reference' backend turns the native path off)."""
    before = sw.get_conv_backend()
    if request.param == "float32":
        sw.set_conv_backend("reference")
    yield request.param
    sw.set_conv_backend(before)


@pytest.fixture
def rng():
    return np.random.default_rng(13)


# ----------------------------------------------------------------- storage and dtypes

def test_bfloat16_dtype_constants():
    assert tensor.bfloat16 == sw.kBFloat16 == 6
    assert tensor.float16 == sw.kFloat16 == 1
    assert sw.SizeOf(sw.kBFloat16) == 2 and tensor.sizeof(tensor.bfloat16) == 2
    assert "bfloat16" in tensor.__all__
    assert "dtype=bfloat16" in repr(half([1.0], sw.kBFloat16))


def test_unknown_dtype_codes_are_refused():
    # 5 is SINGA's kUChar (uint8); codes past kBool (8) name no dtype
    assert sw.kUChar == 5
    with pytest.raises(TypeError, match="dtype"):
        sw.Tensor([2], None, 9)


def test_bfloat16_rounds_to_nearest_even():
    vals = np.array([1.0, 1.00390625, 1.005859375, 1.0078125, -3.14159, 1e-40, 3.4e38,
                     65504.0, 1e30, 0.0, -0.0], np.float32)
    out = N(half(vals, sw.kBFloat16).AsType(sw.kFloat32))
    np.testing.assert_array_equal(out, round_to(vals, sw.kBFloat16))
    # the halfway case 1 + 2^-8 rounds to the even neighbour 1.0
    assert out[1] == 1.0


def test_bfloat16_special_values():
    vals = np.array([np.inf, -np.inf, np.nan, 3.4028235e38], np.float32)
    out = N(half(vals, sw.kBFloat16).AsType(sw.kFloat32))
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])
    assert out[3] == np.inf  # max float32 rounds past bfloat16's largest finite value


@pytest.mark.parametrize("dt", HALVES)
def test_conversion_matches_scalar_rule_for_long_and_strided_tensors(dt, rng):
    # long contiguous tensors take the vectorised conversion, strided ones the scalar one
    a = (rng.standard_normal(1000) * 100).astype(np.float32)
    flat = N(half(a, dt).AsType(sw.kFloat32))
    np.testing.assert_array_equal(flat, round_to(a, dt))
    m = sw.Transpose(sw.from_numpy(a.reshape(40, 25)))
    strided = N(m.AsType(dt).AsType(sw.kFloat32))
    np.testing.assert_array_equal(strided, round_to(a.reshape(40, 25).T, dt))


def test_bfloat16_to_numpy_gives_float32_copy():
    t = tensor.Tensor(data=np.array([[1.5, -2.25]], np.float32), dtype=tensor.bfloat16)
    assert t.dtype == tensor.bfloat16
    a = tensor.to_numpy(t)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1.5, -2.25]])
    a[0, 0] = 7.0  # a copy: the tensor does not change
    assert tensor.to_numpy(t)[0, 0] == 1.5


def test_bfloat16_from_numpy_through_as_type():
    t = tensor.from_numpy(np.array([0.1, 1000.3], np.float32)).as_type(tensor.bfloat16)
    assert t.dtype == tensor.bfloat16
    np.testing.assert_array_equal(tensor.to_numpy(t), round_to([0.1, 1000.3], sw.kBFloat16))
    back = t.as_type(tensor.float32)
    assert back.dtype == tensor.float32


def test_float16_to_numpy_stays_float16():
    t = tensor.from_numpy(np.array([1.5], np.float16))
    assert t.dtype == tensor.float16 and tensor.to_numpy(t).dtype == np.float16


@pytest.mark.parametrize("dt", HALVES)
def test_tensor_creation_and_fill(dt):
    z = tensor.zeros((2, 3), dtype=dt)
    o = tensor.ones((2, 3), dtype=dt)
    assert z.dtype == o.dtype == dt
    np.testing.assert_array_equal(tensor.to_numpy(o).astype(np.float32), np.ones((2, 3)))


def test_half_native_reports_per_dtype():
    for dt in HALVES:
        assert isinstance(sw.half_native(dt), bool)
    with pytest.raises(TypeError, match="kFloat16 or kBFloat16"):
        sw.half_native(sw.kFloat32)
    before = sw.get_conv_backend()
    try:
        sw.set_conv_backend("reference")
        assert not sw.half_native(sw.kFloat16) and not sw.half_native(sw.kBFloat16)
    finally:
        sw.set_conv_backend(before)


# ----------------------------------------------------------------- promotion rules

@pytest.mark.parametrize("a, b, want", [
    (sw.kFloat16, sw.kFloat16, sw.kFloat16),
    (sw.kBFloat16, sw.kBFloat16, sw.kBFloat16),
    (sw.kFloat16, sw.kFloat32, sw.kFloat32),
    (sw.kBFloat16, sw.kFloat32, sw.kFloat32),
    (sw.kBFloat16, sw.kFloat16, sw.kFloat32),
])
def test_binary_promotion(a, b, want, rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ta, tb = half(x, sw.kFloat32).AsType(a), half(y, sw.kFloat32).AsType(b)
    assert (ta + tb).data_type() == want
    assert sw.Mult(ta, sw.Transpose(tb)).data_type() == want
    assert sw.__lt__(ta, tb).data_type() == want


@pytest.mark.parametrize("dt", HALVES)
def test_conv_mixed_with_float32_weights_computes_float32(dt, rng):
    h = sw.ConvHandle([1, 2, 5, 5], [3, 3], [1, 1], [1, 1], 2, 3, False)
    x = half(rng.standard_normal((1, 2, 5, 5)), dt)
    W = sw.from_numpy(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    y = sw.CpuConvForward(x, W, sw.Tensor([0]), h)
    assert y.data_type() == sw.kFloat32


def test_conv_rejects_integer_input():
    h = sw.ConvHandle([1, 1, 3, 3], [1, 1], [1, 1], [0, 0], 1, 1, False)
    x = sw.from_numpy(np.ones((1, 1, 3, 3), np.int32))
    W = sw.from_numpy(np.ones((1, 1, 1, 1), np.float32))
    with pytest.raises(TypeError, match="CpuConvForward.*float16 or bfloat16.*int32"):
        sw.CpuConvForward(x, W, sw.Tensor([0]), h)


# ----------------------------------------------------------------- element-wise, reductions

@pytest.mark.parametrize("dt", HALVES)
def test_elementwise_and_scalar_ops(dt, rng):
    a = round_to(rng.standard_normal((4, 5)), dt)
    b = round_to(rng.uniform(0.5, 2.0, (1, 5)), dt)
    ta, tb = half(a, dt), half(b, dt)
    assert_close(ta * tb + ta, a * b + a, dt)
    assert_close(sw.Exp(ta), np.exp(a), dt)
    assert_close(sw.Tanh(ta), np.tanh(a), dt)
    assert_close(sw.MultFloat(ta, 3.0), a * 3.0, dt)
    assert_close(sw.Where(sw.GTFloat(ta, 0.0), ta, tb), np.where(a > 0, a, b), dt)


@pytest.mark.parametrize("dt", HALVES)
def test_reductions(dt, rng):
    a = round_to(rng.standard_normal((6, 50)), dt)
    t = half(a, dt)
    assert_close(sw.Sum(t, 1), a.sum(1), dt, ulps=8)
    assert_close(sw.Average(t, 0), a.mean(0), dt, ulps=8)
    assert abs(sw.SumAll(t) - float(a.sum())) < 1e-3


@pytest.mark.parametrize("dt", HALVES)
def test_softmax_and_log_softmax(dt, rng):
    a = round_to(rng.standard_normal((4, 7)) * 3, dt)
    e = np.exp(a - a.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    assert_close(sw.SoftMax(half(a, dt), 1), p, dt)
    assert_close(sw.LogSoftMax(half(a, dt), 1), np.log(p), dt)
    dy = round_to(rng.standard_normal((4, 7)), dt)
    y = round_to(p, dt)
    ref = y * (dy - (dy * y).sum(1, keepdims=True))
    assert_close(sw.SoftMaxBackward(half(dy, dt), 1, half(y, dt)), ref, dt)


@pytest.mark.parametrize("dt", HALVES)
def test_cross_entropy_loss_is_float32_and_gradient_keeps_dtype(dt, rng):
    p = round_to(rng.uniform(0.05, 1, (5, 4)), dt)
    p /= p.sum(1, keepdims=True)
    p = round_to(p, dt)
    labels = np.array([0, 3, 1, 2, 3], np.int32)
    loss = sw.CrossEntropyFwd(half(p, dt), sw.from_numpy(labels))
    assert loss.data_type() == sw.kFloat32
    np.testing.assert_allclose(N(loss), -np.log(p[np.arange(5), labels]), rtol=1e-5)
    g = sw.SoftmaxCrossEntropyBwd(half(p, dt), sw.from_numpy(labels))
    ref = p.copy()
    ref[np.arange(5), labels] -= 1
    assert_close(g, ref, dt)


@pytest.mark.parametrize("dt", HALVES)
def test_autograd_losses_return_float32(dt, rng):
    autograd.training = True
    x = tensor.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)).as_type(dt)
    t = tensor.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)).as_type(dt)
    labels = tensor.from_numpy(np.array([0, 2, 1, 1], np.int32))
    assert autograd.softmax_cross_entropy(x, labels).dtype == tensor.float32
    assert autograd.mse_loss(x, t).dtype == tensor.float32
    p = autograd.sigmoid(x)
    assert autograd.binary_cross_entropy(p, autograd.sigmoid(t)).dtype == tensor.float32
    assert autograd.cross_entropy(autograd.softmax(x), labels).dtype == tensor.float32


@pytest.mark.parametrize("dt", HALVES)
@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse", "bce", "cross_entropy"])
def test_loss_gradients_have_the_parameters_dtype(dt, loss, rng):
    autograd.training = True
    x = tensor.from_numpy(rng.standard_normal((4, 5)).astype(np.float32)).as_type(dt)
    W = tensor.from_numpy(rng.standard_normal((5, 3)).astype(np.float32) * 0.3).as_type(dt)
    W.requires_grad = W.stores_grad = True
    y = autograd.matmul(x, W)
    labels = tensor.from_numpy(np.array([0, 2, 1, 1], np.int32))
    target = tensor.from_numpy(rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32)).as_type(dt)
    if loss == "softmax_cross_entropy":
        out = autograd.softmax_cross_entropy(y, labels)
    elif loss == "mse":
        out = autograd.mse_loss(y, target)
    elif loss == "bce":
        out = autograd.binary_cross_entropy(autograd.sigmoid(y), target)
    else:
        out = autograd.cross_entropy(autograd.softmax(y), labels)
    assert out.dtype == tensor.float32
    grads = [g for p, g in autograd.backward(out) if p is W]
    assert len(grads) == 1 and grads[0].dtype == dt
    assert np.isfinite(tensor.to_numpy(grads[0].as_type(tensor.float32))).all()


# ----------------------------------------------------------------- GEMM

@pytest.mark.parametrize("dt", HALVES)
@pytest.mark.parametrize("shapes, ta, tb", [
    (((33, 70), (70, 17)), False, False),
    (((70, 33), (70, 17)), True, False),
    (((33, 70), (17, 70)), False, True),
    (((3, 9, 20), (3, 20, 5)), False, False),
    (((4, 1, 6, 8), (3, 8, 2)), False, False),  # broadcast batch
    (((8,), (8, 5)), False, False),
    (((6, 8), (8,)), False, False),
])
def test_matmul(path, dt, shapes, ta, tb, rng):
    sa, sb = shapes
    a = round_to(rng.standard_normal(sa), dt)
    b = round_to(rng.standard_normal(sb), dt)
    A, B = half(a, dt), half(b, dt)
    if ta:
        A, a = sw.Transpose(A), a.T
    if tb:
        B, b = sw.Transpose(B), b.T
    assert_close(sw.Mult(A, B), np.matmul(a, b), dt)


@pytest.mark.parametrize("dt", HALVES)
def test_mult_with_scale_into_half_output(dt, rng):
    a, b = round_to(rng.standard_normal((5, 6)), dt), round_to(rng.standard_normal((6, 4)), dt)
    c0 = round_to(rng.standard_normal((5, 4)), dt)
    c = half(c0, dt)
    sw.Mult(2.0, half(a, dt), half(b, dt), 0.5, c)
    assert_close(c, 2 * a @ b + 0.5 * c0, dt)


@pytest.mark.parametrize("dt", HALVES)
def test_autograd_matmul_gradients_keep_dtype(dt, rng):
    autograd.training = True
    x = tensor.from_numpy(rng.standard_normal((4, 6)).astype(np.float32)).as_type(dt)
    W = tensor.from_numpy(rng.standard_normal((6, 3)).astype(np.float32)).as_type(dt)
    W.requires_grad = W.stores_grad = True
    y = autograd.matmul(x, W)
    assert y.dtype == dt
    grads = dict((id(p), g) for p, g in autograd.backward(autograd.reduce_sum(y)))
    g = grads[id(W)]
    assert g.dtype == dt
    xs = round_to(tensor.to_numpy(x.as_type(tensor.float32)), dt)
    np.testing.assert_allclose(tensor.to_numpy(g.as_type(tensor.float32)),
                               xs.T @ np.ones((4, 3)), atol=8 * EPS[dt] * 8)


# ----------------------------------------------------------------- convolution

def _conv_case(rng, dt, group, C, F, stride=1, pad=1, k=3):
    x = round_to(rng.standard_normal((2, C, 9, 8)), dt)
    W = round_to(rng.standard_normal((F, C // group, k, k)) * 0.3, dt)
    b = round_to(rng.standard_normal(F), dt)
    h = sw.ConvHandle([2, C, 9, 8], [k, k], [stride, stride], [pad, pad], C, F, True, group)
    return x, W, b, h


def _f32(a):
    return sw.from_numpy(np.ascontiguousarray(a, np.float32))


@pytest.mark.parametrize("dt", HALVES)
@pytest.mark.parametrize("group, C, F, stride", [(1, 3, 8, 1), (1, 16, 16, 2), (2, 4, 6, 1),
                                                 (8, 8, 8, 1)])  # plain, strided, grouped, depthwise
def test_conv_forward_and_backward(path, dt, group, C, F, stride, rng):
    x, W, b, h = _conv_case(rng, dt, group, C, F, stride)
    y32 = N(sw.CpuConvForward(_f32(x), _f32(W), _f32(b), h))
    y = sw.CpuConvForward(half(x, dt), half(W, dt), half(b, dt), h)
    assert_close(y, y32, dt)
    dy = round_to(rng.standard_normal(y32.shape), dt)
    dx32 = N(sw.CpuConvBackwardx(_f32(dy), _f32(W), _f32(x), h))
    assert_close(sw.CpuConvBackwardx(half(dy, dt), half(W, dt), half(x, dt), h), dx32, dt)
    dW32 = N(sw.CpuConvBackwardW(_f32(dy), _f32(x), _f32(W), h))
    assert_close(sw.CpuConvBackwardW(half(dy, dt), half(x, dt), half(W, dt), h), dW32, dt,
                 ulps=8)
    db32 = N(sw.CpuConvBackwardb(_f32(dy), _f32(b), h))
    assert_close(sw.CpuConvBackwardb(half(dy, dt), half(b, dt), h), db32, dt, ulps=8)


# ----------------------------------------------------------------- pooling, BN, LRN

@pytest.mark.parametrize("dt", HALVES)
@pytest.mark.parametrize("is_max", [True, False])
def test_pooling(dt, is_max, rng):
    x = round_to(rng.standard_normal((2, 3, 6, 6)), dt)
    h = sw.PoolingHandle([2, 3, 6, 6], [2, 2], [2, 2], [0, 0], is_max)
    y32 = sw.CpuPoolingForward(h, _f32(x))
    y = sw.CpuPoolingForward(h, half(x, dt))
    assert_close(y, N(y32), dt)
    dy = round_to(rng.standard_normal(N(y32).shape), dt)
    dx32 = sw.CpuPoolingBackward(h, _f32(dy), _f32(x), y32)
    dx = sw.CpuPoolingBackward(h, half(dy, dt), half(x, dt), y)
    assert_close(dx, N(dx32), dt)


@pytest.mark.parametrize("dt", HALVES)
def test_batchnorm_training_inference_backward(dt, rng):
    x = round_to(rng.standard_normal((4, 3, 5, 5)) * 2 + 1, dt)
    s, bb = round_to(rng.uniform(0.5, 1.5, 3), dt), round_to(rng.standard_normal(3), dt)
    h = sw.BatchNormHandle(0.9, [4, 3, 5, 5])
    rm32, rv32 = _f32(np.zeros(3)), _f32(np.ones(3))
    y32, m32, v32 = sw.CpuBatchNormForwardTraining(h, _f32(x), _f32(s), _f32(bb), rm32, rv32)
    rm, rv = half(np.zeros(3), dt), half(np.ones(3), dt)
    y, m, v = sw.CpuBatchNormForwardTraining(h, half(x, dt), half(s, dt), half(bb, dt), rm, rv)
    assert_close(y, N(y32), dt, ulps=8)
    assert rm.data_type() == dt
    assert_close(rm, N(rm32), dt)
    assert_close(rv, N(rv32), dt)
    yi = sw.CpuBatchNormForwardInference(h, half(x, dt), half(s, dt), half(bb, dt), rm, rv)
    yi32 = sw.CpuBatchNormForwardInference(h, _f32(x), _f32(s), _f32(bb), rm32, rv32)
    assert_close(yi, N(yi32), dt, ulps=8)
    dy = round_to(rng.standard_normal(x.shape), dt)
    g32 = sw.CpuBatchNormBackwardx(h, y32, _f32(dy), _f32(x), _f32(s), _f32(bb), m32, v32)
    g = sw.CpuBatchNormBackwardx(h, y, half(dy, dt), half(x, dt), half(s, dt), half(bb, dt), m, v)
    for out, ref in zip(g, g32):
        assert_close(out, N(ref), dt, ulps=16)


@pytest.mark.parametrize("dt", HALVES)
def test_lrn(dt, rng):
    x = round_to(rng.standard_normal((2, 6, 4, 4)), dt)
    y32 = sw.CpuLRNForward(_f32(x), 3, 1e-2, 0.75, 2.0)
    y = sw.CpuLRNForward(half(x, dt), 3, 1e-2, 0.75, 2.0)
    assert_close(y, N(y32), dt)
    dy = round_to(rng.standard_normal(x.shape), dt)
    dx32 = sw.CpuLRNBackward(_f32(dy), _f32(x), y32, 3, 1e-2, 0.75, 2.0)
    dx = sw.CpuLRNBackward(half(dy, dt), half(x, dt), y, 3, 1e-2, 0.75, 2.0)
    assert_close(dx, N(dx32), dt, ulps=8)


# ----------------------------------------------------------------- dropout, random, fused

@pytest.mark.parametrize("dt", HALVES)
def test_dropout_keeps_dtype(dt, rng):
    x = round_to(rng.standard_normal((20, 30)), dt)
    y, mask = sw.DropoutForward(half(x, dt), 0.25)
    assert y.data_type() == dt and mask.data_type() == dt
    m = N(mask.AsType(sw.kFloat32))
    assert set(np.unique(m)) <= {0.0, float(round_to([1 / 0.75], dt)[0])}
    assert_close(y, x * m, dt)


@pytest.mark.parametrize("dt", HALVES)
def test_random_fills(dt):
    t = sw.Tensor([4000], None, dt)
    sw.Gaussian(1.0, 2.0, t)
    a = N(t.AsType(sw.kFloat32))
    assert t.data_type() == dt and abs(a.mean() - 1) < 0.15 and abs(a.std() - 2) < 0.15
    sw.Uniform(-1.0, 1.0, t)
    a = N(t.AsType(sw.kFloat32))
    assert a.min() >= -1 and a.max() <= 1 and abs(a.mean()) < 0.1
    sw.Bernoulli(0.3, t)
    assert set(np.unique(N(t.AsType(sw.kFloat32)))) <= {0.0, 1.0}


@pytest.mark.parametrize("dt", HALVES)
def test_fused_sgd_and_adam_on_half_parameters(dt, rng):
    p0 = round_to(rng.standard_normal(50), dt)
    g0 = round_to(rng.standard_normal(50), dt)
    p, buf = half(p0, dt), half(np.zeros(50), dt)
    sw.SGDUpdate(p, half(g0, dt), buf, 0.1, 0.9, 0.0, 0.0, False)
    assert p.data_type() == dt and buf.data_type() == dt
    assert_close(p, p0 - 0.1 * g0, dt)
    assert_close(buf, g0, dt)
    p, m, v = half(p0, dt), half(np.zeros(50), dt), half(np.zeros(50), dt)
    sw.AdamUpdate(p, half(g0, dt), m, v, 0.01, 0.9, 0.999, 1e-8, 0.0, 1)
    assert_close(p, p0 - 0.01 * np.sign(g0), dt)
    with pytest.raises(ValueError, match="does not match the parameter"):
        sw.SGDUpdate(half(p0, dt), half(g0, dt), _f32(np.zeros(50)), 0.1, 0.9, 0.0, 0.0, False)


# ----------------------------------------------------------------- shape ops

@pytest.mark.parametrize("dt", HALVES)
def test_shape_ops_keep_values_and_dtype(dt, rng):
    a = round_to(rng.standard_normal((3, 4, 5)), dt)
    t = half(a, dt)
    cat = sw.ConcatOn([t, t], 1)
    assert cat.data_type() == dt
    np.testing.assert_array_equal(N(cat.AsType(sw.kFloat32)), np.concatenate([a, a], 1))
    sl = sw.SliceOn(t, 1, 3, 2)
    np.testing.assert_array_equal(N(sl.AsType(sw.kFloat32)), a[:, :, 1:3])
    tr = sw.Transpose(t, [2, 0, 1])
    np.testing.assert_array_equal(N(tr.AsType(sw.kFloat32)), a.transpose(2, 0, 1))
    rs = sw.Reshape(t, [12, 5])
    np.testing.assert_array_equal(N(rs.AsType(sw.kFloat32)), a.reshape(12, 5))
    x = tensor.from_numpy(a).as_type(dt)
    assert x[1:, 2].dtype == dt
    np.testing.assert_array_equal(tensor.to_numpy(x[1:, 2].as_type(tensor.float32)), a[1:, 2])
