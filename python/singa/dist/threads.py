"""Kernel threads per rank: the machine's cores shared among the ranks on it."""

import os

from .. import singa_wrap as singa

__all__ = ["default_threads_per_rank"]


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads_per_rank(local_size, cores=None):
    """Gives each of the ``local_size`` ranks on this machine cores // local_size kernel
    threads (at least one), so the ranks do not oversubscribe the cores, unless the
    thread count was already chosen (OMP_NUM_THREADS, ``set_num_threads``): that shows
    as a count other than the OpenMP default of one thread per core. Returns the count
    in effect."""
    cores = _cores() if cores is None else cores
    current = singa.get_num_threads()
    if current == cores and local_size > 1:
        singa.set_num_threads(max(1, cores // local_size))
    return singa.get_num_threads()
