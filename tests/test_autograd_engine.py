"""The autograd engine: graph recording, the backward walk, gradient accumulation,
stores_grad/requires_grad semantics, memory release and error messages."""

import sys

import numpy as np
import pytest

from _core import leaf
from singa import autograd, singa_wrap, tensor, testing
from singa.autograd import Dummy, Operation, Operator


pytestmark = pytest.mark.usefixtures("recording")




def _param(a):
    return leaf(a, True, True)


def _np(t):
    return tensor.to_numpy(t)


# ---------------------------------------------------------- recording


def test_operator_is_operation():
    assert Operator is Operation


def test_leaves_have_dummy_creators():
    x = tensor.Tensor((2, 3))
    assert isinstance(x.creator, Dummy)
    assert x.creator.tensor is x
    assert x.creator.src == []
    y = tensor.from_numpy(np.zeros(3, np.float32))
    assert isinstance(y.creator, Dummy)


def test_creator_and_src_recorded():
    x, w = leaf(np.ones((2, 3))), _param(np.ones((3, 4)))
    h = autograd.matmul(x, w)
    y = autograd.relu(h)
    assert isinstance(h.creator, autograd.Matmul)
    assert isinstance(y.creator, autograd.ReLU)
    assert [s[0] for s in y.creator.src] == [h.creator]
    assert [s[0] for s in h.creator.src] == [x.creator, w.creator]
    # src entries: (creator, id(input), input if it stores its gradient, stores_grad)
    assert h.creator.src[1][1] == id(w) and h.creator.src[1][2] is w and h.creator.src[1][3]
    assert h.creator.src[0][2] is None and not h.creator.src[0][3]


def test_requires_grad_propagates():
    a, b = leaf([1.0], requires_grad=False), leaf([2.0], requires_grad=False)
    c = leaf([3.0], requires_grad=True)
    assert not autograd.add(a, b).requires_grad
    assert autograd.add(a, c).requires_grad
    assert autograd.relu(autograd.add(c, a)).requires_grad
    assert not autograd.relu(autograd.add(a, b)).requires_grad


def test_op_returns_tuple_of_tensors_and_rejects_non_tensors():
    x = leaf(np.ones((2, 2)))
    out = autograd.ReLU()(x)
    assert isinstance(out, tuple) and len(out) == 1 and isinstance(out[0], tensor.Tensor)
    with pytest.raises(TypeError, match="ReLU"):
        autograd.ReLU()(np.ones((2, 2)))


# ----------------------------------------------------------- backward


def test_fan_in_accumulates():
    x = _param([1.0, -2.0, 3.0])
    # x used twice by one op and again by another: d/dx (x*x + x) = 2x + 1
    y = autograd.add(autograd.mul(x, x), x)
    g = autograd.gradients(y, leaf(np.ones(3)))[id(x)]
    np.testing.assert_allclose(_np(g), [3.0, -3.0, 7.0])


def test_fan_in_through_branches():
    x = _param([[0.5, -1.0]])
    a = autograd.tanh(x)
    b = autograd.exp(x)
    y = autograd.reduce_sum(autograd.mul(a, b))
    assert testing.gradcheck(lambda t: autograd.reduce_sum(autograd.mul(autograd.tanh(t),
                                                                        autograd.exp(t))),
                             [np.array([[0.5, -1.0]])])
    g = autograd.gradients(y)[id(x)]
    xv = np.array([[0.5, -1.0]])
    np.testing.assert_allclose(_np(g), (1 - np.tanh(xv) ** 2) * np.exp(xv)
                               + np.tanh(xv) * np.exp(xv), rtol=1e-5)


def test_deep_chain_is_iterative():
    n = 10000
    x = _param([1.0, 2.0])
    one = leaf([1.0], requires_grad=False)
    y = x
    for _ in range(n):
        y = autograd.add(y, one)
    assert n > sys.getrecursionlimit()
    np.testing.assert_allclose(_np(y), [n + 1.0, n + 2.0])
    grads = autograd.gradients(y, leaf(np.ones(2)))
    np.testing.assert_allclose(_np(grads[id(x)]), [1.0, 1.0])


def test_backward_requires_scalar_or_dy():
    x = _param(np.ones((2, 3)))
    y = autograd.relu(x)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        list(autograd.backward(y))
    with pytest.raises(ValueError, match="dy"):
        list(autograd.backward(y, leaf(np.ones((3, 2)))))
    # A (1,)-shaped loss needs no dy.
    loss = autograd.reduce_mean(autograd.relu(_param(np.ones((2, 3)))), None, 0)
    assert len(autograd.gradients(loss)) == 1


def test_dy_scales_gradients():
    x = _param([1.0, 2.0])
    y = autograd.mul(x, x)
    g = autograd.gradients(y, leaf([3.0, -1.0]))[id(x)]
    np.testing.assert_allclose(_np(g), [6.0, -4.0])


