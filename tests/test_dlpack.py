"""DLPack exchange on the CPU (src/bind/bind_dlpack.cc, python/singa/tensor_interop.py):
singa tensors to NumPy and back, sharing memory, for every dtype, strided views, 0-d and
empty tensors; lifetimes; the capsules themselves (read here through ctypes, an
independent reading of the ABI); hand-made capsules for what no library produces (vector
lanes, a newer major version, NULL strides, byte_offset, other devices); and the errors.

PyTorch is in test_dlpack_torch.py: a file that imports torch is left out of the
sanitized stage (tests/conftest.py), and this one should stay in it.
"""
import ctypes
import gc

import numpy as np
import pytest

from singa import device, singa_wrap as sw, tensor

# ---- the DLPack ABI, declared again from the specification ----


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]


READ_ONLY, IS_COPIED = 1, 2

# A handle of our own on the C API (setting argtypes on ctypes.pythonapi would change them
# for every user in the process).
_api = ctypes.PyDLL(None)
_api.PyCapsule_GetName.restype = ctypes.c_char_p
_api.PyCapsule_GetName.argtypes = [ctypes.py_object]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]

_NAMES = {False: b"dltensor", True: b"dltensor_versioned"}  # alive as long as the module


def capsule_name(cap):
    return _api.PyCapsule_GetName(cap)


def managed(cap):
    """The DLManagedTensor[Versioned] inside an unconsumed capsule."""
    name = capsule_name(cap)
    cls = DLManagedTensorVersioned if name == b"dltensor_versioned" else DLManagedTensor
    return cls.from_address(_api.PyCapsule_GetPointer(cap, name))


