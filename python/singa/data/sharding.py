"""Which part of a data set this process reads in a data-parallel job.

Every rank draws the same epoch-seeded shuffle and takes its own slice of it, so the
ranks together see each sample of an epoch at most once and need no communication to
agree. Every rank also gets the same number of batches per epoch: collectives are
matched call for call, so one extra batch on one rank would leave the others waiting
in an all-reduce that never completes. The samples that do not divide evenly are
dropped (at most ``world_size - 1`` of them, or a batch's worth per rank when
``drop_last``), as SINGA's training scripts do when they partition their arrays.
"""

import numpy as np

from ..dist.env import launch_info

__all__ = ["resolve_rank", "rank_slice", "partition", "partition_arrays"]


def _check_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("{}: {} must be an int, got {!r}".format(who, name, value))
    return int(value)


def resolve_rank(rank=None, world_size=None, who="sharding", environ=None):
    """``(rank, world_size)`` from the arguments, the launcher filling in what is missing.

    Both None: this process's place in the launched job (``singa.dist.launch_info``;
    rank 0 of 1 without a launcher). Only ``world_size`` given: the launcher's rank.
    A ``rank`` without a ``world_size`` is refused (it would mean nothing on its own).
    """
    if rank is not None and world_size is None:
        raise ValueError("{}: rank={} was given without world_size".format(who, rank))
    if world_size is None:
        info = launch_info(environ)
        return info.rank, info.world_size
    world_size = _check_int(world_size, "world_size", who)
    if world_size < 1:
        raise ValueError("{}: world_size must be >= 1, got {}".format(who, world_size))
    if rank is None:
        rank = launch_info(environ).rank
        if rank >= world_size:
            raise ValueError("{}: the launcher says this is rank {}, which is not below "
                             "world_size={}; pass rank= explicitly".format(
                                 who, rank, world_size))
    rank = _check_int(rank, "rank", who)
    if not 0 <= rank < world_size:
        raise ValueError("{}: rank must be in [0, {}), got {}".format(who, world_size, rank))
    return rank, world_size


def rank_slice(num_samples, rank, world_size, who="sharding"):
    """The contiguous ``slice`` of ``num_samples`` items that ``rank`` owns.

    Each rank owns ``num_samples // world_size`` items; the remainder is dropped.
    """
    per_rank = int(num_samples) // world_size
    if per_rank == 0:
        raise ValueError("{}: {} samples cannot be split over {} ranks (each rank needs at "
                         "least one)".format(who, num_samples, world_size))
    return slice(rank * per_rank, (rank + 1) * per_rank)


def partition(x, y=None, rank=None, world_size=None):
    """This rank's contiguous part of ``x`` (and ``y``), for arrays read whole.

    Returns ``x_part`` or ``(x_part, y_part)``: views, each rank the same length.
    """
    rank, world_size = resolve_rank(rank, world_size, "partition")
    if y is not None and len(y) != len(x):
        raise ValueError("partition: x has {} samples but y has {}".format(len(x), len(y)))
    part = rank_slice(len(x), rank, world_size, "partition")
    return x[part] if y is None else (x[part], y[part])


def partition_arrays(pairs, shard, rank, world_size, who):
    """The readers' ``shard``/``rank``/``world_size`` options applied to ``(x, y)`` pairs.

    Sharding is opt-in for the readers (the loaders shard by default, and sharding both
    would give each rank a slice of a slice): ``shard=True`` takes the rank and size from
    the launcher, an explicit ``rank``/``world_size`` implies it.
    """
    if not shard and rank is None and world_size is None:
        return tuple(pairs)
    if rank is None and world_size is None:
        info = launch_info()
        rank, world_size = info.rank, info.world_size
    rank, world_size = resolve_rank(rank, world_size, who)
    out = []
    for x, y in pairs:
        part = rank_slice(len(x), rank, world_size, who)
        out.append((x[part], y[part]))
    return tuple(out)
