"""NCCL as DistOpt's transport when every rank's parameters live on a CUDA GPU.

.. warning:: **Untested on GPUs.** This path is compiled in CUDA builds, and its Python
   logic is tested on a host-memory test device with a one-rank stand-in for NCCL; it has
   not yet run over real GPUs (``tests/gpu/test_nccl.py`` runs a one-rank NCCL
   communicator where a GPU is at hand; more ranks need a GPU each).

The job is still launched and bootstrapped by MPI (``mpiexec -n N python script.py``, one
GPU per rank: ``device.create_cuda_gpu_on(local_rank)``): rank 0 makes NCCL's unique id
and MPI broadcasts it, and MPI's control channel finds the ranks that did not arrive
when a wait times out. The gradients move by NCCL, from GPU memory to GPU memory, on the
stream of the GPU that computed them: a collective is queued after the kernels that
wrote its buffer and before those that read the sums, so it needs no host
synchronisation, and the copies back into the gradients are queued at once.
:meth:`NcclCommunicator.wait` then waits (with the MPI communicator's deadline) until
the GPU has finished them, which is also where NCCL's asynchronous errors are raised.

:func:`choose_backend` is DistOpt's choice: NCCL for CUDA tensors in a build that has
it, MPI for host tensors; ``DistOpt(..., backend="mpi"|"nccl")`` overrides it.
"""

import numpy as np

from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from .comm import DistTimeoutError

__all__ = ["NcclCommunicator", "nccl_available", "choose_backend", "BACKENDS"]

BACKENDS = ("mpi", "nccl")


def _native():
    """The native communicator class (singa_wrap.NcclCommunicator), or RuntimeError
    saying what is missing. One seam: the tests put a one-rank stand-in here on machines
    without a GPU."""
    if not singa.USE_CUDA:
        raise RuntimeError("this singa was built without CUDA (singa_wrap.USE_CUDA is False), "
                           "so it has no NCCL communicator; build it with -DSINGA_USE_CUDA=ON "
                           "(pip install '.[cuda]' -C cmake.define.SINGA_USE_CUDA=ON)")
    native = getattr(singa, "NcclCommunicator", None)
    if native is None:
        raise RuntimeError("this CUDA build of singa has no NCCL communicator "
                           "(singa_wrap.NcclCommunicator is missing)")
    return native


def nccl_available():
    """(True, None) when this singa can run NCCL, else (False, what is missing). Whether
    libnccl.so.2 itself loads is known when the first communicator is made (its error
    names the nvidia-nccl-cu13 wheel)."""
    try:
        _native()
    except RuntimeError as e:
        return False, str(e)
    return True, None


def _on_gpu(core):
    return core.device().lang() == singa.kCuda


def choose_backend(requested, core):
    """The transport for a job whose tensors are like ``core``: ``requested`` ("mpi",
    "nccl" or None for the automatic choice) checked against the tensor and the build."""
    if requested == "mpi":
        return "mpi"
    if requested == "nccl":
        ok, why = nccl_available()
        if not ok:
            raise RuntimeError("DistOpt(backend='nccl'): " + why + "; or use backend='mpi'")
        return "nccl"
    if _on_gpu(core) and nccl_available()[0]:
        return "nccl"
    return "mpi"


class _Finished(object):
    """What the MPI communicator's deadline loop polls: the GPU's queue of collectives."""

    __slots__ = ("core",)

    def __init__(self, core):
        self.core = core

    def Test(self):  # noqa: N802 - the name the MPI wait loop calls (mpi4py's)
        return self.core.Done()