class HandMade:
    """A capsule over a NumPy array, with any DLTensor fields; counts its deleter calls."""

    def __init__(self, arr, code=2, bits=32, lanes=1, dev=(1, 0), versioned=False,
                 version=(1, 0), flags=0, strides=True, byte_offset=0, shape=None):
        self.arr = arr
        self.deleted = 0
        shape = arr.shape if shape is None else shape
        self.shape = (ctypes.c_int64 * max(1, len(shape)))(*shape)
        item = arr.itemsize
        self.strides = (ctypes.c_int64 * max(1, arr.ndim))(*[s // item for s in arr.strides])
        dl = DLTensor(arr.ctypes.data, DLDevice(*dev), len(shape), DLDataType(code, bits, lanes),
                      self.shape, self.strides if strides else None, byte_offset)
        self.deleter = DELETER(self._delete)
        if versioned:
            self.m = DLManagedTensorVersioned(DLPackVersion(*version), None, self.deleter,
                                              flags, dl)
        else:
            self.m = DLManagedTensor(dl, None, self.deleter)
        self.capsule = _api.PyCapsule_New(ctypes.addressof(self.m), _NAMES[versioned], None)

    def _delete(self, _):
        self.deleted += 1


# ---- singa -> NumPy ----

DTYPES = [(tensor.float32, np.float32), (tensor.float64, np.float64),
          (tensor.float16, np.float16), (tensor.int32, np.int32), (tensor.int64, np.int64),
          (tensor.uint8, np.uint8), (tensor.bool_, np.bool_)]


def _values(np_dtype, shape=(3, 4)):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7 - 2).astype(np_dtype)


def _singa(a, dtype=None):
    t = tensor.Tensor(a.shape, dtype=dtype if dtype is not None else tensor.float32)
    t.copy_from_numpy(a)
    return t


@pytest.mark.parametrize("dtype,np_dtype", DTYPES)
def test_numpy_from_singa_shares_memory(dtype, np_dtype):
    a = _values(np_dtype)
    t = _singa(a, dtype)
    v = np.from_dlpack(t)
    assert v.dtype == np_dtype and v.shape == (3, 4)
    np.testing.assert_array_equal(v, a)
    assert v.ctypes.data == t.data.data_ptr()
    v[1, 2] = 1
    assert tensor.to_numpy(t)[1, 2] == 1
    t.set_value(0)
    assert not v.any()


@pytest.mark.parametrize("dtype,np_dtype", DTYPES)
def test_singa_from_numpy_shares_memory(dtype, np_dtype):
    a = _values(np_dtype)
    t = tensor.from_dlpack(a)
    assert isinstance(t, tensor.Tensor) and t.dtype == dtype and t.shape == (3, 4)
    assert t.data.data_ptr() == a.ctypes.data
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    t.set_value(1)
    assert (a == 1).all()
    a[0, 0] = 0
    assert tensor.to_numpy(t)[0, 0] == 0


def test_int8_both_ways():
    a = np.array([-128, -1, 0, 127], np.int8)
    t = tensor.from_dlpack(a)
    assert t.dtype == sw.kChar and t.data.data_ptr() == a.ctypes.data
    back = np.from_dlpack(t)
    assert back.dtype == np.int8 and back.ctypes.data == a.ctypes.data


def test_bfloat16_round_trips_through_singa():
    # NumPy has no bfloat16 (the PyTorch tests exchange it); singa reads its own capsule.
    t = tensor.Tensor((5,), dtype=tensor.bfloat16)
    t.copy_from_numpy(np.array([1.5, -2, 0.25, 3e38, -0.0], np.float32))
    cap = t.__dlpack__()
    m = managed(cap)  # valid while `cap` is
    assert capsule_name(cap) == b"dltensor"
    assert (m.dl_tensor.dtype.code, m.dl_tensor.dtype.bits) == (4, 16)
    u = tensor.from_dlpack(t)
    assert u.dtype == tensor.bfloat16 and u.data.data_ptr() == t.data.data_ptr()
    np.testing.assert_array_equal(tensor.to_numpy(u), tensor.to_numpy(t))
    with pytest.raises(RuntimeError, match="Unsupported dtype"):
        np.from_dlpack(t)  # NumPy's own refusal of a dtype it lacks


@pytest.mark.parametrize("view", ["T", "step", "neg_step", "column", "broadcast"])
def test_singa_views_export_with_their_strides(view):
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = _singa(a)
    if view == "T":
        v, ref = t.T(), a.T
    elif view == "step":
        v, ref = t[::2, 1::3], a[::2, 1::3]
    elif view == "neg_step":
        v, ref = t[::-1, ::-2], a[::-1, ::-2]
    elif view == "column":
        v, ref = t[:, 3], a[:, 3]
    else:
        v = tensor.from_raw_tensor(t.data.Slice(0, 0, 1).Broadcast([3, 4, 6]))  # stride 0
        ref = np.broadcast_to(a[0:1], (3, 4, 6))
    got = np.from_dlpack(v)
    np.testing.assert_array_equal(got, ref)
    assert np.shares_memory(got, np.from_dlpack(t))
    if view != "broadcast":
        got[...] = -1
        ref_after = a.copy()
        ref_view = {"T": ref_after.T, "step": ref_after[::2, 1::3],
                    "neg_step": ref_after[::-1, ::-2], "column": ref_after[:, 3]}[view]
        ref_view[...] = -1
        np.testing.assert_array_equal(tensor.to_numpy(t), ref_after)


@pytest.mark.parametrize("view", ["T", "step", "neg_step", "offset_column"])
def test_numpy_views_import_with_their_strides(view):
    base = np.arange(30, dtype=np.float64).reshape(5, 6)
    a = {"T": base.T, "step": base[::2, 1::4], "neg_step": base[::-1, ::-3],
         "offset_column": base[1:, 4]}[view]
    t = tensor.from_dlpack(a)
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    assert t.data.data_ptr() == a.ctypes.data  # the first element, wherever it is
    t.set_value(-5)
    assert (a == -5).all()
    assert (base == -5).sum() == a.size
    # and singa's kernels read the view as strided memory
    np.testing.assert_array_equal(tensor.to_numpy(t + 1), np.full(a.shape, -4.0))


def test_zero_d_and_empty_both_ways():
    s = np.array(3.5, np.float32)
    t = tensor.from_dlpack(s)
    assert t.shape == () and t.data.data_ptr() == s.ctypes.data
    assert float(t) == 3.5
    back = np.from_dlpack(t)
    assert back.shape == () and back == 3.5 and back.ctypes.data == s.ctypes.data
    for shape in [(0,), (2, 0, 3)]:
        e = tensor.from_dlpack(np.zeros(shape, np.int32))
        assert e.shape == shape and e.dtype == tensor.int32 and e.size() == 0
        out = np.from_dlpack(tensor.Tensor(shape, dtype=tensor.int64))
        assert out.shape == shape and out.dtype == np.int64


def test_read_only_numpy_arrays_are_copied():
    a = np.arange(6, dtype=np.float32)
    a.setflags(write=False)
    t = tensor.from_dlpack(a)  # a versioned capsule flagged read-only: a writable copy
    assert t.data.data_ptr() != a.ctypes.data
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    t.set_value(9)
    assert a[0] == 0
    with pytest.raises(BufferError, match="read-only and copy=False"):
        tensor.from_dlpack(a, copy=False)


def test_copy_argument():
    a = np.arange(4, dtype=np.float32)
    t = tensor.from_dlpack(a, copy=True)
    assert t.data.data_ptr() != a.ctypes.data
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    assert tensor.from_dlpack(a, copy=False).data.data_ptr() == a.ctypes.data
    s = _singa(a)
    c = np.from_dlpack(s, copy=True)
    assert c.ctypes.data != s.data.data_ptr()
    cap = s.__dlpack__(max_version=(1, 0), copy=True)
    assert managed(cap).flags == IS_COPIED
    cap = s.__dlpack__(max_version=(1, 0))
    assert managed(cap).flags == 0
    with pytest.raises(TypeError, match="copy must be"):
        tensor.from_dlpack(a, copy="yes")


def test_singa_to_singa_shares_memory():
    t = _singa(np.arange(5, dtype=np.float32))
    u = tensor.from_dlpack(t)
    assert u.data.data_ptr() == t.data.data_ptr()
    u.set_value(2)
    np.testing.assert_array_equal(tensor.to_numpy(t), np.full(5, 2, np.float32))
    core = tensor.from_dlpack(t.data)  # the core tensor exports too
    assert core.data.data_ptr() == t.data.data_ptr()


# ---- lifetimes ----

def test_numpy_producer_may_die_first():
    a = np.arange(100000, dtype=np.float32)
    t = tensor.from_dlpack(a)
    del a
    gc.collect()
    junk = [np.full(100000, 7, np.float32) for _ in range(4)]  # reuse freed memory, if any
    np.testing.assert_array_equal(tensor.to_numpy(t)[:5], np.arange(5, dtype=np.float32))
    assert float(tensor.to_numpy(t)[-1]) == 99999 and junk


def test_singa_producer_may_die_first():
    dev = device.create_test_device()  # its own allocator: its bytes in use are ours alone
    t = tensor.Tensor((1000,), dev)
    t.copy_from_numpy(np.arange(1000, dtype=np.float32))
    v = np.from_dlpack(t)
    del t
    gc.collect()
    assert dev.bytes_in_use() == 4000  # the capsule's view keeps the block
    np.testing.assert_array_equal(v[:3], [0, 1, 2])
    del v
    gc.collect()
    assert dev.bytes_in_use() == 0


def test_unconsumed_capsule_frees_its_tensor():
    dev = device.create_test_device()
    t = tensor.Tensor((256,), dev)
    cap = t.__dlpack__(copy=True)  # a copy that only the capsule holds
    assert dev.bytes_in_use() == 2048
    del cap
    gc.collect()
    assert dev.bytes_in_use() == 1024
    for versioned in (None, (1, 0)):
        cap = t.__dlpack__(max_version=versioned, copy=True)
        del cap
        assert dev.bytes_in_use() == 1024


# ---- the capsules ----

@pytest.mark.parametrize("dtype,code,bits", [
    (tensor.float32, 2, 32), (tensor.float64, 2, 64), (tensor.float16, 2, 16),
    (tensor.bfloat16, 4, 16), (tensor.int32, 0, 32), (tensor.int64, 0, 64),
    (sw.kChar, 0, 8), (tensor.uint8, 1, 8), (tensor.bool_, 6, 8)])
def test_capsule_fields(dtype, code, bits):
    t = tensor.from_raw_tensor(sw.Tensor([2, 3], None, dtype))[:, ::2]  # int8: a core dtype
    legacy = t.__dlpack__()
    assert capsule_name(legacy) == b"dltensor"
    cap = t.__dlpack__(max_version=(1, 5))  # a newer minor version: still 1.0 here
    assert capsule_name(cap) == b"dltensor_versioned"
    m = managed(cap)
    assert (m.version.major, m.version.minor) == (1, 0) and m.flags == 0
    for dl in (m.dl_tensor, managed(legacy).dl_tensor):
        assert (dl.device.device_type, dl.device.device_id) == (1, 0)
        assert (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes) == (code, bits, 1)
        assert dl.ndim == 2 and dl.data == t.data.data_ptr() and dl.byte_offset == 0
        assert [dl.shape[i] for i in range(2)] == [2, 2]
        assert [dl.strides[i] for i in range(2)] == [3, 2]  # elements, always given
    assert t.__dlpack_device__() == (1, 0)
    assert capsule_name(t.__dlpack__(max_version=(0, 8))) == b"dltensor"


def test_consuming_renames_the_capsule():
    t = _singa(np.arange(3, dtype=np.float32))
    for versioned in (None, (1, 0)):
        cap = t.__dlpack__(max_version=versioned)
        u = tensor.from_dlpack(cap)
        assert capsule_name(cap) == (b"used_dltensor_versioned" if versioned else b"used_dltensor")
        assert u.data.data_ptr() == t.data.data_ptr()
        with pytest.raises(ValueError, match="consumed already"):
            tensor.from_dlpack(cap)
        del cap  # a used capsule's destructor leaves the tensor alone
        gc.collect()
        np.testing.assert_array_equal(tensor.to_numpy(u), [0, 1, 2])


def test_hand_made_capsules():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    h = HandMade(a, strides=False)  # NULL strides: row-major (allowed before DLPack 1.2)
    t = tensor.from_dlpack(h.capsule)
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    assert h.deleted == 0
    del t
    gc.collect()
    assert h.deleted == 1  # the deleter runs once, when the last view goes

    flat = np.arange(10, dtype=np.int64)
    h = HandMade(flat, code=0, bits=64, versioned=True, byte_offset=16, shape=(8,))
    t = tensor.from_dlpack(h.capsule)
    np.testing.assert_array_equal(tensor.to_numpy(t), flat[2:])
    assert t.data.data_ptr() == flat.ctypes.data + 16

    h = HandMade(a, dev=(3, 0))  # kDLCUDAHost (pinned host memory): read as host memory
    np.testing.assert_array_equal(tensor.to_numpy(tensor.from_dlpack(h.capsule)), a)

    null = HandMade(a)
    null.m.dl_tensor.data = None  # no memory for 12 elements: refused, left to its producer
    with pytest.raises(BufferError, match="data pointer is NULL"):
        tensor.from_dlpack(null.capsule)
    assert capsule_name(null.capsule) == b"dltensor"

    h = HandMade(a, versioned=True, flags=READ_ONLY)
    t = tensor.from_dlpack(h.capsule)
    assert t.data.data_ptr() != a.ctypes.data and h.deleted == 1  # copied, then let go


@pytest.mark.parametrize("fields,match", [
    (dict(lanes=4), "vector dtypes"),
    (dict(code=2, bits=8), "float8"),
    (dict(code=8, bits=8), "float8/6/4"),
    (dict(code=5, bits=64), "complex64 is not a singa dtype"),
    (dict(code=1, bits=16), "uint16 is not a singa dtype"),
    (dict(versioned=True, version=(2, 0)), "DLPack 2.0"),
    (dict(dev=(4, 0)), "kDLOpenCL"),
    (dict(dev=(10, 1)), "kDLROCM"),
])
def test_refused_capsules_stay_with_their_producer(fields, match):
    h = HandMade(np.zeros(4, np.float32), **fields)
    name = capsule_name(h.capsule)
    with pytest.raises(BufferError, match=match):
        tensor.from_dlpack(h.capsule)
    assert capsule_name(h.capsule) == name and h.deleted == 0


# a CPU build; a CUDA build without a GPU
NO_CUDA = r"built without CUDA|which singa cannot use|on no GPU singa can use"


@pytest.mark.skipif(sw.USE_CUDA and sw.Platform.GetNumGPUs() > 0,
                    reason="a GPU would take the hand-made CUDA capsule's host pointer")
def test_cuda_memory_needs_a_cuda_build_and_a_gpu():
    h = HandMade(np.zeros(4, np.float32), dev=(2, 0))
    with pytest.raises(BufferError, match=NO_CUDA):
        tensor.from_dlpack(h.capsule)
    assert capsule_name(h.capsule) == b"dltensor"

    class CudaOnly:  # an older CuPy array: the interface, no __dlpack__
        __cuda_array_interface__ = {"shape": (4,), "typestr": "<f4", "data": (1 << 40, False),
                                    "version": 3, "strides": None, "stream": 1}

    with pytest.raises(BufferError, match=NO_CUDA):
        tensor.from_dlpack(CudaOnly())

    class CudaArray:  # __dlpack_device__ says kDLCUDA: refused before asking for a capsule
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kwargs):
            raise AssertionError("not asked")

    with pytest.raises(BufferError, match=NO_CUDA):
        tensor.from_dlpack(CudaArray())


