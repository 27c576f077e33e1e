"""Zero-copy exchange with other array libraries: DLPack and the CUDA Array Interface.

The producer side lives on the core tensor (``singa_wrap.Tensor.__dlpack__``,
``__dlpack_device__`` and, on CUDA tensors only, ``__cuda_array_interface__``, in
src/bind/bind_dlpack.cc); :class:`singa.tensor.Tensor` forwards to it. This module is
the consumer side, :func:`from_dlpack`, following the Python array API standard:

- an object with ``__dlpack__``: asked where its memory is (``__dlpack_device__``), then
  for a capsule with ``max_version=(1, 0)`` and, for CUDA memory, ``stream=`` singa's
  stream of that GPU, so the producer makes singa's stream wait for its pending work.
  Producers older than the 2023.12 standard (no ``max_version``) are asked again
  without it, for a legacy capsule;
- a DLPack capsule itself (the older ``from_dlpack(x.toDlpack())`` style): consumed as
  it is, without a stream handshake;
- an object with only ``__cuda_array_interface__`` (older CuPy arrays, Numba device
  arrays): its memory is borrowed, the object kept alive while the tensor uses it, and
  singa's stream waits for the interface's ``stream``.

The result shares the producer's memory (a write through either is seen by the other)
except where the memory is read-only (a read-only NumPy array): singa tensors are
always writable, so that memory is copied, and ``copy=False`` raises BufferError.
"""

import numpy as np

from . import singa_wrap as singa

__all__ = ["from_dlpack", "kDLCPU", "kDLCUDA", "kDLCUDAHost", "kDLCUDAManaged"]

# DLPack device types (dlpack.h's DLDeviceType) singa reads.
kDLCPU = 1
kDLCUDA = 2
kDLCUDAHost = 3
kDLCUDAManaged = 13

# The highest DLPack version singa reads and produces.
MAX_VERSION = (1, 0)

# __cuda_array_interface__ typestrs, as NumPy dtypes, and the singa dtype of each
# (bfloat16 has no typestr: it travels through DLPack only).
_CAI_DTYPES = {np.dtype(np.float32): singa.kFloat32, np.dtype(np.float16): singa.kFloat16,
               np.dtype(np.float64): singa.kDouble, np.dtype(np.int32): singa.kInt,
               np.dtype(np.int64): singa.kInt64, np.dtype(np.int8): singa.kChar,
               np.dtype(np.uint8): singa.kUChar, np.dtype(np.bool_): singa.kBool}


def _is_capsule(x):
    return type(x).__name__ == "PyCapsule"


def _cuda_device(device_id):
    """The CUDA device of a producer's memory; BufferError when singa cannot use it."""
    if not singa.USE_CUDA:
        raise BufferError("from_dlpack: the array lives on CUDA device {}, and this singa was "
                          "built without CUDA (USE_CUDA is False)".format(device_id))
    try:
        return singa.Platform.CreateCudaGPU(int(device_id))
    except RuntimeError as e:
        raise BufferError("from_dlpack: the array lives on CUDA device {}, which singa cannot "
                          "use: {}".format(device_id, e)) from e


def _capsule_of(x, copy):
    """The DLPack capsule of an object with ``__dlpack__``, after the stream handshake."""
    stream = None
    if hasattr(x, "__dlpack_device__"):
        dev_type, dev_id = x.__dlpack_device__()
        if int(dev_type) in (kDLCUDA, kDLCUDAManaged):
            stream = singa.cuda_stream_handle(_cuda_device(dev_id))
    kwargs = {"stream": stream, "max_version": MAX_VERSION}
    if copy is not None:
        kwargs["copy"] = copy
    try:
        return x.__dlpack__(**kwargs)
    except TypeError:
        # A producer older than the 2023.12 standard takes no max_version or copy (a copy
        # asked for is then made here); it gives a legacy capsule.
        return x.__dlpack__(stream=stream) if stream is not None else x.__dlpack__()


def _from_cuda_array_interface(x, copy):
    iface = x.__cuda_array_interface__
    if not isinstance(iface, dict):
        raise TypeError("from_dlpack: __cuda_array_interface__ of {} is not a dict"
                        .format(type(x).__name__))
    if iface.get("mask") is not None:
        raise BufferError("from_dlpack: masked CUDA arrays (__cuda_array_interface__ 'mask') "
                          "are not supported")
    try:
        dt = np.dtype(iface["typestr"])
    except TypeError as e:
        raise BufferError("from_dlpack: unknown __cuda_array_interface__ typestr {!r}"
                          .format(iface["typestr"])) from e
    if dt not in _CAI_DTYPES:
        raise BufferError("from_dlpack: the array's dtype {} ({!r}) is not a singa dtype (float32, "
                          "float64, float16, int32, int64, int8, uint8, bool, native byte "
                          "order); convert it first".format(dt, iface["typestr"]))
    shape = [int(n) for n in iface["shape"]]
    ptr, readonly = iface["data"]
    strides = iface.get("strides")
    if strides is not None:
        if len(strides) != len(shape):
            raise BufferError("from_dlpack: {} strides for a shape of {} axes"
                              .format(len(strides), len(shape)))
        if any(int(s) % dt.itemsize for s in strides):
            raise BufferError("from_dlpack: strides {} (bytes) are not multiples of the {}-byte "
                              "element size; singa's strides count elements"
                              .format(tuple(strides), dt.itemsize))
        strides = [int(s) // dt.itemsize for s in strides]
    stream = iface.get("stream") if int(iface.get("version", 0)) >= 3 else None
    return singa.from_cuda_array_interface(int(ptr or 0), _CAI_DTYPES[dt], shape, strides, x,
                                           None if stream is None else int(stream),
                                           bool(readonly), copy)


def from_dlpack(x, device=None, copy=None):
    """A core tensor (``singa_wrap.Tensor``) over the memory of `x`; see the module doc.

    Args:
        x: an object with ``__dlpack__`` (NumPy, PyTorch, CuPy, JAX, singa tensors), a
            DLPack capsule, or an object with ``__cuda_array_interface__``.
        device: a singa Device for the result; when it is not where `x`'s memory is, the
            tensor is copied there (``copy=False`` then raises ValueError).
        copy: None (share memory where possible), True (always a copy), False (never a
            copy: BufferError or ValueError where one would be needed).
    """
    if copy is not None and not isinstance(copy, (bool, np.bool_)):
        raise TypeError("from_dlpack: copy must be None, True or False, got {!r}".format(copy))
    if copy is not None:
        copy = bool(copy)
    if device is not None and not isinstance(device, singa.Device):
        raise TypeError("from_dlpack: device must be a singa Device or None, got {}"
                        .format(type(device).__name__))
    if _is_capsule(x):
        ct = singa.from_dlpack_capsule(x, copy)
    elif hasattr(x, "__dlpack__"):
        ct = singa.from_dlpack_capsule(_capsule_of(x, copy), copy)
    elif hasattr(x, "__cuda_array_interface__"):
        ct = _from_cuda_array_interface(x, copy)
    else:
        raise TypeError("from_dlpack: {} has neither __dlpack__ nor __cuda_array_interface__ "
                        "(NumPy, PyTorch, CuPy and JAX arrays have __dlpack__; for any other "
                        "array-like, use tensor.from_numpy)".format(type(x).__name__))
    if device is not None and ct.device() != device:
        if copy is False:
            raise ValueError("from_dlpack: the memory is on {}; device={} needs a copy, and "
                             "copy=False forbids it".format(ct.device().name(), device.name()))
        ct.ToDevice(device)  # a copy on `device`; the borrowed memory is let go
    return ct
