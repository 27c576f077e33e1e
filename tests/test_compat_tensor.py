"""SINGA's tensor API where it used to differ here (issue 13): dtype names, sum's
(1, 1) result, scalars in the module functions, PlaceHolder, and the argument error
that is also an AssertionError."""

import subprocess
import sys

import numpy as np
import pytest

from singa import autograd, errors, tensor
from singa import tensor_functions


def _t(a):
    return tensor.from_numpy(np.asarray(a, np.float32))


# ------------------------------------------------------------------ as_type / to_type

def test_as_type_takes_singas_int_and_float_names():
    t = _t([[1.75, -2.5], [3.0, 0.25]])
    i = t.as_type("int")
    assert i.dtype == tensor.int32
    np.testing.assert_array_equal(tensor.to_numpy(i), [[1, -2], [3, 0]])
    f = i.as_type("float")
    assert f.dtype == tensor.float32
    np.testing.assert_array_equal(tensor.to_numpy(f), [[1.0, -2.0], [3.0, 0.0]])
    assert t.dtype == tensor.float32  # as_type copies


def test_to_type_takes_the_names_and_converts_in_place():
    t = _t([2.5, 7.0])
    assert t.to_type("int") is t
    assert t.dtype == tensor.int32
    np.testing.assert_array_equal(tensor.to_numpy(t), [2, 7])
    t.to_type("float")
    assert t.dtype == tensor.float32


def test_as_type_rejects_other_names():
    with pytest.raises(TypeError, match="'double'"):
        _t([1.0]).as_type("double")
    with pytest.raises(TypeError, match="'int'"):
        _t([1.0]).to_type("int64")


# ---------------------------------------------------------------------------- sum

def test_sum_without_axis_is_a_1x1_tensor():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 4.5
    s = tensor.sum(_t(a))
    assert isinstance(s, tensor.Tensor)
    assert s.shape == (1, 1)
    np.testing.assert_allclose(tensor.to_numpy(s), [[a.sum()]])
    assert float(s) == pytest.approx(float(a.sum()))


def test_sum_without_axis_of_a_vector_and_a_3d_tensor():
    for shape in [(5,), (2, 3, 2)]:
        a = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        s = tensor.sum(_t(a))
        assert s.shape == (1, 1)
        assert float(s) == pytest.approx(float(a.sum(dtype=np.float64)), abs=1e-5)


def test_sum_over_an_axis_tuple():
    a = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(tensor.to_numpy(tensor.sum(_t(a), (0, 2))), a.sum((0, 2)),
                               rtol=1e-5, atol=1e-6)


def test_sum_without_axis_into_out():
    out = tensor.zeros((1, 1))
    assert tensor.sum(_t([[1.0, 2.0], [3.0, 4.0]]), out=out) is out
    np.testing.assert_array_equal(tensor.to_numpy(out), [[10.0]])


def test_float_of_a_tensor_needs_one_element():
    assert float(_t([[2.5]])) == 2.5
    with pytest.raises(TypeError, match=r"\(2,\)"):
        float(_t([1.0, 2.0]))


# ---------------------------------------------------------- scalars in the functions

@pytest.mark.parametrize("name,ref", [("add", np.add), ("sub", np.subtract),
                                      ("eltwise_mult", np.multiply), ("div", np.divide)])
def test_elementwise_functions_take_a_number_on_either_side(name, ref):
    a = np.array([[1.0, 2.0], [4.0, -8.0]], np.float32)
    fn = getattr(tensor, name)
    np.testing.assert_allclose(tensor.to_numpy(fn(_t(a), 2)), ref(a, 2.0))
    np.testing.assert_allclose(tensor.to_numpy(fn(3.0, _t(a))), ref(3.0, a))
    out = tensor.zeros((2, 2))
    assert fn(3.0, _t(a), out) is out
    np.testing.assert_allclose(tensor.to_numpy(out), ref(3.0, a))


def test_a_number_on_the_left_keeps_the_tensor_dtype():
    h = tensor.from_numpy(np.array([1.0, 2.0], np.float16))
    assert tensor.sub(1.0, h).dtype == tensor.float16
    i = tensor.from_numpy(np.array([1, 2], np.int32))
    assert tensor.add(1, i).dtype == tensor.int32
    # A fraction is not truncated to fit an int32 operand.
    np.testing.assert_allclose(tensor.to_numpy(tensor.add(0.5, i)), [1.5, 2.5])


def test_elementwise_functions_need_one_tensor():
    with pytest.raises(errors.ArgumentError, match="add: at least one operand"):
        tensor.add(1.0, 2.0)


def test_comparisons_and_pow_take_numbers():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(tensor.to_numpy(tensor.lt(_t(a), 2)), a < 2)
    np.testing.assert_array_equal(tensor.to_numpy(tensor.ge(_t(a), 2.0)), a >= 2)
    np.testing.assert_array_equal(tensor.to_numpy(tensor.eq(_t(a), 3)), a == 3)
    np.testing.assert_allclose(tensor.to_numpy(tensor.pow(_t(a), 2)), a ** 2)


# ------------------------------------------------------------- other SINGA names

def test_placeholder_is_the_tensor_class():
    assert tensor.PlaceHolder is tensor.Tensor
    p = tensor.PlaceHolder((2, 3))
    assert p.shape == (2, 3) and isinstance(p, tensor.Tensor)


def test_copy_from_takes_a_numpy_array():
    t = tensor.zeros((2, 2))
    t.copy_from(np.array([[1, 2], [3, 4]], np.float32))
    np.testing.assert_array_equal(tensor.to_numpy(t), [[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="list"):
        t.copy_from([1, 2, 3, 4])


def test_is_dummy_marks_unnamed_leaves():
    x = tensor.zeros((2,))
    assert x.is_dummy()
    assert x.creator is not None and x.is_dummy()  # its Dummy creator changes nothing
    assert not tensor.Tensor((2,), name="W").is_dummy()
    assert not autograd.relu(x).is_dummy()


# --------------------------------------------------------------- the module split

def test_module_functions_are_singa_tensor_names():
    for name in tensor_functions.__all__:
        assert getattr(tensor, name) is getattr(tensor_functions, name), name
        assert name in tensor.__all__, name


@pytest.mark.parametrize("first", ["singa.tensor_functions", "singa.tensor"])
def test_either_module_can_be_imported_first(first):
    code = ("import importlib; importlib.import_module({!r}); from singa import tensor; "
            "t = tensor.sum(tensor.ones((2, 3))); assert t.shape == (1, 1), t.shape; "
            "assert float(t) == 6.0".format(first))
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------- argument errors

def test_argument_error_is_a_value_error_and_an_assertion_error():
    assert issubclass(errors.ArgumentError, ValueError)
    assert issubclass(errors.ArgumentError, AssertionError)


def test_tensor_argument_errors_are_catchable_as_assertion_errors():
    with pytest.raises(AssertionError, match="copy_from_numpy"):
        tensor.zeros((2,)).copy_from_numpy(np.ones(3, np.float32))
    with pytest.raises(AssertionError, match="tensordot"):
        tensor.tensordot(tensor.ones((2, 3)), tensor.ones((2, 3)), ([1], [0, 1]))
    with pytest.raises(ValueError, match="int32"):
        tensor.from_numpy(np.array([2 ** 40]))
