"""Where this process sits in a launched job, read from the launcher's environment.

``mpiexec`` (MPICH's Hydra, Open MPI's ORTE/PRRTE) and ``torchrun``-style launchers export
the rank and job size to every process before Python starts. Reading them needs no MPI
import, so data sharding and rank-0-only output work the same whether or not the job ever
creates a communicator, and a plain ``python script.py`` is rank 0 of 1.
"""

from .. import config

__all__ = ["LaunchInfo", "launch_info", "is_rank0"]

# (rank, size, local rank, local size) variable names, first match wins.
_LAUNCHERS = (
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),  # MPICH Hydra
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
     "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),  # Open MPI
    ("PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"),
    ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"),  # torchrun convention
)


class LaunchInfo(tuple):
    """``(rank, world_size, local_rank, local_size)`` with those names as attributes."""

    __slots__ = ()

    def __new__(cls, rank, world_size, local_rank, local_size):
        return tuple.__new__(cls, (rank, world_size, local_rank, local_size))

    rank = property(lambda self: self[0])
    world_size = property(lambda self: self[1])
    local_rank = property(lambda self: self[2])
    local_size = property(lambda self: self[3])

    def __repr__(self):
        return "LaunchInfo(rank={}, world_size={}, local_rank={}, local_size={})".format(*self)


def _int_var(name, environ):
    text = environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError("launch_info: environment variable {}={!r} is not an integer".format(
            name, text)) from None


def launch_info(environ=None):
    """This process's place in the job, from the launcher's environment variables.

    Without a launcher (a plain ``python script.py``) it is rank 0 of 1. The local rank and
    size default to the global ones when a launcher exports only those.
    """
    environ = config.launcher_environment() if environ is None else environ
    for rank_var, size_var, local_var, local_size_var in _LAUNCHERS:
        rank, size = _int_var(rank_var, environ), _int_var(size_var, environ)
        if rank is None or size is None:
            continue
        if size < 1 or not 0 <= rank < size:
            raise ValueError("launch_info: {}={} and {}={} do not describe a rank of a job".format(
                rank_var, rank, size_var, size))
        local = _int_var(local_var, environ)
        local_size = _int_var(local_size_var, environ)
        return LaunchInfo(rank, size, rank if local is None else local,
                          size if local_size is None else local_size)
    return LaunchInfo(0, 1, 0, 1)


def is_rank0(environ=None):
    """True on the process that writes checkpoints and shows progress bars."""
    return launch_info(environ).rank == 0