class NcclCommunicator(object):
    """One rank's NCCL communicator on ``device`` (a CUDA GPU), with the interface
    DistOpt uses for MPI's :class:`~singa.dist.Communicator`; buffers are core tensors on
    ``device`` (:class:`singa.dist.buffers.DeviceBuffers`) instead of NumPy arrays.

    Args:
        control: the MPI communicator of the job: it bootstraps NCCL (the unique id), numbers
            the collectives and, when a wait times out, asks which ranks did not arrive.
        device: this rank's GPU.

    Untested on GPUs (see the module's note).
    """

    def __init__(self, control, device):
        native = _native()
        self.control = control
        self.device = device
        self.global_rank, self.world_size = control.global_rank, control.world_size
        self.local_rank, self.local_size = control.local_rank, control.local_size
        self.bytes_sent = 0
        self._last = None  # (seq, name) of the last collective queued and not yet waited for
        uid = np.zeros(128, np.uint8)
        if self.global_rank == 0:
            uid[:] = np.frombuffer(native.NewUniqueId(), np.uint8)
        control.broadcast(uid, 0, name="broadcast of the NCCL unique id")
        self.core = native(uid.tobytes(), self.world_size, self.global_rank, device)

    @property
    def timeout(self):
        return self.control.timeout

    @property
    def step(self):
        return self.control.step

    # ---- queuing collectives (they run on the GPU's stream, in order) ----
    def _queue(self, name, nbytes):
        seq = self.control._next(name)
        self.bytes_sent += nbytes
        self._last = (seq, name)

    def start_all_reduce(self, buf, on_done=None, name="all_reduce"):
        """Queues an in-place sum of ``buf`` (a contiguous core tensor on the device) over
        the ranks; ``on_done()`` runs now, since what it queues on the same stream runs
        after the sum."""
        self._queue(name, buf.MemSize())
        self.core.AllReduce(buf)
        if on_done is not None:
            on_done()

    def progress(self):
        """Raises NCCL's asynchronous errors early; the GPU moves the data by itself."""
        if self._last is not None and self.core.Done():
            self._last = None

    def wait(self):
        """Returns once the GPU has run every queued collective (MPI's deadline applies)."""
        if self._last is None:
            return
        seq, name = self._last
        try:
            self.control._wait_request(_Finished(self.core), name, seq)
        except DistTimeoutError:
            self.core.Abort()  # frees the GPU's stream from the collectives that hang
            raise
        self._last = None

    # ---- blocking collectives ----
    def all_reduce(self, buf, name="all_reduce"):
        self.start_all_reduce(buf, None, name)
        self.wait()

    def broadcast(self, buf, root=0, name="broadcast"):
        self._queue(name, buf.MemSize() if self.global_rank == root else 0)
        self.core.Broadcast(buf, root)
        self.wait()

    def barrier(self, name="barrier"):
        self.wait()
        self.control.barrier(name)

    def all_gather_varying(self, array, name="all_gather"):
        """Every rank's 1-D NumPy ``array`` (int32 or float32; lengths may differ), as a
        list in rank order. NCCL gathers equal lengths, so each rank sends its array
        padded to the longest (that padding counts in ``bytes_sent``)."""
        array = np.ascontiguousarray(array).reshape(-1)
        counts = self._gather(np.array([array.size], np.int32), name)
        longest = int(counts.max())
        padded = np.zeros(longest, array.dtype)
        padded[:array.size] = array
        out = self._gather(padded, name).reshape(self.world_size, longest)
        return [out[r, :int(counts[r])].copy() for r in range(self.world_size)]

    def _gather(self, values, name):
        dtype = {np.dtype(np.int32): tensor_mod.int32,
                 np.dtype(np.float32): tensor_mod.float32}.get(values.dtype)
        if dtype is None:
            raise TypeError("NcclCommunicator.all_gather_varying: int32 or float32 arrays, got "
                            "{}".format(values.dtype))
        send = singa.Tensor([values.size], self.device, dtype)
        tensor_mod.copy_from_numpy(send, values)
        recv = singa.Tensor([values.size * self.world_size], self.device, dtype)
        self._queue(name, values.nbytes)
        self.core.AllGather(send, recv)
        self.wait()
        return np.asarray(singa.to_numpy(recv)).reshape(-1)

    def abort(self):
        """Ends the NCCL communicator at once (queued collectives are abandoned)."""
        self.core.Abort()
