"""SINGA names and keyword arguments that scripts use (issue 13, the last gaps)."""

import numpy as np
import pytest

from singa import autograd, device, layer, opt, tensor
from singa import singa_wrap as sw
from singa.tensor import Tensor

RNG = np.random.default_rng(13)


def T(a, **kw):
    return tensor.from_numpy(np.asarray(a, dtype=np.float32), **kw) if not kw else \
        Tensor(data=np.asarray(a, dtype=np.float32), **kw)


def N(t):
    return tensor.to_numpy(t)


# ------------------------------------------------------------- keyword names

@pytest.mark.parametrize("query", [lambda: device.get_gpu_mem_size(id=0),
                                   lambda: device.device_query(id=0, verbose=False)])
def test_gpu_queries_take_singas_id_keyword(query):
    if sw.USE_CUDA and device.get_num_gpus() > 0:
        assert query() is not None
    else:
        with pytest.raises(RuntimeError, match="no GPU 0"):
            query()


def test_tensor_reshape_and_contiguous_take_singas_keywords():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = tensor.from_numpy(a)
    np.testing.assert_array_equal(N(tensor.reshape(tensor=x, shape=(3, 2))), a.reshape(3, 2))
    xt = x.transpose()
    c = tensor.contiguous(tensor=xt)
    np.testing.assert_array_equal(N(c), a.T)
    assert not c.is_transpose()


@pytest.mark.parametrize("op, fn, ref", [
    (autograd.Less, autograd.less, np.less),
    (autograd.Greater, autograd.greater, np.greater),
    (autograd.Equal, autograd.equal, np.equal)])
def test_comparisons_take_x_and_y(op, fn, ref):
    a = np.array([[1.0, 2.0, 3.0]], np.float32)
    b = np.array([[2.0, 2.0, 2.0]], np.float32)
    want = ref(a, b).astype(np.float32)
    np.testing.assert_array_equal(N(fn(x=tensor.from_numpy(a), y=tensor.from_numpy(b))), want)
    out = op().forward(x=tensor.from_numpy(a).data, y=tensor.from_numpy(b).data)
    np.testing.assert_array_equal(tensor.to_numpy(tensor.from_raw_tensor(out)), want)


