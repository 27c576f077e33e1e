"""The core Tensor class, NumPy interchange, devices and memory accounting."""
import gc

import numpy as np
import pytest

from singa import singa_wrap as sw

dev = sw.GetDefaultDevice()


def N(t):
    return np.array(sw.to_numpy(t))


DTYPES = [(sw.kFloat32, np.float32), (sw.kDouble, np.float64), (sw.kInt, np.int32),
          (sw.kFloat16, np.float16), (sw.kChar, np.int8)]


def test_constants():
    # USE_CUDA says whether the build has the CUDA device (tests/test_cuda_build.py).
    assert sw.USE_CUDA is ("cuda" in sw.build_info()) and sw.USE_DIST is True
    assert (sw.kFloat32, sw.kFloat16, sw.kInt) == (0, 1, 2)
    assert sw.VecTensor([1, 2]) == [1, 2]
    for code, npdt in DTYPES:
        assert sw.SizeOf(code) == np.dtype(npdt).itemsize


def test_device_singleton():
    d1, d2 = sw.GetDefaultDevice(), sw.Platform.GetDefaultDevice()
    assert d1 == d2 and d1.id() == -1 and d1.lang() == sw.kCpp
    assert sw.Tensor([2]).device() == d1
    assert sw.Platform.GetNumGPUs() == 0
    d1.EnableGraph(True)
    assert d1.graph_enabled()
    d1.EnableGraph(False)
    d1.RunGraph(False)
    d1.ResetGraph()
    d1.Sync()
    d1.SetVerbosity(0)


def test_create_cuda_gpu_raises_clear_error():
    with pytest.raises(RuntimeError, match="without CUDA|no CUDA GPU was found"):
        sw.Platform.CreateCudaGPU(0)
    with pytest.raises(RuntimeError, match="USE_CUDA|no CUDA GPU was found"):
        sw.Platform.CreateCudaGPUs(1)
    assert issubclass(sw.DeviceError, RuntimeError)


@pytest.mark.parametrize("code,npdt", DTYPES)
def test_construct(code, npdt):
    t = sw.Tensor([2, 3], dev, code)
    assert t.shape() == (2, 3) and t.shape(1) == 3 and t.nDim() == 2 and t.Size() == 6
    assert t.MemSize() == 6 * np.dtype(npdt).itemsize and t.data_type() == code
    assert t.stride() == (3, 1) and t.IsContiguous()
    t.SetValue(3)
    np.testing.assert_array_equal(N(t), np.full((2, 3), 3, npdt))
    s = sw.Tensor()
    assert s.shape() == () and s.Size() == 1
    z = sw.Tensor([0, 4])
    assert z.Size() == 0 and z.MemSize() == 0 and N(z).shape == (0, 4)


@pytest.mark.parametrize("code,npdt", DTYPES)
def test_from_numpy_shares_memory(code, npdt):
    a = np.arange(12).reshape(3, 4).astype(npdt)
    t = sw.from_numpy(a)
    assert t.data_type() == code and t.shape() == (3, 4)
    assert t.data_ptr() == a.ctypes.data  # zero copy in
    v = sw.to_numpy(t)
    assert np.shares_memory(v, a)         # zero copy out
    a[1, 2] = 99
    assert v[1, 2] == 99 and N(t)[1, 2] == 99
    v[0, 0] = 7
    assert a[0, 0] == 7
    np.testing.assert_array_equal(t.numpy(), a)


def test_from_numpy_keeps_array_alive_and_copies_when_needed():
    t = sw.from_numpy(np.arange(5, dtype=np.float32) * 2)
    gc.collect()
    np.testing.assert_array_equal(N(t), np.arange(5) * 2)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = sw.from_numpy(a.T)  # non-contiguous: copied
    assert t.data_ptr() != a.ctypes.data
    np.testing.assert_array_equal(N(t), a.T)
    ro = np.arange(3, dtype=np.float32)
    ro.flags.writeable = False
    t = sw.from_numpy(ro)
    np.testing.assert_array_equal(N(t), ro)
    z = sw.from_numpy(np.array(2.5, np.float32))
    assert z.shape() == () and N(z) == 2.5


def test_to_numpy_views_and_lifetime():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    v = sw.Transpose(sw.from_numpy(a), [2, 0, 1]).Slice(1, 0, 2, 1)
    arr = sw.to_numpy(v)
    np.testing.assert_array_equal(arr, a.transpose(2, 0, 1)[:, 0:2])
    assert np.shares_memory(arr, a)
    t = sw.Tensor([3])
    t.SetValue(4)
    arr = sw.to_numpy(t)
    del t
    gc.collect()
    np.testing.assert_array_equal(arr, [4, 4, 4])  # the array keeps the block alive


def test_memory_accounting():
    gc.collect()
    before = dev.bytes_in_use()
    dev.ResetPeak()
    t = sw.Tensor([1000, 250])  # 1 MB
    assert dev.bytes_in_use() - before >= 1_000_000
    assert dev.peak_bytes() >= before + 1_000_000
    v = sw.Transpose(t)  # views allocate nothing
    assert dev.bytes_in_use() - before < 1_000_100
    del t
    assert dev.bytes_in_use() - before >= 1_000_000  # the view keeps the block
    del v
    gc.collect()
    assert dev.bytes_in_use() == before
    assert dev.peak_bytes() >= before + 1_000_000
    a = np.zeros(10000, np.float32)
    b = dev.bytes_in_use()
    t = sw.from_numpy(a)  # borrowed NumPy memory is not device memory
    assert dev.bytes_in_use() == b
    del t


