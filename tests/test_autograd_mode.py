"""autograd's two switches (grad mode, training mode), their thread-local overrides,
Operation.save, and the public names star imports export."""

import subprocess
import sys
import threading

import numpy as np
import pytest

from singa import autograd, singa_wrap as singa, tensor, testing
from singa.testing import tensor_from as _t


def _param(a):
    return _t(np.asarray(a, np.float32), stores_grad=True)


def _in_thread(fn):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("v", fn()))
    th.start()
    th.join()
    return out["v"]


def test_default_is_false_in_a_fresh_process():
    code = ("from singa import autograd; "
            "assert autograd.training is False, autograd.training; "
            "assert not autograd.is_train_mode()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_star_import_exports_the_public_api_only():
    ns = {}
    exec("from singa.autograd import *", ns)
    for helper in ("sum_to", "full_like", "zeros", "singa", "np", "math", "Tensor", "CTensor"):
        assert helper not in ns, helper
    for name in ("relu", "Operation", "backward", "no_grad", "softmax_cross_entropy", "conv2d",
                 "_not", "Linear"):
        assert name in ns, name
    assert set(autograd.__all__) <= set(dir(autograd)) | set(autograd._LAYER_ALIASES)


def test_assignment_sets_both_defaults_for_every_thread():
    autograd.training = True
    assert autograd.training is True and autograd.is_train_mode()
    assert _in_thread(lambda: (autograd.is_grad_enabled(), autograd.is_train_mode())) == (True, True)
    autograd.training = False
    assert _in_thread(lambda: (autograd.is_grad_enabled(), autograd.is_train_mode())) == (False, False)


def test_no_grad_is_thread_local_nests_and_restores():
    autograd.training = True
    with autograd.no_grad():
        assert autograd.training is False and not autograd.is_grad_enabled()
        assert autograd.is_train_mode()  # the other switch is untouched
        assert _in_thread(autograd.is_grad_enabled) is True
        with autograd.no_grad():
            assert not autograd.is_grad_enabled()
        assert not autograd.is_grad_enabled()
    assert autograd.training is True
    with pytest.raises(KeyError):
        with autograd.no_grad():
            raise KeyError("x")
    assert autograd.is_grad_enabled()


def test_no_grad_as_decorator_records_nothing():
    autograd.training = True
    x = _param(np.ones((2, 2)))

    @autograd.no_grad()
    def infer(v):
        return autograd.relu(v)

    y = infer(x)
    assert not hasattr(y.creator, "src")
    assert autograd.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    with autograd.set_grad_enabled(True):
        assert autograd.training is True
    assert autograd.training is False
    autograd.set_grad_enabled(True)
    assert autograd.training is True
    assert _in_thread(autograd.is_grad_enabled) is False
    autograd.set_grad_enabled(False)
    assert autograd.training is False

    @autograd.set_grad_enabled(True)
    def recorded():
        return autograd.is_grad_enabled()

    assert autograd.training is False  # decorating changes nothing now
    assert recorded() is True and autograd.training is False


def test_train_mode_drives_dropout_without_recording():
    x = _t(np.ones((64, 64), np.float32))
    with autograd.train(True):
        assert not autograd.is_grad_enabled()
        y = tensor.to_numpy(autograd.dropout(x, ratio=0.5))
        assert set(np.unique(y)) == {0.0, 2.0}
        assert _in_thread(autograd.is_train_mode) is False
    np.testing.assert_array_equal(tensor.to_numpy(autograd.dropout(x, ratio=0.5)), 1.0)


def test_dropout_in_inference_behaviour_passes_gradients_through():
    autograd.training = True
    x = _param(np.ones((3, 4)))
    with autograd.train(False):
        y = autograd.dropout(x, ratio=0.5)
    g = autograd.gradients(autograd.reduce_sum(y))[id(x)]
    np.testing.assert_array_equal(tensor.to_numpy(g), 1.0)


def _bn_handle(shape):
    return singa.BatchNormHandle(0.9, list(shape))


@pytest.mark.parametrize("shape", [(4, 3, 2, 2), (5, 3)], ids=str)
def test_batchnorm_inference_behaviour_is_differentiable(shape):
    """Grad mode on, training mode off: normalised with the fixed running statistics,
    whose gradient is checked against central differences."""
    rng = np.random.default_rng(0)
    c = shape[1]
    mean = tensor.from_numpy(rng.normal(size=c))
    var = tensor.from_numpy(rng.uniform(0.5, 2.0, size=c))
    handle = _bn_handle(shape)

    def f(x, s, b):
        with autograd.train(False):
            return autograd.batchnorm_2d(handle, x, s, b, mean, var)

    x, s, b = rng.normal(size=shape), rng.uniform(0.5, 1.5, c), rng.normal(size=c)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    ref = (s.reshape(bshape) * (x - tensor.to_numpy(mean).reshape(bshape))
           / np.sqrt(tensor.to_numpy(var).reshape(bshape) + handle.eps) + b.reshape(bshape))
    y = f(*[tensor.from_numpy(a) for a in (x, s, b)])
    np.testing.assert_allclose(tensor.to_numpy(y), ref, rtol=1e-10)
    assert testing.gradcheck(f, [x, s, b])
    np.testing.assert_array_equal(tensor.to_numpy(mean), tensor.to_numpy(mean))  # not updated


def test_batchnorm_train_mode_updates_running_stats_even_without_grad():
    rng = np.random.default_rng(1)
    x = tensor.from_numpy(rng.normal(3.0, 1.0, size=(8, 2, 3, 3)).astype(np.float32))
    s, b = tensor.ones((2,)), tensor.zeros((2,))
    mean, var = tensor.zeros((2,)), tensor.ones((2,))
    with autograd.train(True):
        autograd.batchnorm_2d(_bn_handle(x.shape), x, s, b, mean, var)
    assert np.all(tensor.to_numpy(mean) > 0.2)


class _Square(autograd.Operation):
    def forward(self, x):
        self.save(x=x)
        return singa.Square(x)

    def backward(self, dy):
        return dy * singa.MultFloat(self.x, 2.0)


class _OldStyleSquare(autograd.Operation):
    """A custom op written before Operation.save: the flag test keeps working."""

    def forward(self, x):
        if autograd.training:
            self.x = x
        return singa.Square(x)

    def backward(self, dy):
        return dy * singa.MultFloat(self.x, 2.0)


@pytest.mark.parametrize("op", [_Square, _OldStyleSquare])
def test_custom_ops_new_and_old_style(op):
    x = np.random.default_rng(2).normal(size=(3, 2))
    assert testing.gradcheck(lambda t: op()(t)[0], [x])
    with autograd.no_grad():
        y = op()(_t(x))[0]
    assert "x" not in vars(y.creator)


def test_save_keeps_nothing_when_no_input_needs_a_gradient():
    autograd.training = True
    data = _t(np.ones((2, 2), np.float32), requires_grad=False)
    y = _Square()(data)[0]
    assert "x" not in vars(y.creator)
    w = _param(np.ones((2, 2)))
    y = _Square()(w)[0]
    assert "x" in vars(y.creator)


def test_save_follows_grad_mode_when_forward_is_called_directly():
    x = _t(np.ones((2,), np.float32)).data
    op = _Square()
    op.forward(x)
    assert "x" not in vars(op)
    autograd.training = True
    op.forward(x)
    assert "x" in vars(op)


def test_leaf_creator_is_a_dummy_made_on_demand():
    t = tensor.Tensor((2,))
    assert t._creator is None
    assert isinstance(t.creator, autograd.Dummy)
    assert t.creator is t.creator
