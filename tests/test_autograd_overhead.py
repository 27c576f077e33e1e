"""The engine's cheaper per-op paths keep every behaviour: SINGA's op counter, Python
subclasses of Operation (forward/backward, SINGA's _do_forward/_do_backward hooks, and
Operation.__call__ and save, which are C methods),
Add/Sub gradients with and without broadcasting, gradient slots only for ops a gradient
reaches, and the release of saved tensors."""

import traceback

import numpy as np
import pytest

from _core import leaf
from singa import autograd, singa_wrap, tensor
from singa.autograd import Operation


pytestmark = pytest.mark.usefixtures("recording")




def _np(t):
    return tensor.to_numpy(t)


# ------------------------------------------------------------ op_count


def test_calling_an_op_writes_nothing_to_the_operation_classes():
    # A write to a class drops the interpreter's attribute caches of it and of every
    # subclass: counting ops must not touch the classes.
    x = leaf([1.0])
    before = {cls: dict(vars(cls)) for cls in (Operation, autograd.Add, autograd.ReLU)}
    autograd.relu(autograd.add(x, x))
    assert {cls: dict(vars(cls)) for cls in before} == before


def test_op_count_reads_the_same_on_classes_and_instances():
    op = autograd.ReLU()
    n = Operation.op_count
    assert autograd.Operator.op_count == autograd.Add.op_count == op.op_count == n
    autograd.Add()
    assert Operation.op_count == op.op_count == n + 1


def test_setting_op_count_renumbers_the_next_default_names():
    old = Operation.op_count
    try:
        Operation.op_count = 7
        assert Operation.op_count == 7
        a, b = autograd.Add(), autograd.ReLU()
        assert (a.name, b.name) == ("Add#7", "ReLU#8")
        assert autograd.Mul.op_count == 9
    finally:
        # on from every number handed out so far (7 and 8 may have been given before)
        Operation.op_count = max(old, 9)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_op_count_takes_only_a_non_negative_int(bad):
    before = Operation.op_count
    with pytest.raises(TypeError, match="op_count"):
        Operation.op_count = bad
    assert Operation.op_count == before


# ------------------------------------------------------- Python subclasses


class _Scale(Operation):
    """y = k * x, logging its calls (in a list of the test's own: backward releases the
    op's attributes)."""

    def __init__(self, k, calls=None):
        super().__init__()
        self.k = k
        self.calls = [] if calls is None else calls

    def forward(self, x):
        self.calls.append("forward")
        return singa_wrap.MultFloat(x, self.k)

    def backward(self, dy):
        self.calls.append("backward")
        return singa_wrap.MultFloat(dy, self.k)


def test_a_python_subclass_runs_its_own_forward_and_backward():
    w = leaf([1.0, 2.0], stores_grad=True)
    calls = []
    op = _Scale(3.0, calls)
    (y,) = op(w)
    assert y.creator is op and calls == ["forward"]
    np.testing.assert_allclose(_np(y), [3.0, 6.0])
    loss = autograd.reduce_sum(autograd.mul(y, y))
    pairs = list(autograd.backward(loss))
    assert calls == ["forward", "backward"]
    assert [p for p, _ in pairs] == [w]
    np.testing.assert_allclose(_np(pairs[0][1]), 2 * 9.0 * np.array([1.0, 2.0]))


class _HookedForward(_Scale):
    """SINGA's hook: an op may override _do_forward around the base's work."""

    def _do_forward(self, *xs):
        self.calls.append("hook")
        return super()._do_forward(*xs)


class _HookedBackward(_Scale):
    def _do_backward(self, *dys):
        self.calls.append("backward hook")
        return super()._do_backward(*dys)


def test_an_overridden_do_forward_is_what_a_call_runs():
    w = leaf([2.0], stores_grad=True)
    calls = []
    op = _HookedForward(2.0, calls)
    (y,) = op(w)
    assert calls == ["hook", "forward"]
    assert y.creator is op
    np.testing.assert_allclose(_np(autograd.gradients(y)[id(w)]), [2.0])


def test_an_overridden_do_backward_is_what_the_engine_runs():
    w = leaf([2.0], stores_grad=True)
    calls = []
    op = _HookedBackward(5.0, calls)
    (y,) = op(w)
    grads = autograd.gradients(y)
    assert calls == ["forward", "backward hook", "backward"]
    np.testing.assert_allclose(_np(grads[id(w)]), [5.0])


class _OverriddenCall(_Scale):
    """A subclass that wraps the base's call (the C method) with super()."""

    def __call__(self, *xs):
        self.calls.append("call")
        return super().__call__(*xs)


