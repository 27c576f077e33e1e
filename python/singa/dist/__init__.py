"""Data-parallel training across processes (MPI through mpi4py).

``env`` reads the launcher's rank variables without importing MPI.
"""

from .env import LaunchInfo, is_rank0, launch_info

__all__ = ["LaunchInfo", "launch_info", "is_rank0"]