def test_old_producer_without_max_version():
    a = np.arange(3, dtype=np.float32)

    class Old:  # a producer from before the 2023.12 standard
        def __init__(self):
            self.calls = []

        def __dlpack__(self, stream=None):
            self.calls.append(stream)
            return a.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)

    old = Old()
    t = tensor.from_dlpack(old)
    assert old.calls == [None] and t.data.data_ptr() == a.ctypes.data


# ---- what cannot be exported, and other errors ----

def test_export_errors():
    t = _singa(np.arange(4, dtype=np.float32))
    with pytest.raises(BufferError, match=r"cannot export the tensor on cpu.*\(2, 0\)"):
        t.__dlpack__(dl_device=(2, 0))
    assert capsule_name(t.__dlpack__(dl_device=(1, 0))) == b"dltensor"  # its own device
    with pytest.raises(ValueError, match="only stream=None"):
        t.__dlpack__(stream=1)
    with pytest.raises(TypeError):
        t.__dlpack__(max_version="1.0")
    assert not hasattr(t, "__cuda_array_interface__")  # CuPy/Numba must not take host memory
    with pytest.raises(AttributeError, match="only CUDA tensors"):
        t.__cuda_array_interface__
    with pytest.raises(AttributeError, match="only CUDA tensors"):
        t.data.__cuda_array_interface__
    with pytest.raises(ValueError, match="not a CUDA device"):
        sw.cuda_stream_handle(t.device)


