"""Data-parallel training across processes (MPI through mpi4py).

``env`` reads the launcher's rank variables without importing MPI; ``comm`` holds the
communicator (mpi4py is imported when the first one is made); ``distopt`` the
optimizer wrapper, also ``singa.opt.DistOpt``; ``nccl_comm`` the NCCL transport DistOpt
uses for tensors on CUDA GPUs (untested on GPUs so far), with ``buffers`` the host and
device buffers of both transports. Launch with ``mpiexec -n N python script.py``.
"""

import numpy as np

from .comm import Communicator, DistTimeoutError, get_communicator
from .distopt import DistOpt
from .env import LaunchInfo, is_rank0, launch_info
from .threads import default_threads_per_rank

__all__ = ["LaunchInfo", "launch_info", "is_rank0", "Communicator", "DistTimeoutError",
           "get_communicator", "DistOpt", "broadcast", "barrier", "default_threads_per_rank"]


def broadcast(x, root=0):
    """Overwrites ``x`` on every rank with rank ``root``'s value, in place, and returns it.

    ``x``: a singa Tensor or core tensor (on the host), or a NumPy array. Every rank must
    call it with the same shape and dtype."""
    comm = get_communicator()
    if not 0 <= root < comm.world_size:
        raise ValueError("broadcast: root {} is not a rank of this job of {}".format(
            root, comm.world_size))
    if isinstance(x, np.ndarray):
        if not x.flags.c_contiguous or not x.flags.writeable:
            raise ValueError("broadcast: the NumPy array must be C-contiguous and writeable")
        comm.broadcast(x, root)
        return x
    core = getattr(x, "data", x)
    if not hasattr(core, "IsContiguous"):
        raise TypeError("broadcast: x must be a Tensor or a NumPy array, got {}".format(
            type(x).__name__))
    if core.IsContiguous():
        comm.broadcast(np.asarray(core).reshape(-1), root)
    else:
        values = np.ascontiguousarray(core.numpy())
        comm.broadcast(values, root)
        core.CopyDataFromHostPtr(values.reshape(-1))
    return x


def barrier():
    """Returns once every rank of the job has called it."""
    get_communicator().barrier()