def test_call_and_save_are_c_methods_that_bind_as_python_ones_do():
    w = leaf([2.0], stores_grad=True)
    calls = []
    (y,) = _OverriddenCall(4.0, calls)(w)
    assert calls == ["call", "forward"]
    np.testing.assert_allclose(_np(autograd.gradients(y)[id(w)]), [4.0])
    op = _Scale(1.5, [])
    (y,) = Operation.__call__(op, w)  # the unbound form SINGA code uses
    assert y.creator is op
    np.testing.assert_allclose(_np(y), [3.0])
    with pytest.raises(TypeError, match="keyword"):
        op(w, extra=1)
    with pytest.raises(TypeError):
        Operation.__call__(w, w)  # not an Operation
    assert Operation._do_forward is Operation.__call__


def test_save_takes_keywords_only_and_writes_the_instance_dict():
    op = _Scale(1.0, [])
    op._saving = True
    op.save(a=1, b="two")
    assert op.__dict__["a"] == 1 and op.__dict__["b"] == "two"
    op.save()
    with pytest.raises(TypeError, match="keyword arguments only"):
        op.save(3)
    op._saving = False
    op.save(c=3)
    assert "c" not in op.__dict__
    # into the dict even where a property has the name, as dict.update wrote it
    op._saving = True
    op.save(name="saved")
    assert op.__dict__["name"] == "saved" and op.name.startswith("_Scale#")


def test_operand_shapes_give_one_tuple_twice_when_nothing_is_broadcast():
    a, b, c = (leaf(np.zeros(s, np.float32)).data for s in [(2, 3), (2, 3), (3,)])
    sa, sb = singa_wrap.OperandShapes(a, b)
    assert sa is sb and sa == (2, 3)
    sa, sc = singa_wrap.OperandShapes(a, c)
    assert sa == (2, 3) and sc == (3,)


def test_a_subclass_of_a_hooked_op_keeps_the_hook():
    class Child(_HookedForward):
        pass

    op = Child(1.0)
    op(leaf([1.0]))
    assert op.calls == ["hook", "forward"]


def test_a_backward_error_names_the_op_whichever_path_runs_it():
    class Broken(_Scale):
        def backward(self, dy):
            raise ValueError("no luck")

    class BrokenHooked(Broken):
        def _do_backward(self, *dys):
            return super()._do_backward(*dys)

    for cls in (Broken, BrokenHooked):
        (y,) = cls(1.0)(leaf([1.0, 2.0], stores_grad=True))
        with pytest.raises(ValueError, match=r"{}\.backward with output gradients of shapes "
                           r"\(2,\): no luck".format(cls.__name__)):
            autograd.gradients(y, leaf([1.0, 1.0]))


# ------------------------------------------------------ Add and Sub gradients


@pytest.mark.parametrize("fn, sign", [(autograd.add, 1.0), (autograd.sub, -1.0)])
def test_add_and_sub_pass_the_gradient_through_unbroadcast_inputs(fn, sign):
    a = leaf([[1.0, 2.0]], stores_grad=True)
    b = leaf([[3.0, 4.0]], stores_grad=True)
    y = fn(a, b)
    dy = np.array([[0.5, -2.0]], np.float32)
    da, db = y.creator.backward(leaf(dy).data)
    np.testing.assert_allclose(singa_wrap.to_numpy(da), dy)
    np.testing.assert_allclose(singa_wrap.to_numpy(db), sign * dy)


@pytest.mark.parametrize("fn, sign", [(autograd.add, 1.0), (autograd.sub, -1.0)])
@pytest.mark.parametrize("sa, sb", [((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)),
                                    ((3,), (1, 3))])
def test_add_and_sub_sum_the_gradient_back_to_broadcast_inputs(fn, sign, sa, sb):
    rng = np.random.default_rng(0)
    a = leaf(rng.normal(size=sa), stores_grad=True)
    b = leaf(rng.normal(size=sb), stores_grad=True)
    y = fn(a, b)
    dy = rng.normal(size=y.shape).astype(np.float32)
    grads = autograd.gradients(y, leaf(dy))

    def summed(g, shape):
        while g.ndim > len(shape):
            g = g.sum(axis=0)
        return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)

    np.testing.assert_allclose(_np(grads[id(a)]), summed(dy, sa), rtol=1e-5)
    np.testing.assert_allclose(_np(grads[id(b)]), sign * summed(dy, sb), rtol=1e-5)


def test_add_of_same_shapes_sums_a_gradient_of_a_broadcast_shape_back():
    # Only a gradient of the inputs' own shape passes straight through; one of another
    # shape is summed back to the inputs' shape, as for a broadcast.
    a = leaf([1.0, 2.0])
    y = autograd.add(a, a)
    da, db = y.creator.backward(leaf([[1.0, 2.0], [3.0, 4.0]]).data)
    np.testing.assert_allclose(singa_wrap.to_numpy(da), [4.0, 6.0])
    np.testing.assert_allclose(singa_wrap.to_numpy(db), [4.0, 6.0])


