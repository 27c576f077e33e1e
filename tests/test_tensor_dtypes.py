"""The int64, uint8 and bool dtypes of singa.tensor: names, from_numpy/to_numpy,
as_type/to_type, printing, construction and the operators on Tensors."""
import builtins

import numpy as np
import pytest

from singa import singa_wrap as sw
from singa import tensor

BIG = 2**62 + 3


def test_dtype_names_match_the_core():
    assert (tensor.int64, tensor.uint8, tensor.bool_) == (sw.kInt64, sw.kUChar, sw.kBool)
    assert tensor.bool is tensor.bool_
    for name in ("int64", "uint8", "bool_"):
        assert name in tensor.__all__
    # the star-import of tensor must not rebind Python's bool
    assert "bool" not in tensor.__all__
    assert tensor.__dict__.get("bool", builtins.bool) is builtins.bool
    with pytest.raises(AttributeError, match="no attribute 'int65'"):
        tensor.int65  # noqa: B018


def test_from_numpy_keeps_singa_conversions_by_default():
    assert tensor.from_numpy(np.array([1, 2], np.int64)).dtype == tensor.int32
    assert tensor.from_numpy(np.array([True])).dtype == tensor.float32
    assert tensor.from_numpy(np.array([1], np.uint8)).dtype == tensor.int32


@pytest.mark.parametrize("np_dtype,dtype", [(np.int64, tensor.int64), (np.uint8, tensor.uint8),
                                            (np.bool_, tensor.bool_), (np.int32, tensor.int32)])
def test_from_numpy_keep_dtype(np_dtype, dtype):
    a = np.array([[0, 1], [1, 1]], dtype=np_dtype)
    t = tensor.from_numpy(a, keep_dtype=True)
    assert t.dtype == dtype
    a[0, 0] = 1  # shares memory
    back = tensor.to_numpy(t)
    assert back.dtype == np_dtype and back[0, 0] == 1


def test_big_int64_values_survive_from_numpy_keep_dtype():
    t = tensor.from_numpy(np.array([BIG, -BIG]), keep_dtype=True)
    np.testing.assert_array_equal(tensor.to_numpy(t), [BIG, -BIG])


@pytest.mark.parametrize("dtype,np_dtype", [(tensor.int64, np.int64), (tensor.uint8, np.uint8),
                                            (tensor.bool_, np.bool_)])
def test_construction_and_printing(dtype, np_dtype):
    t = tensor.Tensor((2, 3), dtype=dtype)
    a = tensor.to_numpy(t)
    assert a.dtype == np_dtype and not a.any()
    text = repr(t)
    assert "dtype={}".format(np.dtype(np_dtype).name) in text
    z = tensor.zeros((2,), dtype=dtype)
    assert z.dtype == dtype


def test_copy_from_numpy_into_int64_keeps_big_values():
    t = tensor.Tensor(data=np.array([BIG, 5]), dtype=tensor.int64)
    np.testing.assert_array_equal(tensor.to_numpy(t), [BIG, 5])
    t.copy_from_numpy(np.array([True]), offset=1)
    np.testing.assert_array_equal(tensor.to_numpy(t), [BIG, 1])


def test_as_type_and_to_type():
    f = tensor.from_numpy(np.array([2.7, -2.7, 0.0], np.float32))
    i = f.as_type(tensor.int64)
    assert i.dtype == tensor.int64
    np.testing.assert_array_equal(tensor.to_numpy(i), [2, -2, 0])
    b = f.as_type(tensor.bool_)
    np.testing.assert_array_equal(tensor.to_numpy(b), [True, True, False])
    u = f.as_type(tensor.uint8)
    assert u.dtype == tensor.uint8
    assert f.to_type(tensor.bool) is f and f.dtype == tensor.bool_
    with pytest.raises(TypeError, match="int64, uint8, bool_"):
        f.as_type(99)


def test_operators_on_int64_tensors():
    a = tensor.from_numpy(np.array([BIG, -7]), keep_dtype=True)
    b = tensor.from_numpy(np.array([2, 2]), keep_dtype=True)
    np.testing.assert_array_equal(tensor.to_numpy(a + b), [BIG + 2, -5])
    np.testing.assert_array_equal(tensor.to_numpy(a - 1), [BIG - 1, -8])
    np.testing.assert_array_equal(tensor.to_numpy(a * b), [2 * BIG - 2**64, -14])
    np.testing.assert_array_equal(tensor.to_numpy(a // b), [BIG // 2, -4])  # NumPy floors
    np.testing.assert_array_equal(tensor.to_numpy(a / 2), [BIG // 2, -3])  # SINGA's int div
    lt = a < b
    assert lt.dtype == tensor.int64
    np.testing.assert_array_equal(tensor.to_numpy(lt), [0, 1])
    r = a + 0.5
    assert r.dtype == tensor.float32


def test_operators_on_bool_tensors():
    p = tensor.from_numpy(np.array([True, False]), keep_dtype=True)
    q = tensor.from_numpy(np.array([True, True]), keep_dtype=True)
    r = p + 1
    assert r.dtype == tensor.int64
    np.testing.assert_array_equal(tensor.to_numpy(r), [2, 1])
    np.testing.assert_array_equal(tensor.to_numpy(p * q), [True, False])
    assert (p + 2.5).dtype == tensor.float32
    assert (1 + p).dtype == tensor.int64


def test_uint8_scalars_outside_its_range_promote():
    u = tensor.from_numpy(np.array([0, 200], np.uint8), keep_dtype=True)
    assert (u + 1).dtype == tensor.uint8
    np.testing.assert_array_equal(tensor.to_numpy(u + 100), [100, 44])  # wraps like NumPy
    r = 300 + u
    assert r.dtype == tensor.int64
    np.testing.assert_array_equal(tensor.to_numpy(r), [300, 500])


def test_sum_of_int64_tensor():
    a = tensor.from_numpy(np.array([[BIG, 1], [2, 3]]), keep_dtype=True)
    np.testing.assert_array_equal(tensor.to_numpy(tensor.sum(a, 0)), [BIG + 2, 4])