def test_clone_copydata_astype():
    a = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    t = sw.from_numpy(a)
    c = t.Clone()
    assert not c.shares_memory(t)
    np.testing.assert_array_equal(N(c), a)
    c2 = sw.Transpose(t).Clone()
    assert c2.IsContiguous()
    np.testing.assert_array_equal(N(c2), a.T)
    d = sw.Tensor([3, 2], dev, sw.kDouble)
    d.CopyData(sw.Transpose(t))
    np.testing.assert_array_equal(N(d), a.T.astype(np.float64))
    flat = sw.Tensor([6])
    flat.CopyData(t)  # same size, different shape: row-major order
    np.testing.assert_array_equal(N(flat), a.reshape(-1))
    for code, npdt in DTYPES:
        np.testing.assert_array_equal(N(t.AsType(code)), a.astype(npdt))
    i = t.AsType(sw.kInt)
    assert N(i).tolist() == a.astype(np.int32).tolist()  # truncates towards zero like C
    h = t.AsType(sw.kFloat16)
    np.testing.assert_array_equal(N(h.AsType(sw.kFloat32)), a.astype(np.float16).astype(np.float32))
    u = t.Clone()
    u.ToType(sw.kDouble)
    assert u.data_type() == sw.kDouble
    u.ToDevice(dev)
    u.ToHost()
    np.testing.assert_array_equal(N(u), a)


def test_float16_conversion_edge_cases():
    vals = np.array([0, -0.0, 1, -2, 65504, 70000, 1e-5, 6e-8, 3e-8, 1e-9, np.inf, -np.inf,
                     1.0009765625, 1.00048828125, 2049, 2051], np.float32)
    h = sw.from_numpy(vals).AsType(sw.kFloat16)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(N(h), vals.astype(np.float16))
    nan = sw.from_numpy(np.array([np.nan], np.float32)).AsType(sw.kFloat16)
    assert np.isnan(N(nan)[0])
    back = sw.from_numpy(np.arange(-2000, 2000, dtype=np.float16) / 7).AsType(sw.kFloat32)
    np.testing.assert_array_equal(N(back), (np.arange(-2000, 2000, dtype=np.float16) / 7).astype(np.float32))


def test_host_ptr_copies_and_values():
    t = sw.Tensor([2, 3])
    t.CopyFloatDataFromHostPtr(np.arange(6, dtype=np.float64))  # converted to float32
    np.testing.assert_array_equal(N(t), np.arange(6).reshape(2, 3))
    t.CopyFloatDataFromHostPtr(np.array([9, 8], np.float32), 2, 3)
    np.testing.assert_array_equal(N(t).reshape(-1), [0, 1, 2, 9, 8, 5])
    np.testing.assert_array_equal(t.GetFloatValue(4), [0, 1, 2, 9])
    assert t.GetFloatValue(6).dtype == np.float32
    i = sw.Tensor([4], dev, sw.kInt)
    i.CopyIntDataFromHostPtr(np.array([1, -2, 3, 4]))
    np.testing.assert_array_equal(i.GetIntValue(4), [1, -2, 3, 4])
    d = sw.Tensor([3], dev, sw.kDouble)
    d.CopyDataFromHostPtr(np.array([0.1, 0.2, 0.3]))
    np.testing.assert_array_equal(d.GetValue(), [0.1, 0.2, 0.3])
    # into a transposed view: values land in the view's row-major order
    base = sw.Tensor([3, 2])
    base.SetValue(0)
    v = sw.Transpose(base)
    v.CopyFloatDataFromHostPtr(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(N(base), np.arange(6).reshape(2, 3).T)
    with pytest.raises(ValueError, match="CopyDataFromHostPtr"):
        t.CopyFloatDataFromHostPtr(np.arange(10, dtype=np.float32))
    with pytest.raises(ValueError, match="GetFloatValue"):
        t.GetFloatValue(7)


def test_set_value_on_views_and_norms():
    base = sw.from_numpy(np.zeros((4, 5), np.float32))
    base.Slice(1, 1, 5, 2).SetFloatValue(2.0)
    want = np.zeros((4, 5), np.float32)
    want[:, 1::2] = 2
    np.testing.assert_array_equal(N(base), want)
    i = sw.Tensor([3], dev, sw.kInt)
    i.SetIntValue(-4)
    np.testing.assert_array_equal(N(i), [-4, -4, -4])
    x = np.array([[3.0, -4.0], [0.0, 1.0]], np.float32)
    t = sw.from_numpy(x)
    assert t.L1() == pytest.approx(np.abs(x).sum() / x.size)  # SINGA divides norms by size
    assert t.L2() == pytest.approx(np.sqrt((x ** 2).sum()) / x.size)
    assert sw.Transpose(t).L1() == pytest.approx(t.L1())


def test_repr_and_threads():
    t = sw.Tensor([2, 3])
    assert "(2, 3)" in repr(t) and "float32" in repr(t)
    assert "id=-1" in repr(dev)
    n = sw.get_num_threads()
    sw.set_num_threads(1)
    assert sw.get_num_threads() == 1
    sw.set_num_threads(n)
    assert isinstance(sw.openblas_corename(), str) and sw.openblas_corename()
