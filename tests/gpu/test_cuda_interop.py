"""Zero-copy exchange of CUDA tensors with CuPy and PyTorch (torch.cuda), both ways:
DLPack (with the stream handshake: the consumer's stream waits for singa's, singa's for
the producer's) and the CUDA Array Interface (version 3, with singa's stream).

On a real GPU every test runs; those that need CuPy or torch.cuda skip where the package
(or its CUDA) is missing. With SINGA_GPU_TEST_DEVICE=test the ``gpu`` fixture is a
host-memory test device that the core treats as device memory: it has no CUDA memory to
share, so the exchange tests skip there, and what a non-CUDA device must do (refuse
DLPack export but give a host copy on request, have no __cuda_array_interface__) is
checked instead.
"""
import gc

import numpy as np
import pytest

from singa import singa_wrap as sw, tensor


@pytest.fixture
def cuda(gpu):
    if gpu.lang() != sw.kCuda:
        pytest.skip("needs a CUDA GPU: {} has no CUDA memory to share".format(gpu.name()))
    return gpu


@pytest.fixture
def cp(cuda):
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CuPy without a usable CUDA
        pytest.skip("CuPy cannot use the GPU: {}".format(e))
    return cupy


@pytest.fixture
def torch_cuda(cuda):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    return torch


def _on(gpu, a, dtype=tensor.float32):
    t = tensor.Tensor(a.shape, gpu, dtype)
    t.copy_from_numpy(a)
    return t


# ---- every device: what a tensor without CUDA memory does ----

def test_gpu_tensor_interfaces(gpu):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = _on(gpu, a)
    if gpu.lang() == sw.kCuda:
        assert t.__dlpack_device__() == (2, gpu.id())
        iface = t.__cuda_array_interface__
        assert iface["version"] == 3 and iface["typestr"] == "<f4" and iface["shape"] == (2, 3)
        assert iface["data"] == (t.data.data_ptr(), False) and iface["strides"] is None
        assert iface["stream"] == sw.cuda_stream_handle(gpu) and iface["stream"] != 0
        assert t.T().__cuda_array_interface__["strides"] == (4, 12)
    else:
        assert not hasattr(t, "__cuda_array_interface__")
        with pytest.raises(BufferError):
            t.__dlpack__()
    # a host copy on request, from any device (what np.from_dlpack(t, device="cpu") asks)
    np.testing.assert_array_equal(np.from_dlpack(t, device="cpu"), a)


def test_singa_to_singa_and_numpy_onto_the_gpu(gpu):
    a = np.arange(5, dtype=np.float32)
    t = tensor.from_dlpack(a, device=gpu)  # a host array copied onto the GPU
    assert t.device == gpu
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    if gpu.lang() == sw.kCuda:
        u = tensor.from_dlpack(t)  # a CUDA capsule, borrowed on the same device
        assert u.device == gpu and u.data.data_ptr() == t.data.data_ptr()
        u.set_value(4)
        np.testing.assert_array_equal(tensor.to_numpy(t), np.full(5, 4, np.float32))
    else:
        with pytest.raises(BufferError, match="neither host memory nor a CUDA GPU's"):
            tensor.from_dlpack(t)


# ---- CuPy ----

@pytest.mark.parametrize("dtype,np_dtype", [(tensor.float32, np.float32),
                                            (tensor.float16, np.float16),
                                            (tensor.int64, np.int64), (tensor.bool_, np.bool_)])
