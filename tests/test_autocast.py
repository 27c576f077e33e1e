"""bfloat16 autocast: the ops it covers (Matmul, Gemm, the convolution) compute on
bfloat16-rounded operands and return float32, their gradients reach float32 parameters in
float32, and every other op is untouched.

Every block here asks for emulation, so the tests run on CPUs without bfloat16
instructions too (the core then rounds in software; test_autocast_context.py checks that
both ways give the same numbers where the CPU has them)."""

import numpy as np
import pytest

from singa import autocast, autograd, layer, singa_wrap, tensor, testing
from singa.testing import tensor_from

F32 = tensor.float32


def bf16_block():
    return autograd.autocast("bfloat16", emulate=True)


def round_bf16(a):
    """a rounded to the nearest bfloat16 (ties to even), as float32: the top 16 bits."""
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


def _randn(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _leaf(a):
    """A Tensor whose gradient backward yields."""
    return tensor_from(a, stores_grad=True)


def _grads(y, params, seed=7):
    dy = _randn(y.shape, seed)
    got = autograd.gradients(y, tensor.from_numpy(dy))
    return [got[id(p)] for p in params]


def _assert_close_rel(got, want, rel=1e-2):
    """Within rel of the largest magnitude of want: bfloat16 keeps 8 significant bits."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    scale = max(np.abs(want).max(), 1e-30)
    err = np.abs(got - want).max() / scale
    assert err < rel, err


pytestmark = pytest.mark.usefixtures("recording")


# ---- forward: bfloat16 roundings, float32 out ----

def test_matmul_computes_on_bf16_rounded_operands_and_rounds_its_result_once():
    x, w = _randn((7, 33), 0), _randn((33, 5), 1)
    with bf16_block():
        y = autograd.matmul(tensor_from(x), tensor_from(w))
    assert y.dtype == F32
    want = round_bf16(round_bf16(x).astype(np.float64) @ round_bf16(w).astype(np.float64))
    got = tensor.to_numpy(y)
    # float32 accumulation in some order vs float64: at most one bfloat16 step apart
    np.testing.assert_allclose(got, want, rtol=2 ** -7, atol=1e-6)
    assert np.array_equal(got, round_bf16(got)), "the result holds bfloat16 values"
    exact = x.astype(np.float64) @ w.astype(np.float64)
    assert np.abs(got - exact).max() > 1e-4, "no bfloat16 rounding happened"


def test_outside_autocast_matmul_is_float32():
    x, w = _randn((7, 33), 0), _randn((33, 5), 1)
    y = tensor.to_numpy(autograd.matmul(tensor_from(x), tensor_from(w)))
    np.testing.assert_allclose(y, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)
    assert not np.array_equal(y, round_bf16(y))


@pytest.mark.parametrize("xs,ws", [((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 5)),
                                   ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 2))], ids=str)
def test_matmul_shapes_forward_and_grads_match_float32(xs, ws):
    x, w = _leaf(_randn(xs, 2)), _leaf(_randn(ws, 3))
    want_y = autograd.matmul(x, w)
    want = _grads(want_y, [x, w])
    with bf16_block():
        y = autograd.matmul(x, w)
    got = _grads(y, [x, w])
    _assert_close_rel(tensor.to_numpy(y), tensor.to_numpy(want_y))
    for g, gw in zip(got, want):
        assert g.dtype == F32
        _assert_close_rel(tensor.to_numpy(g), tensor.to_numpy(gw))


@pytest.mark.parametrize("transA,transB", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("cshape", [None, (6,), (4, 6)], ids=str)
def test_gemm_forward_and_grads_match_float32(transA, transB, cshape):
    a = _leaf(_randn((5, 4) if transA else (4, 5), 4))
    b = _leaf(_randn((6, 5) if transB else (5, 6), 5))
    args = [a, b] + ([] if cshape is None else [_leaf(_randn(cshape, 6))])

    def run():
        y = autograd.gemm(*args[:2], args[2] if cshape else None, 0.7, 1.3, transA, transB)
        return y, _grads(y, args)
    want_y, want = run()
    with bf16_block():
        y, got = run()
    assert y.dtype == F32
    _assert_close_rel(tensor.to_numpy(y), tensor.to_numpy(want_y))
    for g, gw in zip(got, want):
        assert g.dtype == F32
        _assert_close_rel(tensor.to_numpy(g), tensor.to_numpy(gw))


def test_gemm_adds_c_in_float32():
    # C is not rounded: a C far larger than the product keeps its low bits
    a, b = np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32)
    c = np.float32(1 + 2 ** -20) * np.ones((2, 2), np.float32)
    with bf16_block():
        y = autograd.gemm(tensor_from(a), tensor_from(b), tensor_from(c))
    np.testing.assert_array_equal(tensor.to_numpy(y), (a + c.astype(np.float64)).astype(
        np.float32))


def _conv(x, W, b, stride=1, pad=1, group=1):
    handle = singa_wrap.ConvHandle(x.data, list(W.shape[2:]), [stride, stride], [pad, pad],
                                   x.shape[1], W.shape[0], b is not None, group)
    return autograd.conv2d(handle, x, W, b)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("stride,pad,group", [(1, 1, 1), (2, 0, 1), (1, 1, 2)])
def test_conv2d_forward_and_grads_match_float32(bias, stride, pad, group):
    x = _leaf(_randn((3, 4, 7, 7), 8))
    W = _leaf(_randn((6, 4 // group, 3, 3), 9) * 0.3)
    b = _leaf(_randn((6,), 10)) if bias else None
    params = [x, W] + ([b] if bias else [])
    want_y = _conv(x, W, b, stride, pad, group)
    want = _grads(want_y, params)
    with bf16_block():
        y = _conv(x, W, b, stride, pad, group)
    assert y.dtype == F32
    got = _grads(y, params)
    _assert_close_rel(tensor.to_numpy(y), tensor.to_numpy(want_y))
    for g, gw in zip(got, want):
        assert g.dtype == F32
        _assert_close_rel(tensor.to_numpy(g), tensor.to_numpy(gw))


def test_conv2d_result_holds_bf16_values():
    x, W = _randn((2, 3, 6, 6), 11), _randn((4, 3, 3, 3), 12)
    with bf16_block():
        y = tensor.to_numpy(_conv(tensor_from(x), tensor_from(W), None))
    assert np.array_equal(y, round_bf16(y))


def test_grads_match_central_differences_of_the_float32_function():
    # the float32 op is gradchecked in test_ops_*; under autocast its gradient is the same
    # function's up to bfloat16 rounding
    x, w = _randn((4, 6), 13), _randn((6, 3), 14)
    dy = _randn((4, 3), 15)
    num = [testing.numerical_gradient(autograd.matmul, [x, w], i, dy, eps=1e-3)
           for i in (0, 1)]
    xt, wt = _leaf(x), _leaf(w)
    with bf16_block():
        y = autograd.matmul(xt, wt)
    got = autograd.gradients(y, tensor.from_numpy(dy))
    _assert_close_rel(tensor.to_numpy(got[id(xt)]), num[0], rel=2e-2)
    _assert_close_rel(tensor.to_numpy(got[id(wt)]), num[1], rel=2e-2)


def test_backward_outside_the_block_still_computes_as_recorded():
    x, w = _leaf(_randn((5, 8), 16)), _leaf(_randn((8, 3), 17))
    dy = tensor.from_numpy(_randn((5, 3), 18))
    with bf16_block():
        y = autograd.matmul(x, w)
        inside = {k: tensor.to_numpy(v) for k, v in
                  autograd.gradients(y, dy, retain_graph=True).items()}
    outside = autograd.gradients(y, dy)
    for k in inside:
        np.testing.assert_array_equal(tensor.to_numpy(outside[k]), inside[k])
        assert np.array_equal(inside[k], round_bf16(inside[k]))


# ---- what autocast leaves alone ----

@pytest.mark.parametrize("fn", [autograd.relu, autograd.softmax, autograd.sigmoid,
                                lambda t: autograd.reduce_sum(t, [1]),
                                lambda t: autograd.add(t, t)],
                         ids=["relu", "softmax", "sigmoid", "reduce_sum", "add"])
def test_other_ops_compute_in_float32_unchanged(fn):
    x = _randn((4, 9), 19)
    want = tensor.to_numpy(fn(tensor_from(x)))
    with bf16_block():
        y = fn(tensor_from(x))
    assert y.dtype == F32
    np.testing.assert_array_equal(tensor.to_numpy(y), want)


def test_loss_and_batchnorm_stay_float32():
    x = tensor_from(_randn((4, 3, 5, 5), 20))
    bn = layer.BatchNorm2d()
    bn(x)  # parameters and running statistics
    want = tensor.to_numpy(bn(x))
    labels = tensor.from_numpy(np.array([0, 1, 2, 1], np.int32))
    logits = _randn((4, 3), 21)
    want_loss = tensor.to_numpy(autograd.softmax_cross_entropy(tensor_from(logits), labels))
    with bf16_block():
        y = bn(x)
        loss = autograd.softmax_cross_entropy(tensor_from(logits), labels)
    assert y.dtype == F32 and loss.dtype == F32
    np.testing.assert_array_equal(tensor.to_numpy(y), want)
    np.testing.assert_array_equal(tensor.to_numpy(loss), want_loss)


def test_float64_operands_are_not_lowered():
    x, w = np.random.default_rng(22).standard_normal((3, 4)), np.ones((4, 2))
    with bf16_block():
        y = autograd.matmul(tensor_from(x), tensor_from(w))
    assert y.dtype == tensor.float64
    np.testing.assert_allclose(tensor.to_numpy(y), x @ w, rtol=1e-12)


def test_bf16_tensors_outside_autocast_keep_their_dtype():
    x = tensor.Tensor(data=_randn((3, 4), 23), dtype=tensor.bfloat16)
    w = tensor.Tensor(data=_randn((4, 2), 24), dtype=tensor.bfloat16)
    assert autograd.matmul(x, w).dtype == tensor.bfloat16


# ---- layers and their parameters ----

def test_linear_and_conv_layers_keep_float32_parameters_and_gradients():
    conv, fc = layer.Conv2d(4, 3, padding=1), layer.Linear(3)
    x = tensor_from(_randn((2, 3, 6, 6), 25), requires_grad=False)
    with bf16_block():
        out = fc(autograd.flatten(autograd.relu(conv(x))))
        loss = autograd.softmax_cross_entropy(out, tensor.from_numpy(np.array([0, 2],
                                                                                np.int32)))
    assert out.dtype == F32 and loss.dtype == F32
    grads = dict(autograd.backward(loss))
    params = [conv.W, conv.b, fc.W, fc.b]
    assert set(map(id, grads)) == set(map(id, params))
    for p in params:
        assert p.dtype == F32 and grads[p].dtype == F32


def test_autocast_covers_the_gemm_layer():
    g = layer.Gemm(3)
    x = tensor_from(_randn((4, 5), 26))
    with bf16_block():
        y = tensor.to_numpy(g(x))
    assert g.W.dtype == F32
    assert np.array_equal(y, round_bf16(y))  # zero bias: the rounded product itself


def test_an_op_records_its_casting_only_under_autocast():
    op = autograd.Matmul()
    a, b = tensor_from(_randn((2, 2), 27)), tensor_from(_randn((2, 2), 28))
    op(a, b)
    assert "amp_dtype" not in vars(op)  # outside autocast an op keeps nothing new
    with bf16_block():
        assert autocast.compute_dtype() == tensor.bfloat16
        op(a, b)
        assert op.amp_dtype == tensor.bfloat16 and op.amp_cast == (True, True)
    y = tensor.to_numpy(op(a, b)[0])  # the same op object again, outside
    assert "amp_dtype" not in vars(op)
    np.testing.assert_allclose(y, tensor.to_numpy(a).astype(np.float64) @ tensor.to_numpy(b),
                               rtol=1e-6)


def test_a_bf16_input_keeps_a_bf16_gradient_and_a_float32_one_gets_float32():
    x = tensor.Tensor(data=_randn((3, 4), 31), dtype=tensor.bfloat16)
    x.requires_grad = x.stores_grad = True
    w = _leaf(_randn((4, 2), 32))
    with bf16_block():
        y = autograd.matmul(x, w)
    assert y.dtype == F32
    grads = autograd.gradients(y, tensor.from_numpy(np.ones((3, 2), np.float32)))
    assert grads[id(x)].dtype == tensor.bfloat16
    assert grads[id(w)].dtype == F32

def test_separable_conv_and_lstm_run_under_autocast_close_to_float32():
    x = tensor_from(_randn((2, 4, 6, 6), 29), requires_grad=False)
    sep = layer.SeparableConv2d(5, 3, padding=1)  # depthwise (group = channels) + 1x1
    want = tensor.to_numpy(sep(x))
    with bf16_block():
        y = sep(x)
    assert y.dtype == F32
    _assert_close_rel(tensor.to_numpy(y), want, rel=2e-2)

    lstm = layer.LSTM(3, 6)
    xs = tensor_from(_randn((4, 2, 3), 30), requires_grad=False)
    h0 = tensor_from(np.zeros((2, 6), np.float32), requires_grad=False)
    c0 = tensor_from(np.zeros((2, 6), np.float32), requires_grad=False)
    want = [tensor.to_numpy(t) for t in lstm(xs, (h0, c0))[1:]]
    with bf16_block():
        got = lstm(xs, (h0, c0))[1:]
    for g, w in zip(got, want):
        assert g.dtype == F32
        _assert_close_rel(tensor.to_numpy(g), w, rel=2e-2)
