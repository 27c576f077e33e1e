"""A one-rank stand-in for singa_wrap.NcclCommunicator, for machines without a GPU.

With one rank, NCCL's collectives leave every buffer as it is (the sum over one rank is
the rank's own values) and all-gather copies send into recv; the stand-in does exactly
that with core-tensor copies on the tensors' device, and checks its arguments as the
native communicator does, so singa.dist's NCCL transport (buffers on the device, the
wait loop, the unique-id broadcast) runs on a host-memory test device. It proves nothing
about NCCL itself: tests/gpu/test_nccl.py uses the real one where a GPU is usable.
"""

import os

from singa import singa_wrap as sw

_WIRE = (sw.kFloat32, sw.kFloat16, sw.kBFloat16, sw.kInt)


class OneRankNccl(object):
    made = []  # every communicator made, for the tests to inspect

    @staticmethod
    def NewUniqueId():  # noqa: N802 - the native name
        return os.urandom(128)

    def __init__(self, unique_id, world_size, rank, device):
        if len(unique_id) != 128:
            raise ValueError("the unique id has {} bytes".format(len(unique_id)))
        if (world_size, rank) != (1, 0):
            raise ValueError("the stand-in is rank 0 of 1, not {} of {}".format(rank, world_size))
        self.unique_id, self._device, self._aborted = unique_id, device, False
        self.calls = []
        OneRankNccl.made.append(self)

    def _check(self, collective, *tensors):
        if self._aborted:
            raise RuntimeError("NCCL {}: the communicator was aborted".format(collective))
        for t in tensors:
            if t.device() != self._device:
                raise RuntimeError("NCCL {}: a tensor on {}, the communicator on {}".format(
                    collective, t.device().name(), self._device.name()))
            if not t.IsContiguous():
                raise ValueError("NCCL {}: not contiguous".format(collective))
            if t.data_type() not in _WIRE:
                raise TypeError("NCCL {}: dtype {}".format(collective, t.data_type()))
        self.calls.append(collective)

    def rank(self):
        return 0

    def world_size(self):
        return 1

    def device(self):
        return self._device

    def aborted(self):
        return self._aborted

    def AllReduce(self, t):  # noqa: N802
        self._check("all_reduce", t)

    def Broadcast(self, t, root=0):  # noqa: N802
        if root != 0:
            raise ValueError("root {} of 1 rank".format(root))
        self._check("broadcast", t)

    def AllGather(self, send, recv):  # noqa: N802
        self._check("all_gather", send, recv)
        if recv.Size() != send.Size():
            raise ValueError("all_gather: recv has {}, send {}".format(recv.Size(), send.Size()))
        recv.CopyData(send)

    def ReduceScatter(self, send, recv):  # noqa: N802
        self._check("reduce_scatter", send, recv)
        recv.CopyData(send)

    def Done(self):  # noqa: N802
        if self._aborted:
            raise RuntimeError("NCCL: the communicator was aborted")
        return True

    def Abort(self):  # noqa: N802
        self._aborted = True
