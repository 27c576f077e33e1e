"""Where DistOpt's gradients wait for the wire: the host (MPI) or the GPU (NCCL).

A transport sums flat buffers; these classes make them from core tensors. ``sendable``
is a tensor's own memory as a buffer when it can go as it is (no copy), else None;
``new`` makes a fused buffer, ``pack`` copies tensors into one, ``unpack`` copies the
sums back (scaled). :class:`HostBuffers` works on NumPy arrays (views of host memory,
copies otherwise); :class:`DeviceBuffers` on core tensors of one device, so that a GPU's
gradients never leave it: every copy is a kernel on the device's stream, ordered before
and after the collectives on that stream.
"""

import numpy as np

from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from .. import tensor_interop

__all__ = ["HostBuffers", "DeviceBuffers", "write_values"]


def _host_view(core):
    """A flat NumPy view of a contiguous host tensor's memory (no copy), or None."""
    if not core.device().host_memory() or not core.IsContiguous() \
            or core.data_type() == tensor_mod.bfloat16:
        return None  # the buffer protocol has no bfloat16
    return np.asarray(core).reshape(-1)


# The NumPy dtype of a fused host buffer for gradients of each float dtype.
_NUMPY_DTYPES = {tensor_mod.float32: np.float32, tensor_mod.float16: np.float16,
                 tensor_mod.float64: np.float64}


def _core_view(part, core):
    """A core tensor over the memory of the NumPy buffer slice ``part`` (no copy), in
    ``core``'s shape, when ``core`` is a float tensor the host can read, so that copies
    between the two run in singa's kernels (NumPy's float32 <-> float16 casts are 6-13x
    slower); else None. DistOpt calls pack and unpack outside graph recording."""
    if core.data_type() not in _NUMPY_DTYPES or not core.device().host_memory() or \
            not core.IsContiguous():
        return None
    view = tensor_interop.from_dlpack(part, copy=False)
    view.Reshape(list(core.shape()))
    return view


def write_values(core, values):
    """Writes flat NumPy ``values`` into the core tensor ``core`` (any layout, dtype and
    device)."""
    view = _host_view(core)
    if view is not None:
        view[...] = values
    else:
        tensor_mod.copy_from_numpy(core, values)


class HostBuffers(object):
    """NumPy buffers, for MPI."""

    name = "host"

    @staticmethod
    def sendable(core):
        return _host_view(core)

    @staticmethod
    def dtype(cores, half):
        if half:
            return np.dtype(np.float16)
        known = _NUMPY_DTYPES.get(cores[0].data_type())  # without converting the tensor
        return np.dtype(known) if known is not None else singa.to_numpy(cores[0]).dtype

    @staticmethod
    def new(n, dtype):
        return np.empty(n, dtype)

    @staticmethod
    def matches(buf, n, dtype):
        return buf.size == n and buf.dtype == dtype

    @staticmethod
    def pack(buf, cores):
        offset = 0
        for c in cores:
            size = c.Size()
            part = buf[offset:offset + size]
            view = _core_view(part, c)
            if view is not None:
                view.CopyData(c)  # one pass, the dtype converted by singa's kernels
            else:
                part[...] = singa.to_numpy(c).reshape(-1)
            offset += size

    @staticmethod
    def unpack(buf, cores, scale=None):
        at = 0
        for c in cores:
            size = c.Size()
            values = buf[at:at + size]
            view = _core_view(values, c)
            if view is not None:
                c.CopyData(view)
                if scale is not None:
                    c *= float(scale)  # in the tensor's own dtype (float32 for half)
            else:
                if scale is not None:
                    values = values * np.asarray(scale, values.dtype)
                write_values(c, values)
            at += size

    @staticmethod
    def copy_for_wire(core):
        """(buffer, write back) for a tensor that is not sendable as it is."""
        values = np.ascontiguousarray(singa.to_numpy(core)).reshape(-1)
        return values, lambda: write_values(core, values)


# The dtypes NCCL sums (nccl_comm.cc); others are summed in a float32 copy.
_WIRE_DTYPES = (tensor_mod.float32, tensor_mod.float16, tensor_mod.bfloat16)


def _slot(buf, at, core):
    """The view of flat ``buf`` from ``at`` that holds ``core``, in ``core``'s shape. (A core
    tensor's Reshape is in place, as in SINGA: only this fresh view is reshaped.)"""
    view = buf.Slice(0, at, at + core.Size())
    view.Reshape(list(core.shape()))
    return view


class DeviceBuffers(object):
    """Core tensors on ``device``, for NCCL."""

    name = "device"

    def __init__(self, device):
        self.device = device

    def _check(self, core):
        if core.device() != self.device:
            raise ValueError("DistOpt (NCCL): a tensor on {} met the communicator of {}; every "
                             "parameter of a rank must live on its one GPU".format(
                                 core.device().name(), self.device.name()))

    def sendable(self, core):
        self._check(core)
        if core.IsContiguous() and core.data_type() in _WIRE_DTYPES:
            return core
        return None

    @staticmethod
    def dtype(cores, half):
        if half:
            return tensor_mod.float16
        dt = cores[0].data_type()
        return dt if dt in _WIRE_DTYPES else tensor_mod.float32

    def new(self, n, dtype):
        return singa.Tensor([n], self.device, dtype)

    @staticmethod
    def matches(buf, n, dtype):
        return buf.Size() == n and buf.data_type() == dtype

    def pack(self, buf, cores):
        offset = 0
        for c in cores:
            self._check(c)
            size = c.Size()
            # CopyData converts the dtype (float32 -> float16 for the half wire)
            _slot(buf, offset, c).CopyData(c)
            offset += size

    def unpack(self, buf, cores, scale=None):
        at = 0
        for c in cores:
            piece = _slot(buf, at, c)
            if scale is not None:
                piece = piece.Clone()
                piece *= float(scale)
            c.CopyData(piece)
            at += c.Size()

    def copy_for_wire(self, core):
        self._check(core)
        values = singa.Tensor(list(core.shape()), self.device, self.dtype([core], False))
        values.CopyData(core)
        return values, lambda: core.CopyData(values)