# ------------------------------------------------------------ the walk


def test_a_long_chain_yields_each_parameter_once_with_its_gradient():
    w = leaf([1.0], stores_grad=True)
    c = leaf([1.0], requires_grad=False)
    y = w
    for _ in range(300):
        y = autograd.add(y, c)
    pairs = list(autograd.backward(y))
    assert [p for p, _ in pairs] == [w]
    np.testing.assert_allclose(_np(pairs[0][1]), [1.0])
    np.testing.assert_allclose(_np(y), [301.0])


def test_ops_that_no_gradient_reaches_still_release_their_saved_tensors():
    # b's only consumer passes no gradient back (a comparison): its branch receives
    # nothing, and every op on it is still released.
    w = leaf([1.0, -2.0], stores_grad=True)
    b = autograd.relu(autograd.mul(w, w))
    mask = autograd.greater(b, leaf([0.5, 0.5], requires_grad=False))
    y = autograd.add(autograd.mul(w, leaf([3.0, 3.0], requires_grad=False)), mask)
    ops = [b.creator, mask.creator, y.creator]
    grads = autograd.gradients(y, leaf([1.0, 1.0]))
    np.testing.assert_allclose(_np(grads[id(w)]), [3.0, 3.0])
    for op in ops:
        assert set(vars(op)) <= {"_name", "_id", "requires_grad"}, vars(op)


def test_released_ops_keep_name_id_and_requires_grad():
    x = leaf([1.0, 2.0], stores_grad=True)
    y = autograd.relu(x)
    op = y.creator
    name = op.name
    autograd.gradients(y, leaf([1.0, 1.0]))
    assert vars(op) == {"_name": name, "_id": op._id, "requires_grad": True}


def test_retain_graph_keeps_the_graph_for_a_second_pass():
    w = leaf([2.0], stores_grad=True)
    y = autograd.mul(autograd.add(w, w), w)
    first = _np(autograd.gradients(y, retain_graph=True)[id(w)])
    second = _np(autograd.gradients(y)[id(w)])
    np.testing.assert_allclose(first, [8.0])
    np.testing.assert_allclose(second, [8.0])


def test_an_overridden_release_is_called_by_the_walk():
    released = []

    class Keeps(_Scale):
        def _release(self):
            released.append(self)

    w = leaf([1.0], stores_grad=True)
    op = Keeps(2.0)
    (y,) = op(w)
    autograd.gradients(y)
    assert released == [op]
    assert op.k == 2.0  # its override kept everything


def test_a_backward_error_keeps_the_original_as_its_cause_with_its_frames():
    class Broken(_Scale):
        def backward(self, dy):
            raise IndexError("deep inside")

    (y,) = Broken(1.0)(leaf([1.0], stores_grad=True))
    with pytest.raises(IndexError) as info:
        autograd.gradients(y)
    cause = info.value.__cause__
    assert isinstance(cause, IndexError) and str(cause) == "deep inside"
    frames = [f.name for f in traceback.extract_tb(cause.__traceback__)]
    assert "backward" in frames


def test_a_wrong_number_of_gradients_is_a_runtime_error_naming_the_op():
    class TooMany(_Scale):
        def backward(self, dy):
            return dy, dy

    (y,) = TooMany(1.0)(leaf([1.0], stores_grad=True))
    with pytest.raises(RuntimeError, match="TooMany.backward returned 2 gradients for 1 inputs"):
        autograd.gradients(y)


def test_stopping_early_leaves_the_rest_of_the_graph_unwalked():
    w1 = leaf([1.0], stores_grad=True)
    w2 = leaf([2.0], stores_grad=True)
    h = autograd.mul(w1, w1)
    y = autograd.mul(h, w2)
    walk = autograd.backward(y)
    first, _ = next(walk)
    assert first is w2
    assert hasattr(h.creator, "src")  # not walked yet
    walk.close()


def test_a_pair_is_handed_out_before_the_op_s_later_inputs_are_routed():
    # The inner add routes w's gradient first, which makes w's final: the caller gets
    # (w, g) before the add routes its second input, whose gradient meets the outer
    # one there. Add passes its gradient through, so g is that very tensor: zeroing it
    # in place before the sum is taken makes v's gradient zero.
    w = leaf([1.0], stores_grad=True)
    v = leaf([2.0], stores_grad=True)
    h = autograd.mul(v, leaf([1.0], requires_grad=False))
    y = autograd.add(autograd.add(w, h), h)
    grads = {}
    for p, g in autograd.backward(y, leaf([1.0])):
        if p is w:
            np.testing.assert_allclose(_np(g), [1.0])
            g.set_value(0.0)
        grads[id(p)] = _np(g)
    np.testing.assert_allclose(grads[id(v)], [0.0])
