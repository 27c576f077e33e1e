"""Streaming mini-batches from macrobatch shards with bounded memory.

``ShardLoader`` reads the shards written by ``singa.data.write_shards`` one at a
time, so a dataset far larger than memory trains with at most
``max_resident_shards`` shards in memory (plus the batches in flight).

One epoch is a single stream of samples: the shards in an order drawn from
``(seed, epoch)``, each shard's samples in an order drawn from ``(seed, epoch,
shard)``; batch k is samples ``[k*B, (k+1)*B)`` of that stream, so a batch may
span two shards. Each batch's random crops and flips are drawn from ``(seed,
epoch, first sample position)``. Everything is therefore a function of the
position in the stream, which is what ``state_dict()`` stores: a loader
restored from it yields exactly the batches the uninterrupted one would have.

In a data-parallel job every rank draws the same stream and reads its own
contiguous ``num_samples // world_size`` samples of it (the remainder dropped),
so a rank loads only the shards its part spans, about ``1 / world_size`` of
them, and every rank yields the same number of batches.

Threads: one reader loads shards in stream order (blocking while
``max_resident_shards`` are resident); ``workers`` threads build batches
(gather, crop, flip, uint8 -> float32 NCHW, mean subtraction; NumPy releases
the GIL); the consumer receives them in order. A shard is dropped as soon as
every batch that needs it has been built.
"""

import os
import threading
import weakref

import numpy as np

from .sharding import resolve_rank
from .shards import ShardError, load_index, read_shard, read_shard_header

__all__ = ["ShardLoader", "ShardIterator"]

_POLL_S = 0.1      # wake-up period of blocked threads (they also get notified)
_JOIN_S = 30.0     # upper bound on waiting for a thread to finish its batch


class _Failure:
    """Carries an exception from a thread to the consumer."""

    def __init__(self, exc):
        self.exc = exc


def _pair(v, name):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        v = (int(v), int(v))
    v = tuple(int(t) for t in v)
    if len(v) != 2 or min(v) < 1:
        raise ValueError(f"{name} must be a positive int or (h, w), got {v!r}")
    return v


def _shard_order(num_shards, shuffle, seed, epoch):
    if not shuffle:
        return np.arange(num_shards)
    return np.random.default_rng([seed, epoch, 0]).permutation(num_shards)


class _Plan:
    """The sample stream of one epoch from ``start`` on: shard order, batches."""

    def __init__(self, loader, epoch, start):
        counts = loader._counts
        self.shuffle, self.seed, self.epoch = loader.shuffle, loader.seed, epoch
        self.order = _shard_order(len(counts), self.shuffle, self.seed, epoch)
        self.cum = np.concatenate([[0], np.cumsum(counts[self.order])]).astype(np.int64)
        # This rank's samples are [lo, end) of the stream; start counts from lo.
        lo, b = loader._rank_first, loader.batch_size
        self.first = lo
        end = lo + loader.samples_per_rank
        start += lo
        stop = start + (end - start) // b * b if loader.drop_last else end
        self.starts = list(range(start, stop, b))
        self.bounds = [(a, min(a + b, end)) for a in self.starts]
        # How many batches read each shard position (0: never loaded).
        self.refs = {}
        for a, e in self.bounds:
            for pos in self.positions(a, e):
                self.refs[pos] = self.refs.get(pos, 0) + 1
        self.load_order = sorted(self.refs)
        self._perms = {}

    def positions(self, a, e):
        """Shard positions (indices into ``order``) covering samples [a, e)."""
        first = int(np.searchsorted(self.cum, a, side="right")) - 1
        last = int(np.searchsorted(self.cum, e - 1, side="right")) - 1
        return range(first, last + 1)

    def perm(self, pos):
        """Sample order inside the shard at stream position ``pos``."""
        p = self._perms.get(pos)
        if p is None:
            shard = int(self.order[pos])
            count = int(self.cum[pos + 1] - self.cum[pos])
            p = (np.random.default_rng([self.seed, self.epoch, 1, shard]).permutation(count)
                 if self.shuffle else np.arange(count))
            self._perms[pos] = p
        return p

    def segments(self, a, e):
        """``(pos, dst, sample indices in the shard)`` pieces of samples [a, e)."""
        out = []
        for pos in self.positions(a, e):
            lo, hi = max(a, int(self.cum[pos])), min(e, int(self.cum[pos + 1]))
            idx = self.perm(pos)[lo - self.cum[pos]:hi - self.cum[pos]]
            out.append((pos, lo - a, idx))
        return out