def test_import_errors():
    with pytest.raises(TypeError, match="has neither __dlpack__ nor __cuda_array_interface__"):
        tensor.from_dlpack([1, 2, 3])
    with pytest.raises(BufferError, match="int16 is not a singa dtype"):
        tensor.from_dlpack(np.zeros(3, np.int16))
    with pytest.raises(BufferError, match="complex64 is not a singa dtype"):
        tensor.from_dlpack(np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match="device must be a singa Device"):
        tensor.from_dlpack(np.zeros(3, np.float32), device="cpu")


def test_device_memory_of_the_test_device():
    """A device whose memory the host may not read (as a GPU's): DLPack cannot name it,
    but it exports a host copy on request (NumPy's device='cpu')."""
    dev = device.create_test_device(host_memory=False)
    t = tensor.Tensor((2, 3), dev)
    t.copy_from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(BufferError, match="neither host memory nor a CUDA GPU's"):
        t.__dlpack_device__()
    with pytest.raises(BufferError, match="neither host memory nor a CUDA GPU's"):
        np.from_dlpack(t)
    c = np.from_dlpack(t, device="cpu")  # dl_device=(1, 0): a copy
    np.testing.assert_array_equal(c, np.arange(6).reshape(2, 3))
    cap = t.__dlpack__(max_version=(1, 0), dl_device=(1, 0))
    assert managed(cap).flags == IS_COPIED
    with pytest.raises(BufferError, match="copy=False forbids it"):
        t.__dlpack__(dl_device=(1, 0), copy=False)
    # a host-memory test device exports in place
    h = device.create_test_device()
    u = tensor.Tensor((3,), h)
    assert u.__dlpack_device__() == (1, 0)
    assert np.from_dlpack(u).ctypes.data == u.data.data_ptr()


def test_device_argument_copies_to_that_device():
    a = np.arange(6, dtype=np.float32)
    dev = device.create_test_device(host_memory=False)
    t = tensor.from_dlpack(a, device=dev)
    assert t.device == dev
    np.testing.assert_array_equal(tensor.to_numpy(t), a)
    with pytest.raises(ValueError, match="copy=False forbids it"):
        tensor.from_dlpack(a, device=dev, copy=False)
    same = tensor.from_dlpack(a, device=device.get_default_device())
    assert same.data.data_ptr() == a.ctypes.data
