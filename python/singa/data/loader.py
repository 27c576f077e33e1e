"""Mini-batch iteration over in-memory arrays with background prefetching.

A worker thread gathers the next batches (contiguous copies, cast to float32 by
default) into a bounded queue while the consumer runs its training step; NumPy
releases the GIL for the copies, so the two overlap. Stopping early (``break``,
an exception, ``close()``) stops and joins the worker.
"""

import queue
import threading

import numpy as np

from ..errors import named_entry
from .sharding import resolve_rank

__all__ = ["DataLoader", "BatchIterator", "minibatches"]

_POLL_S = 0.05      # how often a blocked worker checks for a stop request
_JOIN_S = 30.0      # upper bound on waiting for the worker to finish a batch


class _End:
    """Queue marker: the epoch is over."""


class _Failure:
    """Queue item carrying an exception raised in the worker."""

    def __init__(self, exc):
        self.exc = exc


def _put(q, item, stop):
    """Put ``item`` unless a stop is requested; return False if stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            pass
    return False


def _worker(batches, q, stop):
    # Holds no reference to the BatchIterator, so dropping the iterator
    # (e.g. after ``break``) runs its __del__ -> close().
    try:
        for b in batches:
            if stop.is_set() or not _put(q, b, stop):
                return
        _put(q, _End, stop)
    except BaseException as e:  # forwarded to and re-raised in the consumer
        _put(q, _Failure(e), stop)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


class BatchIterator:
    """One pass over a sequence of batches, optionally prefetched by a thread.

    Usually obtained from ``iter(DataLoader(...))`` or ``minibatches(...)``.
    Use ``close()`` (or a ``with`` block) to stop it early; dropping the last
    reference, as a ``for`` loop does after ``break``, closes it as well.

    Attributes:
        thread: the prefetch thread, or None when ``prefetch == 0``.
    """

    def __init__(self, batches, length, prefetch=2):
        if not hasattr(batches, "__iter__"):
            raise TypeError(f"BatchIterator: batches must be iterable, got {batches!r}")
        self._len = length
        self._done = False
        self.thread = None
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._stop = threading.Event()
            self.thread = threading.Thread(target=_worker,
                                           args=(batches, self._queue, self._stop),
                                           name="singa-data-prefetch", daemon=True)
            self.thread.start()
        else:
            self._batches = iter(batches)

    def __len__(self):
        return self._len

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        if self.thread is None:
            try:
                return next(self._batches)
            except BaseException:
                self.close()
                raise
        item = self._queue.get()
        if item is _End:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.exc
        return item

    def close(self):
        """Stop the worker (if any) and wait for it to exit."""
        if self._done and (self.thread is None or not self.thread.is_alive()):
            return
        self._done = True
        if self.thread is None:
            close = getattr(self._batches, "close", None)
            if close is not None:
                close()
            return
        self._stop.set()
        while True:  # free the prepared batches
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self.thread is not threading.current_thread():
            self.thread.join(_JOIN_S)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown; the thread is a daemon
            pass


def _batches(x, y, order, bounds, dtype, transform):
    """Yield ``(xb, yb)`` (or ``xb`` when y is None) for the ``(start, stop)`` positions
    of ``order`` (the natural order when None) in ``bounds``."""
    for start, stop in bounds:
        idx = slice(start, stop) if order is None else order[start:stop]
        xb = np.array(x[idx], dtype=dtype, order="C", copy=True)
        if transform is not None:
            xb = transform(xb)
        if y is None:
            yield xb
        else:
            yield xb, np.array(y[idx], order="C", copy=True)


class DataLoader:
    """Re-iterable mini-batch loader over arrays ``x`` (and labels ``y``).

    Each ``iter(loader)`` is one epoch; the epoch counter advances by one per
    iteration and mixes into the shuffle seed, so epochs differ while runs with
    the same seed repeat exactly.

    Args:
        x: samples, indexed along axis 0.
        y: labels with ``len(y) == len(x)``, or None to yield ``xb`` alone.
        batch_size: samples per batch.
        shuffle: permute the samples each epoch.
        seed: int seed of the shuffle; None draws one at random (once).
        drop_last: drop the final batch when it is smaller than batch_size.
        prefetch: batches prepared ahead by a background thread (0: no thread).
        dtype: dtype of the ``x`` batches (default float32; None keeps x's).
        transform: optional ``f(xb) -> xb`` run in the worker on each batch.
        rank, world_size: the part of each epoch this process reads in a
            data-parallel job; default the launcher's (``singa.dist.launch_info``),
            so ``mpiexec -n N`` shards with no change to the script, and a plain
            run reads everything. Every rank draws the same shuffle; batch k of
            rank r is the r-th ``batch_size`` samples of the epoch's k-th group of
            ``batch_size * world_size``, so the ranks' batches k together are the
            batch k a single process would get with ``batch_size * world_size``.
            Every rank gets the same number of batches: a short last group is
            split evenly (unless ``drop_last``) and the at most ``world_size - 1``
            samples left over are dropped.
    """

    @named_entry("DataLoader")
    def __init__(self, x, y=None, batch_size=64, shuffle=True, seed=0,
                 drop_last=False, prefetch=2, dtype=np.float32, transform=None,
                 rank=None, world_size=None):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
            raise ValueError(f"prefetch must be an int >= 0, got {prefetch!r}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.prefetch = int(prefetch)
        self.dtype = dtype
        self.transform = transform
        self.rank, self.world_size = resolve_rank(rank, world_size, "DataLoader")
        self.epoch = 0

    @property
    def num_samples(self):
        return len(self.x)

    def _group_split(self):
        """(whole groups of batch_size * world_size, per-rank size of the short tail)."""
        n, g = len(self.x), self.batch_size * self.world_size
        full = n // g
        tail = 0 if self.drop_last else (n - full * g) // self.world_size
        return full, tail

    def __len__(self):
        full, tail = self._group_split()
        return full + (1 if tail else 0)

    def batch_bounds(self):
        """This rank's ``(start, stop)`` positions in the epoch's order, one per batch."""
        full, tail = self._group_split()
        b, r, g = self.batch_size, self.rank, self.batch_size * self.world_size
        bounds = [(k * g + r * b, k * g + (r + 1) * b) for k in range(full)]
        if tail:
            bounds.append((full * g + r * tail, full * g + (r + 1) * tail))
        return bounds

    def set_epoch(self, epoch):
        """Set the epoch the next ``iter()`` will run (e.g. when resuming)."""
        self.epoch = int(epoch)

    def order(self, epoch):
        """Sample indices of ``epoch`` (None when not shuffling: natural order)."""
        if not self.shuffle:
            return None
        rng = np.random.default_rng([self.seed, int(epoch)])
        return rng.permutation(len(self.x))

    def iter_epoch(self, epoch):
        """A BatchIterator over ``epoch`` (does not move the epoch counter)."""
        gen = _batches(self.x, self.y, self.order(epoch), self.batch_bounds(),
                       self.dtype, self.transform)
        return BatchIterator(gen, len(self), self.prefetch)

    def __iter__(self):
        it = self.iter_epoch(self.epoch)
        self.epoch += 1
        return it


@named_entry("minibatches")
def minibatches(x, y=None, batch_size=64, shuffle=True, seed=0, epoch=0,
                drop_last=False, prefetch=2, dtype=np.float32, transform=None,
                rank=None, world_size=None):
    """One epoch of mini-batches: ``DataLoader(...).iter_epoch(epoch)`` (sharded by
    ``rank``/``world_size`` as DataLoader is, by default the launcher's).

    Returns:
        a BatchIterator yielding ``(xb, yb)`` (``xb`` when y is None), with len().
    """
    loader = DataLoader(x, y, batch_size, shuffle, seed, drop_last, prefetch,
                        dtype, transform, rank, world_size)
    return loader.iter_epoch(epoch)