def test_mul_takes_x_and_y():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
    y = autograd.mul(x=T(a), y=T(b))
    np.testing.assert_allclose(N(y), (a * b).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("op, fn, ref", [(autograd.Abs, autograd.abs, np.abs),
                                         (autograd.Exp, autograd.exp, np.exp),
                                         (autograd.Sign, autograd.sign, np.sign)])
def test_abs_exp_sign_take_a_and_keep_their_gradients(op, fn, ref):
    a = np.array([[-1.5, 0.5, 2.0]], np.float32)
    np.testing.assert_allclose(N(fn(a=T(a))), ref(a), rtol=1e-6)
    o = op()
    y = o.forward(a=T(a).data)
    np.testing.assert_allclose(tensor.to_numpy(tensor.from_raw_tensor(y)), ref(a), rtol=1e-6)
    x = T(a, requires_grad=True, stores_grad=True)
    autograd.training = True
    try:
        loss = autograd.reduce_sum(fn(x), None, 0)
        grads = dict((id(p), g) for p, g in autograd.backward(loss))
    finally:
        autograd.training = False
    want = {autograd.Abs: np.sign(a), autograd.Exp: np.exp(a), autograd.Sign: 0 * a}[op]
    np.testing.assert_allclose(N(grads[id(x)]), want, rtol=1e-6)


def test_cross_entropy_takes_x():
    p = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    t = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    want = -np.mean(np.sum(t * np.log(p), 1))
    np.testing.assert_allclose(N(autograd.cross_entropy(x=T(p), t=T(t))), [want], rtol=1e-6)
    loss = autograd.CrossEntropy(T(t).data).forward(x=T(p).data)
    np.testing.assert_allclose(tensor.to_numpy(tensor.from_raw_tensor(loss)), [want],
                               rtol=1e-6)


# --------------------------------------------------------------- counters

def test_tensor_count_counts_unnamed_tensors():
    before = Tensor.tensor_count
    Tensor((2,))
    tensor.zeros((3,))
    Tensor((2,), name="W")
    assert Tensor.tensor_count >= before + 2
    mid = Tensor.tensor_count
    Tensor((2,), name="b")
    assert Tensor.tensor_count == mid


def test_op_count_is_the_number_of_the_next_default_name():
    n = autograd.Operator.op_count
    op = autograd.ReLU()
    assert op.name == "ReLU#{}".format(n)
    assert autograd.Operator.op_count == n + 1
    assert autograd.Operation.op_count == autograd.ReLU.op_count == n + 1


# --------------------------------------------------------------- missing names

def test_add_all_sums_its_inputs():
    xs = [RNG.standard_normal((2, 3)) for _ in range(4)]
    y = autograd.add_all(*[T(x) for x in xs])
    np.testing.assert_allclose(N(y), np.sum(xs, 0).astype(np.float32), rtol=1e-5)
    np.testing.assert_array_equal(N(autograd.add_all(T(xs[0]))), xs[0].astype(np.float32))
    with pytest.raises(ValueError, match="add_all"):
        autograd.add_all()


def test_cossim_dot_is_the_row_wise_dot_product():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    d = autograd.CosSim.dot(T(a).data, T(b).data)
    np.testing.assert_allclose(tensor.to_numpy(tensor.from_raw_tensor(d)),
                               np.sum(a * b, 1).astype(np.float32), rtol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        autograd.CosSim.dot(T(a).data, T(b[:, :2]).data)


def test_autograd_rnn_base_is_the_layer_class():
    assert autograd.RNN_Base is layer.RNN_Base
    assert "RNN_Base" in autograd.__all__
    assert issubclass(autograd.RNN, autograd.RNN_Base)


def test_optimizer_call_updates_without_stepping():
    w = T([[1.0, 2.0]], requires_grad=True, stores_grad=True)
    sgd = opt.SGD(lr=0.5)
    autograd.training = True
    try:
        loss = autograd.reduce_sum(autograd.mul(w, w), None, 0)
        sgd.call(loss)
    finally:
        autograd.training = False
    np.testing.assert_allclose(N(w), [[0.0, 0.0]], atol=1e-7)  # w - 0.5 * 2w
    assert int(N(sgd.step_counter)[0]) == 0
    sgd.step()
    assert int(N(sgd.step_counter)[0]) == 1


def test_sgd_device_check_moves_inputs_to_the_first_ones_device():
    a, b = T([1.0]), T([2.0])
    opt.SGD().device_check(a, b)
    assert b.device == a.device
    np.testing.assert_array_equal(N(b), [2.0])
    with pytest.raises(TypeError, match="input 1 is a float"):
        opt.SGD().device_check(a, 1.0)


def test_rnn_step_forward_accepts_singas_weights():
    rnn = layer.RNN(3, 2)
    x, h = T(RNG.standard_normal((4, 3))), T(np.zeros((4, 2)))
    own = rnn.step_forward(x, h)
    np.testing.assert_allclose(N(rnn.step_forward(x, h, rnn.Wx, rnn.Wh, rnn.b)), N(own))
    wx, wh, b = T(np.ones((3, 2))), T(np.zeros((2, 2))), T([1.0, -1.0])
    want = np.tanh(N(x) @ np.ones((3, 2)) + np.array([1.0, -1.0]))
    got = rnn.step_forward(x, h, Wx=wx, Wh=wh, b=b)
    np.testing.assert_allclose(N(got), want.astype(np.float32), rtol=1e-5)
    nobias = layer.RNN(3, 2, bias=False)
    np.testing.assert_allclose(N(nobias.step_forward(x, h, wx, wh)),
                               np.tanh(N(x) @ np.ones((3, 2))).astype(np.float32), rtol=1e-5)


def test_layer_meta_initializes_before_a_direct_forward():
    class Scale(layer.Layer, metaclass=layer.LayerMeta):
        def initialize(self, x):
            self.calls = getattr(self, "calls", 0) + 1
            self.w = Tensor((x.shape[1],), requires_grad=True, stores_grad=True)
            self.w.set_value(2.0)

        def forward(self, x):
            return autograd.mul(x, self.w)

    assert isinstance(Scale, layer.LayerMeta) and isinstance(Scale, type)
    s = Scale()
    x = T(np.ones((2, 3)))
    np.testing.assert_array_equal(N(s.forward(x)), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(N(s(x)), np.full((2, 3), 2.0))
    assert s.calls == 1
    assert s.initialize() is None and s.calls == 1
    with pytest.raises(TypeError, match="expects Tensors"):
        Scale().initialize(np.ones((2, 3)))


# ------------------------------------------------ 16-bit fused updates

def _round(a, dt):
    return tensor.to_numpy(Tensor(data=a.astype(np.float32)).as_type(dt))


@pytest.mark.parametrize("dt", [tensor.float16, tensor.bfloat16])
@pytest.mark.parametrize("make", [lambda: opt.SGD(lr=0.1, momentum=0.9, weight_decay=0.01),
                                  lambda: opt.Adam(lr=0.01, weight_decay=0.01)])
def test_half_updates_are_float32_steps_rounded(dt, make):
    """Each step on a 16-bit parameter equals the float32 step on the same (widened)
    values, rounded to the parameter's dtype: parameter and state."""
    p0 = _round(RNG.standard_normal((5, 7)), dt)
    half_opt, ref_opt = make(), make()
    p = Tensor(data=p0).as_type(dt)
    p.stores_grad = True
    ref = Tensor(data=p0, stores_grad=True)
    for _ in range(3):
        g = _round(RNG.standard_normal((5, 7)), dt)
        half_opt.update(p, Tensor(data=g).as_type(dt))
        ref_opt.update(ref, Tensor(data=g))
        half_opt.step()
        ref_opt.step()
        assert p.dtype == dt
        np.testing.assert_array_equal(N(p), _round(N(ref), dt))
        # the reference continues from the rounded values, as the 16-bit state does
        ref.copy_from_numpy(N(p))
        for slot, t in ref_opt._states[ref].items():
            h = half_opt._states[p][slot]
            assert h.data_type() == dt
            hv = tensor.to_numpy(tensor.from_raw_tensor(h.AsType(tensor.float32)))
            np.testing.assert_array_equal(hv, _round(tensor.to_numpy(
                tensor.from_raw_tensor(t)), dt))
            tensor.copy_from_numpy(t, hv)