def test_backward_of_a_leaf():
    x = _param([1.0, 2.0])
    pairs = list(autograd.backward(x, leaf([5.0, 6.0])))
    assert len(pairs) == 1 and pairs[0][0] is x
    np.testing.assert_allclose(_np(pairs[0][1]), [5.0, 6.0])


# --------------------------------------------- stores_grad / requires_grad


def test_only_stores_grad_tensors_are_yielded():
    x = leaf(np.ones((1, 3)))                      # requires_grad, not stored
    w = _param(np.full((3, 2), 0.5))
    h = autograd.matmul(x, w)
    loss = autograd.reduce_sum(autograd.relu(h))
    pairs = list(autograd.backward(loss))
    assert [p for p, _ in pairs] == [w]
    np.testing.assert_allclose(_np(pairs[0][1]), np.ones((3, 2)))


def test_intermediate_with_stores_grad_is_yielded():
    x = _param([1.0, -2.0])
    h = autograd.mul(x, leaf([3.0, 3.0], requires_grad=False))
    h.stores_grad = True
    y = autograd.reduce_sum(autograd.mul(h, h))
    grads = autograd.gradients(y)
    np.testing.assert_allclose(_np(grads[id(h)]), [6.0, -12.0])
    np.testing.assert_allclose(_np(grads[id(x)]), [18.0, -36.0])


def test_requires_grad_false_inputs_get_no_gradient():
    a = leaf([1.0, 2.0], requires_grad=False, stores_grad=True)
    w = _param([3.0, 4.0])
    grads = autograd.gradients(autograd.mul(a, w), leaf([1.0, 1.0]))
    assert id(a) not in grads
    np.testing.assert_allclose(_np(grads[id(w)]), [1.0, 2.0])


def test_nothing_requires_grad_yields_nothing():
    a = leaf([1.0, 2.0], requires_grad=False)
    b = leaf([3.0, 4.0], requires_grad=False)
    assert autograd.gradients(autograd.mul(a, b), leaf([1.0, 1.0])) == {}


def test_params_yielded_as_soon_as_final():
    """w2 (next to the loss) is yielded before the ops that lead to w1 run backward."""
    x = leaf([[1.0, -1.0]])
    w1, w2 = _param([[0.5, 0.2], [0.1, 0.3]]), _param([[1.0], [2.0]])
    h = autograd.matmul(x, w1)
    mm1 = h.creator
    a = autograd.tanh(h)
    loss = autograd.reduce_sum(autograd.matmul(a, w2))
    gen = autograd.backward(loss)
    p, g = next(gen)
    assert p is w2
    assert g.shape == (2, 1)
    # The first matmul has not run its backward yet: its saved inputs are still there.
    assert hasattr(mm1, "x") and hasattr(mm1, "src")
    p, g = next(gen)
    assert p is w1
    assert not hasattr(mm1, "x")
    with pytest.raises(StopIteration):
        next(gen)


def test_param_used_by_two_ops_yielded_once_with_the_sum():
    x = leaf([2.0, 3.0])
    w = _param([1.0, 1.0])
    y = autograd.add(autograd.mul(x, w), autograd.mul(w, w))
    pairs = list(autograd.backward(y, leaf([1.0, 1.0])))
    assert len(pairs) == 1 and pairs[0][0] is w
    np.testing.assert_allclose(_np(pairs[0][1]), [4.0, 5.0])


# ------------------------------------------------------ training flag


def test_no_grad_records_nothing():
    x = _param(np.ones((2, 2)))
    with autograd.no_grad():
        assert autograd.training is False
        y = autograd.relu(x)
    assert autograd.training is True
    op = y.creator
    assert not hasattr(op, "src") and not hasattr(op, "x")
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="training"):
        list(autograd.backward(y, leaf(np.ones((2, 2)))))


def test_no_grad_restores_flag_after_error():
    with pytest.raises(KeyError):
        with autograd.no_grad():
            raise KeyError("x")
    assert autograd.training is True


def test_training_false_saves_nothing():
    autograd.training = False
    x = _param(np.ones((2, 3)))
    w = _param(np.ones((3, 2)))
    for y in (autograd.relu(x), autograd.matmul(x, w), autograd.sigmoid(x), autograd.mul(x, x)):
        saved = set(vars(y.creator)) - {"_name", "_id", "requires_grad", "_saving"}
        assert saved <= {"_y_meta", "y_id2idx"} and not saved, saved


# ------------------------------------------------------------ memory


def test_saved_tensors_released_after_backward():
    x = leaf(np.ones((2, 3)))
    w = _param(np.ones((3, 2)))
    h = autograd.matmul(x, w)
    y = autograd.sigmoid(h)
    loss = autograd.reduce_mean(y, None, 0)
    ops = [h.creator, y.creator, loss.creator]
    assert hasattr(ops[0], "x") and hasattr(ops[1], "y")
    autograd.gradients(loss)
    for op in ops:
        assert set(vars(op)) <= {"_name", "_id", "requires_grad"}, vars(op)
    # The graph is consumed: a second backward says so instead of failing obscurely.
    with pytest.raises(RuntimeError, match="backward"):
        autograd.gradients(loss)