class _State:
    """What the threads share. Holds no reference to the ShardIterator, so
    dropping the iterator (``break`` in a for loop) closes it."""

    def __init__(self, cfg, plan, prefetch, inline):
        self.cfg, self.plan, self.prefetch, self.inline = cfg, plan, prefetch, inline
        self.cond = threading.Condition()
        self.stop = False
        self.resident = {}          # pos -> (images, labels, buffer) or _Failure
        self.buffers = []           # free shard buffers, reused (no churn)
        self.num_resident = 0       # loaded or being loaded
        self.peak_resident = 0
        self.refs = dict(plan.refs)
        self.results = {}           # batch number -> (x, y) or _Failure
        self.next_claim = 0
        self.consumed = 0

    def wait(self, ready):
        """Wait (holding cond) until ``ready()`` or a stop; False if stopped."""
        while not self.stop and not ready():
            self.cond.wait(_POLL_S)
        return not self.stop

    def load(self, pos):
        """Read the shard at stream position ``pos`` into a pooled buffer."""
        cfg = self.cfg
        shard = int(self.plan.order[pos])
        path = cfg.paths[shard]
        with self.cond:
            buf = self.buffers.pop() if self.buffers else None
        if buf is None:
            buf = np.empty(cfg.max_shard_bytes, np.uint8)
        images, labels, head = read_shard(path, verify=cfg.verify, buffer=buf)
        if head.shape[1:] != cfg.image_shape or head.count != cfg.counts[shard]:
            raise ShardError(f"{path}: shard holds {head.shape} images, the index "
                             f"says {cfg.counts[shard]} x {cfg.image_shape}")
        return images, labels, buf

    # -- threads -------------------------------------------------------
    def read_loop(self):
        cfg = self.cfg
        for pos in self.plan.load_order:
            with self.cond:
                if not self.wait(lambda: self.num_resident < cfg.max_resident_shards):
                    return
                self.num_resident += 1
                self.peak_resident = max(self.peak_resident, self.num_resident)
            try:
                item = self.load(pos)
            except BaseException as e:
                item = _Failure(e)
            with self.cond:
                self.resident[pos] = item
                self.cond.notify_all()
            if isinstance(item, _Failure):
                return

    def work_loop(self):
        nb = len(self.plan.bounds)
        while True:
            with self.cond:
                if not self.wait(lambda: self.next_claim >= nb or
                                 self.next_claim < self.consumed + self.prefetch):
                    return
                if self.next_claim >= nb:
                    return
                k = self.next_claim
                self.next_claim += 1
            try:
                result = self.build(k)
                if result is None:  # stopped
                    return
            except BaseException as e:
                result = _Failure(e)
            with self.cond:
                self.results[k] = result
                self.cond.notify_all()

    def shard(self, pos):
        if self.inline:  # workers == 0: load on demand in the caller's thread
            if pos not in self.resident:
                self.resident[pos] = self.load(pos)
                self.num_resident += 1
                self.peak_resident = max(self.peak_resident, self.num_resident)
            return self.resident[pos]
        with self.cond:
            if not self.wait(lambda: pos in self.resident):
                return None
            return self.resident[pos]

    def release(self, pos):
        with self.cond:
            self.refs[pos] -= 1
            if self.refs[pos] == 0:
                self.buffers.append(self.resident.pop(pos)[2])
                self.num_resident -= 1
                self.cond.notify_all()

    def build(self, k):
        """Batch k: gather from the resident shard(s), crop, flip, convert."""
        cfg, plan = self.cfg, self.plan
        a, e = plan.bounds[k]
        n = e - a
        H, W, C = cfg.image_shape
        h, w = cfg.out_hw
        rng = np.random.default_rng([plan.seed, plan.epoch, 2, a])
        if cfg.train and cfg.crop is not None:
            oy = rng.integers(0, H - h + 1, size=n)
            ox = rng.integers(0, W - w + 1, size=n)
        else:
            oy = np.full(n, (H - h) // 2)
            ox = np.full(n, (W - w) // 2)
        flips = (rng.random(n) < 0.5) if (cfg.train and cfg.flip) else np.zeros(n, bool)
        # Crops go to a uint8 CHW buffer first (moving 1-byte elements is
        # cheap), then one fused cast + mean subtraction fills the float32
        # batch: ~3x faster than casting each strided HWC crop.
        u = np.empty((n, C, h, w), np.uint8)
        y = np.empty(n, np.int32)
        for pos, dst, idx in plan.segments(a, e):
            item = self.shard(pos)
            if item is None:
                return None
            if isinstance(item, _Failure):
                raise item.exc
            images, labels, _ = item
            for j, s in enumerate(idx):
                i = dst + j
                src = images[s, oy[i]:oy[i] + h, ox[i]:ox[i] + w]
                if flips[i]:
                    src = src[:, ::-1]
                u[i] = src.transpose(2, 0, 1)
            y[dst:dst + len(idx)] = labels[idx]
            del images, labels, item
            self.release(pos)
        x = np.empty((n, C, h, w), np.float32)
        if cfg.mean is not None:
            np.subtract(u, cfg.mean, out=x)
        else:
            x[...] = u
        return x, y


class ShardIterator:
    """One pass (the rest of an epoch) over a ShardLoader; yields ``(x, y)``.

    Obtained from ``iter(loader)``. ``close()`` (or leaving a ``with`` block,
    or dropping it, as a ``for`` loop does after ``break``) stops and joins
    the threads. An exception in a thread is re-raised by ``next()``.
    """

    def __init__(self, loader, plan):
        self._loader = loader
        self._plan = plan
        self._state = st = _State(loader, plan, loader.prefetch, loader.workers == 0)
        self._done = False
        self.threads = []
        if loader.workers > 0:
            self.threads.append(threading.Thread(target=st.read_loop, daemon=True,
                                                 name="singa-shard-reader"))
            self.threads += [threading.Thread(target=st.work_loop, daemon=True,
                                              name=f"singa-shard-worker-{i}")
                             for i in range(loader.workers)]
            for t in self.threads:
                t.start()

    def __len__(self):
        return len(self._plan.bounds) - self._state.consumed

    def __iter__(self):
        return self

    @property
    def peak_resident_shards(self):
        """Most shards held in memory at once so far (for tests and tuning)."""
        return self._state.peak_resident

    def __next__(self):
        st = self._state
        if self._done:
            raise StopIteration
        k = st.consumed
        if k >= len(self._plan.bounds):
            self.close()
            raise StopIteration
        try:
            if not self.threads:
                result = st.build(k)
            else:
                with st.cond:
                    while k not in st.results:
                        if not any(t.is_alive() for t in self.threads[1:]):
                            raise RuntimeError("ShardLoader worker threads exited "
                                               "unexpectedly")
                        st.cond.wait(_POLL_S)
                    result = st.results.pop(k)
                    st.consumed += 1
                    st.cond.notify_all()
        except BaseException:
            self.close()
            raise
        if isinstance(result, _Failure):
            self.close()
            raise result.exc
        if not self.threads:
            st.consumed += 1
        self._loader._advance(self._plan, k)
        return result

    def close(self):
        """Stop the threads, wait for them and free the resident shards."""
        if self._done:
            return
        self._done = True
        st = self._state
        with st.cond:
            st.stop = True
            st.cond.notify_all()
        me = threading.current_thread()
        for t in self.threads:
            if t is not me:
                t.join(_JOIN_S)
        st.resident.clear()
        st.results.clear()
        st.buffers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown; the threads are daemons
            pass


class ShardLoader:
    """Stream ``(x, y)`` mini-batches from a shard directory, with bounded memory.

    Each ``iter(loader)`` runs from the current position to the end of the
    epoch, then the loader moves to the next epoch; after ``break`` the next
    ``iter`` continues where the last yielded batch ended. ``set_epoch`` starts
    an epoch from its beginning; ``state_dict``/``load_state_dict`` save and
    restore the position for resuming mid-epoch.

    Args:
        shard_dir: folder with ``index.json`` and the shard files.
        batch_size: samples per batch.
        shuffle: draw the shard order and the order within each shard per epoch
            (from ``seed`` and the epoch number).
        seed: non-negative int.
        crop: output size ``int`` or ``(h, w)``: random crops in training,
            centre crops in evaluation; None keeps the stored size.
        flip: random horizontal flips (training only).
        mean_subtract: subtract the index's per-channel mean (0..255 units;
            outputs are otherwise raw 0..255 values as float32).
        workers: batch-building threads (0: everything in the caller's thread).
        max_resident_shards: most shards held in memory at once (>= 1).
        drop_last: drop the final batch of an epoch when it is short.
        train: False selects evaluation: centre crop, no flip, no shuffle.
        prefetch: batches built ahead of the consumer (default 2 * workers).
        verify: check each shard's CRC32 when it is read.
        rank, world_size: the part of each epoch this process reads in a
            data-parallel job; default the launcher's (``singa.dist.launch_info``).
            Every rank draws the same stream and reads its contiguous
            ``num_samples // world_size`` samples of it; every rank yields the
            same number of batches.

    Yields:
        ``x`` float32 (B, C, h, w) and ``y`` int32 (B,) NumPy arrays.

    Raises:
        ShardError: naming the file, for a missing, truncated or corrupted
            shard (at construction when the header shows it, else when read).
    """

    def __init__(self, shard_dir, batch_size, shuffle=True, seed=0, crop=224,
                 flip=True, mean_subtract=True, workers=2, max_resident_shards=2,
                 drop_last=False, train=True, prefetch=None, verify=True,
                 rank=None, world_size=None):
        self.shard_dir = os.fspath(shard_dir)
        self.index = index = load_index(self.shard_dir)
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(workers, (int, np.integer)) or workers < 0:
            raise ValueError(f"workers must be an int >= 0, got {workers!r}")
        if not isinstance(max_resident_shards, (int, np.integer)) or max_resident_shards < 1:
            raise ValueError("max_resident_shards must be an int >= 1, got "
                             f"{max_resident_shards!r}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.image_shape = (int(index["height"]), int(index["width"]),
                            int(index["channels"]))
        self.crop = _pair(crop, "crop")
        if self.crop is not None and (self.crop[0] > self.image_shape[0] or
                                      self.crop[1] > self.image_shape[1]):
            raise ValueError(f"crop {self.crop} is larger than the stored images "
                             f"{self.image_shape[:2]}")
        self.out_hw = self.crop or self.image_shape[:2]
        self.train = bool(train)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle) and self.train
        self.seed = int(seed)
        self.flip = bool(flip)
        self.workers = int(workers)
        self.max_resident_shards = int(max_resident_shards)
        self.drop_last = bool(drop_last)
        self.prefetch = max(1, int(prefetch) if prefetch is not None else 2 * self.workers)
        self.verify = bool(verify)
        self.classes = list(index["classes"])
        self.mean = (np.asarray(index["mean"], np.float32).reshape(-1, 1, 1)
                     if mean_subtract else None)
        self.paths = [os.path.join(self.shard_dir, s["file"]) for s in index["shards"]]
        self.counts = [int(s["count"]) for s in index["shards"]]
        self._counts = np.asarray(self.counts, np.int64)
        self.max_shard_bytes = max([int(s["bytes"]) for s in index["shards"]] or [0])
        for path, count in zip(self.paths, self.counts):
            head = read_shard_header(path)
            if head.count != count or head.shape[1:] != self.image_shape:
                raise ShardError(f"{path}: shard header ({head.shape}) does not match "
                                 f"the index ({count} x {self.image_shape})")
        self.rank, self.world_size = resolve_rank(rank, world_size, "ShardLoader")
        self.samples_per_rank = self.num_samples // self.world_size
        if self.world_size > 1 and self.samples_per_rank == 0:
            raise ValueError("ShardLoader: {} samples in {} cannot be split over {} ranks"
                             .format(self.num_samples, self.shard_dir, self.world_size))
        self._rank_first = self.rank * self.samples_per_rank
        self.epoch = 0
        self.position = 0        # samples of this rank's part of the epoch already yielded
        self._active = None

    @property
    def num_samples(self):
        """Samples in the whole shard set (all ranks together)."""
        return int(self._counts.sum())

    def __len__(self):
        n, b = self.samples_per_rank, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        self._close_active()
        if self.position >= self._epoch_end():
            self.epoch, self.position = self.epoch + 1, 0
        it = ShardIterator(self, _Plan(self, self.epoch, self.position))
        self._active = weakref.ref(it)
        return it

    def _epoch_end(self):
        n = self.samples_per_rank
        return n // self.batch_size * self.batch_size if self.drop_last else n

    def _advance(self, plan, k):
        """Called by the iterator when batch k of ``plan`` is handed out."""
        self.position = plan.bounds[k][1] - plan.first
        if k == len(plan.bounds) - 1:
            self.epoch, self.position = plan.epoch + 1, 0

    def _close_active(self):
        it = self._active() if self._active is not None else None
        if it is not None:
            it.close()
        self._active = None

    def close(self):
        """Stop the iterator in progress, if any."""
        self._close_active()

    def set_epoch(self, epoch):
        """Start epoch ``epoch`` from its beginning at the next ``iter``."""
        self._close_active()
        self.epoch, self.position = int(epoch), 0

    def _fingerprint(self):
        return [s["crc32"] for s in self.index["shards"]]

    def state_dict(self):
        """The position for resuming: a small JSON-serialisable dict.

        ``position`` counts the samples of this rank's part already yielded;
        ``shard_index`` is the position in this epoch's shard order and
        ``offset`` the number of that shard's samples before where this rank
        resumes. ``rank`` and ``world_size`` record the job it was saved in.
        """
        order = _shard_order(len(self.counts), self.shuffle, self.seed, self.epoch)
        counts = self._counts[order]
        cum = np.concatenate([[0], np.cumsum(counts)])
        at = self._rank_first + self.position
        i = int(np.searchsorted(cum, at, side="right")) - 1
        if at >= cum[-1]:
            i = len(counts)
        offset = int(at - cum[i]) if i < len(counts) else 0
        return {"version": 1, "epoch": int(self.epoch), "position": int(self.position),
                "shard_index": i, "offset": offset,
                "shard_order": [int(v) for v in order],
                "seed": self.seed, "shuffle": self.shuffle,
                "batch_size": self.batch_size, "num_samples": self.num_samples,
                "shards": self._fingerprint(),
                "rank": self.rank, "world_size": self.world_size}

    def load_state_dict(self, state):
        """Restore a position saved by ``state_dict`` (seed included).

        A state saved by another rank of a job of the same size restores this
        rank's own part at the same point (the ranks move in step, so rank 0's
        checkpoint serves all). A job of another size splits the epoch
        differently, so its state is accepted only at an epoch boundary.

        Raises:
            ValueError: if the state belongs to a different data set, shuffle
                setting, or (mid-epoch) job size.
        """
        if state.get("shards") != self._fingerprint() or \
                state.get("num_samples") != self.num_samples:
            raise ValueError("state_dict was saved for a different shard set")
        if bool(state.get("shuffle")) != self.shuffle:
            raise ValueError(f"state_dict has shuffle={state.get('shuffle')}, "
                             f"this loader shuffle={self.shuffle}")
        saved_size = int(state.get("world_size", 1))
        saved_rank = int(state.get("rank", 0))
        if not 0 <= saved_rank < saved_size:
            raise ValueError(f"inconsistent state_dict (rank {saved_rank} of {saved_size})")
        position = int(state.get("position", 0))
        if saved_size != self.world_size and position != 0:
            raise ValueError(
                f"ShardLoader: the state_dict was saved mid-epoch in a job of "
                f"{saved_size} rank(s), this job has {self.world_size}; the ranks' "
                f"parts of an epoch differ with the job size, so resume with "
                f"{saved_size} rank(s) or from a checkpoint taken at an epoch end")
        order = np.asarray(state["shard_order"], np.int64)
        cum = np.concatenate([[0], np.cumsum(self._counts[order])])
        i = int(state["shard_index"])
        pos = int(cum[i]) + int(state["offset"]) if i < len(order) else int(cum[-1])
        saved_first = saved_rank * (self.num_samples // saved_size)
        if "position" in state and pos != saved_first + position:
            raise ValueError("inconsistent state_dict (shard_index/offset vs position)")
        self._close_active()
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.position = pos - saved_first