def test_cupy_from_singa_shares_memory(cuda, cp, dtype, np_dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(np_dtype)
    t = _on(cuda, a, dtype)
    x = cp.from_dlpack(t)  # stream handshake: CuPy's current stream waits for singa's
    assert x.data.ptr == t.data.data_ptr() and x.dtype == np_dtype
    np.testing.assert_array_equal(cp.asnumpy(x), a)
    x[0, 0] = 1
    cp.cuda.get_current_stream().synchronize()
    assert tensor.to_numpy(t)[0, 0] == 1


def test_singa_from_cupy_shares_memory(cuda, cp):
    x = cp.arange(20, dtype=cp.float32).reshape(4, 5)[:, 1::2]  # strided
    t = tensor.from_dlpack(x)  # singa's stream waits for CuPy's
    assert t.device == cuda and t.data.data_ptr() == x.data.ptr
    np.testing.assert_array_equal(tensor.to_numpy(t), cp.asnumpy(x))
    t.set_value(3)
    cuda.Sync()
    assert bool((x == 3).all())


def test_cuda_array_interface_with_cupy(cuda, cp):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = _on(cuda, a)
    x = cp.asarray(t)  # through __cuda_array_interface__ (CuPy syncs on its stream)
    assert x.data.ptr == t.data.data_ptr()
    np.testing.assert_array_equal(cp.asnumpy(x), a)

    y = cp.arange(6, dtype=cp.int32)

    class InterfaceOnly:  # an older CuPy array: the interface, no __dlpack__
        def __init__(self, arr):
            self.arr = arr
            self.__cuda_array_interface__ = arr.__cuda_array_interface__

    u = tensor.from_dlpack(InterfaceOnly(y))
    assert u.data.data_ptr() == y.data.ptr and u.dtype == tensor.int32
    np.testing.assert_array_equal(tensor.to_numpy(u), np.arange(6))
    del y
    gc.collect()  # the wrapper (and so the array) is kept alive by the tensor
    np.testing.assert_array_equal(tensor.to_numpy(u), np.arange(6))


def test_stream_handshake_orders_work(cuda, cp):
    """Work singa queued before the export is done before the consumer's stream reads."""
    n = 1 << 24
    t = tensor.Tensor((n,), cuda)
    t.set_value(0)
    for _ in range(20):  # queue a few milliseconds of work on singa's stream
        t += 1.0
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        x = cp.from_dlpack(t)  # __dlpack__(stream=s.ptr): s waits for singa's stream
        low = float(x.min())  # computed on s: exact, and 0 where s read too early
    assert low == 20.0

    # and the other way: a CuPy stream's pending work before singa reads
    with s:
        y = cp.zeros(n, dtype=cp.float32)
        for _ in range(20):
            y += 1
        u = tensor.from_dlpack(y)  # CuPy makes singa's stream wait for s
    assert tensor.to_numpy(u).min() == 20.0  # singa's copy to the host runs after s's adds


def test_dlpack_stream_arguments(cuda):
    t = _on(cuda, np.ones(4, np.float32))
    for stream in (None, 1, 2, -1, sw.cuda_stream_handle(cuda)):
        assert t.__dlpack__(stream=stream) is not None
    with pytest.raises(ValueError, match="0 is ambiguous"):
        t.__dlpack__(stream=0)
    with pytest.raises(BufferError, match="cannot export"):
        t.__dlpack__(dl_device=(2, cuda.id() + 1))


# ---- PyTorch ----

@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16", "int32", "bool"])
def test_torch_cuda_both_ways(cuda, torch_cuda, name):
    torch = torch_cuda
    td = getattr(torch, name)
    x = (torch.arange(12, device="cuda:{}".format(cuda.id())).reshape(3, 4) % 3).to(td)
    t = tensor.from_dlpack(x)  # singa's stream waits for torch's current stream
    assert t.data.data_ptr() == x.data_ptr()
    y = torch.from_dlpack(t)  # torch's current stream waits for singa's
    assert y.data_ptr() == x.data_ptr() and y.dtype == td
    assert torch.equal(y.cpu(), x.cpu())
    if name != "bool":  # a singa result (on singa's stream), read by torch
        z = torch.from_dlpack(t * 2)
        assert torch.equal(z.cpu().double(), x.cpu().double() * 2)


def test_torch_side_stream(cuda, torch_cuda):
    torch = torch_cuda
    n = 1 << 24
    t = tensor.Tensor((n,), cuda)
    t.set_value(0)
    for _ in range(20):
        t += 1.0
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        x = torch.from_dlpack(t)  # torch passes stream=s.cuda_stream
        low = float(x.min())
    assert low == 20.0


def test_gpu_lifetimes(cuda, torch_cuda):
    torch = torch_cuda
    x = torch.arange(1000, dtype=torch.float32, device="cuda:{}".format(cuda.id()))
    t = tensor.from_dlpack(x)
    del x
    gc.collect()
    torch.cuda.empty_cache()
    assert float(tensor.to_numpy(t)[999]) == 999
    s = _on(cuda, np.arange(10, dtype=np.float32))
    y = torch.from_dlpack(s)
    del s
    gc.collect()
    assert float(y[9]) == 9