# ------------------------------------------------------- multi-output


def test_split_with_one_output_used():
    x = _param(np.arange(8.0).reshape(4, 2))
    a, b = autograd.split(x, 0, [1, 3])
    loss = autograd.reduce_sum(autograd.mul(b, b))
    g = _np(autograd.gradients(loss)[id(x)])
    expected = 2 * np.arange(8.0).reshape(4, 2)
    expected[0] = 0
    np.testing.assert_allclose(g, expected)


def test_split_with_both_outputs_used_at_different_depths():
    x = _param(np.arange(6.0).reshape(3, 2))
    a, b = autograd.split(x, 0, [1, 2])
    loss = autograd.add(autograd.reduce_sum(autograd.exp(autograd.tanh(a))),
                        autograd.reduce_sum(b))
    g = _np(autograd.gradients(loss)[id(x)])
    t = np.tanh(np.arange(2.0))
    np.testing.assert_allclose(g[0], np.exp(t) * (1 - t ** 2), rtol=1e-5)
    np.testing.assert_allclose(g[1:], np.ones((2, 2)))


class _TwoOut(Operation):
    """y1 = 2x, y2 = x^2: a custom op with two outputs."""

    def forward(self, x):
        if autograd.training:
            self.x = x
        return singa_wrap.MultFloat(x, 2.0), singa_wrap.Square(x)

    def backward(self, d1, d2):
        return singa_wrap.__add__(singa_wrap.MultFloat(d1, 2.0),
                                  singa_wrap.MultFloat(d2 * self.x, 2.0))


def test_custom_multi_output_op():
    assert testing.gradcheck(lambda t: autograd.add(*_TwoOut()(t)), [np.array([0.5, -1.5])])
    assert testing.gradcheck(lambda t: _TwoOut()(t)[1], [np.array([0.5, -1.5])])


# ------------------------------------------------------------ errors


def test_matmul_shape_error_names_op_and_shapes():
    with pytest.raises(ValueError, match="Matmul") as e:
        autograd.matmul(leaf(np.ones((2, 3))), leaf(np.ones((4, 5))))
    assert "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)


def test_add_unbroadcastable_names_op_and_shapes():
    with pytest.raises(ValueError, match="Add") as e:
        autograd.add(leaf(np.ones((2, 3))), leaf(np.ones((4, 3))))
    assert "(2, 3)" in str(e.value) and "(4, 3)" in str(e.value)


@pytest.mark.parametrize("fn,name", [
    (lambda: autograd.reshape(leaf(np.ones((2, 3))), (4, 2)), "Reshape"),
    (lambda: autograd.cat([leaf(np.ones((2, 3))), leaf(np.ones((3, 2)))], 0), "Concat"),
    (lambda: autograd.mul(leaf(np.ones((2, 3))), leaf(np.ones((3, 2)))), "Mul"),
    (lambda: autograd.gemm(leaf(np.ones((2, 3))), leaf(np.ones((2, 3)))), "Gemm"),
    (lambda: autograd.squeeze(leaf(np.ones((2, 3))), 0), "Squeeze"),
])
def test_shape_errors_name_the_op(fn, name):
    with pytest.raises(ValueError, match=name):
        fn()


def test_batched_matmul_backward_is_exact():
    """SINGA aborts in a batched matmul's backward; ours must work (and be right)."""
    rng = np.random.default_rng(0)
    assert testing.gradcheck(autograd.matmul, [rng.normal(size=(2, 3, 4)),
                                               rng.normal(size=(4, 5))])


def test_wrong_number_of_gradients_is_reported():
    class Bad(Operation):
        def forward(self, a, b):
            return singa_wrap.__add__(a, b)

        def backward(self, dy):
            return dy

    y = Bad()(_param([1.0]), _param([2.0]))[0]
    with pytest.raises(RuntimeError, match="Bad"):
        autograd.gradients(y)


def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(Operation):
        def forward(self, x):
            self.x = x
            return singa_wrap.Square(x)

        def backward(self, dy):
            return dy * self.x  # missing the factor 2

    with pytest.raises(AssertionError, match="input 0"):
        testing.gradcheck(lambda t: WrongSquare()(t)[0], [np.array([1.0, 2.0])])


class _StopGradient(autograd.Operation):
    def forward(self, x):
        return x

    def backward(self, dy):
        return None


def test_op_that_receives_no_gradient_passes_none_on():
    # relu's output feeds only an op that returns no gradient: backward skips relu, and x
    # (reachable only through it) gets no gradient, while w still gets its own.
    x, w = _param(np.ones((2, 2))), _param(np.full((2, 2), 3.0))
    z = _StopGradient()(autograd.relu(x))[0]
    grads = {id(p): tensor.to_numpy(g) for p, g in autograd.backward(
        autograd.reduce_sum(autograd.mul(z, w)))}
    assert id(x) not in grads
    np.testing.assert_array_equal(grads[id(w)], np.ones((2, 2)))
