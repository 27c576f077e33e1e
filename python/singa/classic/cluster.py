"""Topology (``Cluster``), data-source configuration (``Store``) and the ``Data`` layer.

``Cluster(workspace)`` names the folder that holds a job's checkpoints
(``<workspace>/checkpoint/step<N>-worker<K>``) and its logs
(``<workspace>/log/<model name>-worker<K>.log``), and maps the job's workers to the
processes of a launched job: worker K is rank K of ``mpiexec -n N`` (one worker, rank
0, without a launcher). SINGA 1.x's workers of one group train synchronously on parts
of each mini-batch, which is what data-parallel ranks do, so a group of
``nworkers_per_group`` workers is a job of that many ranks; its asynchronous worker
groups (``nworker_groups > 1``, with parameter servers) have no counterpart and are
refused. The replicas hold the same parameters, so worker 0 (the chief) writes the
checkpoints and each worker writes its own log.

``Store(path, batch_size, ...)`` + ``Data(load='recordinput', phase=..., conf=store)``
read the macrobatch shard format of :mod:`singa.data.shards` (``path`` is the shard
folder, or its ``index.json``) through :class:`singa.data.ShardLoader`.
``Data(load='memory', x=..., y=...)`` serves NumPy arrays (what the bundled
``datasets.mnist/cifar10.load_data`` return).
"""

import os
import re

import numpy as np

from ..dist.env import launch_info
from .layers import Layer

__all__ = ["Cluster", "Store", "Data", "latest_checkpoint", "checkpoint_name"]

_CKPT_RE = re.compile(r"^step(\d+)-worker(\d+)$")


def checkpoint_name(step, worker=0):
    return "step{}-worker{}".format(int(step), int(worker))


def latest_checkpoint(folder, worker=0):
    """The path of the highest-step checkpoint of ``worker`` in ``folder`` (or in
    ``folder/checkpoint``), or None."""
    if not isinstance(folder, (str, bytes, os.PathLike)):
        raise TypeError("latest_checkpoint: folder must be a path, got {!r}".format(folder))
    best = None
    for d in (folder, os.path.join(folder, "checkpoint")):
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            m = _CKPT_RE.match(f)
            if m and int(m.group(2)) == worker and (best is None or int(m.group(1)) > best[0]):
                best = (int(m.group(1)), os.path.join(d, f))
    return best[1] if best else None


class Cluster(object):
    """The job's topology and workspace.

    Args:
        workspace: folder for checkpoints and logs (created when needed).
        nworker_groups: must be 1 (SINGA 1.x's asynchronous groups are not supported).
        nworkers_per_group: the number of workers, one per rank of the launched job;
            the default 1 means "as many as the job has ranks". Any other value
            must equal the job's size (ValueError naming both otherwise).
        nserver_groups, nservers_per_group, nworkers_per_procs: accepted for
            compatibility; all-reduce needs no parameter servers, and each process
            runs one worker.
        rank, world_size: this process's place, instead of the launcher's
            (``singa.dist.launch_info``).

    Attributes:
        worker_id: this process's worker (its rank). nworkers: workers in the job.
        is_chief: True on worker 0, which writes the checkpoints.
    """

    def __init__(self, workspace=None, nworker_groups=1, nserver_groups=1,
                 nworkers_per_group=1, nservers_per_group=1, nworkers_per_procs=1,
                 rank=None, world_size=None, **fields):
        if workspace is None:
            raise ValueError("Cluster: a workspace folder is required")
        self.workspace = os.fspath(workspace)
        if int(nworker_groups) != 1:
            raise ValueError("Cluster: nworker_groups={} asks for asynchronous worker "
                             "groups, which singa does not have; its workers train "
                             "synchronously (all-reduce): set nworkers_per_group to the "
                             "number of workers instead".format(nworker_groups))
        if world_size is None:
            info = launch_info()
            rank, world_size = info.rank if rank is None else rank, info.world_size
        if rank is None or not 0 <= int(rank) < int(world_size):
            raise ValueError("Cluster: rank={} is not a rank of a job of world_size={}"
                             .format(rank, world_size))
        wanted = int(nworkers_per_group)
        if wanted < 1 or (wanted != 1 and wanted != int(world_size)):
            raise ValueError("Cluster: nworkers_per_group={} asks for {} workers, but this "
                             "job has {} process(es): one worker runs per process, so "
                             "launch it with `mpiexec -n {} python ...`".format(
                                 nworkers_per_group, wanted, world_size, wanted))
        self.worker_id = int(rank)
        self.nworkers = int(world_size)
        self.nserver_groups, self.nservers_per_group = int(nserver_groups), \
            int(nservers_per_group)
        self.fields = dict(fields)

    @property
    def is_chief(self):
        return self.worker_id == 0

    @property
    def checkpoint_dir(self):
        return os.path.join(self.workspace, "checkpoint")

    @property
    def log_dir(self):
        return os.path.join(self.workspace, "log")

    def checkpoint_path(self, step, worker=0):
        """The checkpoint of ``step``; worker 0's by default, the one the chief writes
        and every worker loads (the replicas are identical)."""
        return os.path.join(self.checkpoint_dir, checkpoint_name(step, worker))

    def log(self, name, msg, worker=None):
        """Appends a line to this worker's log (or ``worker``'s)."""
        worker = self.worker_id if worker is None else int(worker)
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "{}-worker{}.log".format(name, worker)), "a") as f:
            f.write(msg.rstrip("\n") + "\n")

    def __repr__(self):
        if self.nworkers == 1:
            return "Cluster(workspace={!r})".format(self.workspace)
        return "Cluster(workspace={!r}, worker {} of {})".format(
            self.workspace, self.worker_id, self.nworkers)


class Store(object):
    """Where and how a Data layer reads its records.

    Args:
        path: a shard folder written by ``singa.data.write_shards`` (or its
            ``index.json``).
        batch_size: samples per mini-batch.
        shape: per-sample shape of the output (e.g. 784 or (3, 32, 32)); default the
            stored (C, H, W).
        mean_value, std_value: outputs are (x - mean_value) / std_value (raw 0..255).
        mean_subtract: also subtract the shard index's per-channel mean.
        shuffle, seed: shuffling of the training stream.
        backend: accepted ('kvfile', 'textfile' in SINGA); the shard format is used.
        Other SINGA fields (random_skip, prefetching, ...) are accepted and ignored.
    """

    def __init__(self, path=None, batch_size=64, shape=None, mean_value=0.0, std_value=1.0,
                 mean_subtract=False, shuffle=True, seed=0, backend=None, **fields):
        if path is None:
            raise ValueError("Store: path is required")
        self.path = os.fspath(path)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError("Store: batch_size must be >= 1, got {}".format(batch_size))
        self.shape = shape
        self.mean_value = float(mean_value)
        self.std_value = float(std_value)
        if self.std_value == 0:
            raise ValueError("Store: std_value must not be 0")
        self.mean_subtract = bool(mean_subtract)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.backend = backend
        self.fields = dict(fields)

    @property
    def shard_dir(self):
        p = self.path
        return os.path.dirname(p) if os.path.basename(p) == "index.json" else p

    def __repr__(self):
        return "Store(path={!r}, batch_size={})".format(self.path, self.batch_size)


class Data(Layer):
    """A data source of a model (SINGA's data/input layer).

    Args:
        load: 'recordinput' (or 'kvfile'/'shards': read ``conf``, a Store) or 'memory'
            (NumPy arrays ``x``, ``y``).
        phase: 'train', 'val' / 'validation' or 'test'.
        conf: a Store (for 'recordinput').
        x, y: arrays for 'memory' (x: (N, ...) any dtype; y: (N,) int labels).
        batch_size: default batch size (else the Store's, else 64).
        mean, std: outputs are (x - mean) / std (mean: a number or a per-sample array).
        shape: per-sample output shape.
        checkpoint: checkpoints (files or workspaces) to initialise parameters from
            (set by ``mnist.load_data(nb_rbm=...)``: the lower RBMs' workspaces).
        workspace: the workspace this data set belongs to.
    """

    kind = "data"

    def __init__(self, load="recordinput", phase="train", conf=None, x=None, y=None,
                 batch_size=None, mean=0.0, std=1.0, shape=None, checkpoint=None,
                 workspace=None, name=None, seed=0, **fields):
        super(Data, self).__init__(name)
        self.load = str(load).lower()
        phase = str(phase).lower()
        self.phase = {"val": "validation", "valid": "validation"}.get(phase, phase)
        if self.phase not in ("train", "validation", "test"):
            raise ValueError("Data: phase must be 'train', 'val' or 'test', got {!r}".format(
                phase))
        self.conf = conf
        self.x, self.y = x, None if y is None else np.asarray(y).reshape(-1).astype(np.int32)
        if self.load in ("memory", "array", "numpy"):
            if x is None:
                raise ValueError("Data(load='memory') needs x")
            if self.y is not None and len(self.y) != len(x):
                raise ValueError("Data: {} samples but {} labels".format(len(x), len(self.y)))
        elif self.load in ("recordinput", "kvfile", "shards", "shard", "textfile"):
            if not isinstance(conf, Store):
                raise ValueError("Data(load={!r}) needs conf=Store(path=...)".format(load))
        else:
            raise ValueError("Data: unknown load type {!r}".format(load))
        self.batch_size = int(batch_size or (conf.batch_size if isinstance(conf, Store)
                                             else 64))
        self.mean, self.std = mean, float(std)
        self.shape = shape
        self.checkpoint = checkpoint
        self.workspace = workspace
        self.seed = int(seed)
        self.fields = dict(fields)

    @property
    def from_store(self):
        return self.load not in ("memory", "array", "numpy")

    def num_samples(self):
        if not self.from_store:
            return len(self.x)
        from ..data import load_index
        return int(load_index(self.conf.shard_dir)["num_samples"])

    def _post(self, xb, shape):
        if shape is not None:
            shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
            xb = xb.reshape((len(xb),) + shape)
        return np.ascontiguousarray(xb, dtype=np.float32)

    def batches(self, batch_size=None, shuffle=None, seed=None):
        """An endless iterator of (x float32 (B, ...), y int32 (B,)) mini-batches,
        passing over the data again and again (shuffled per pass when training)."""
        bs = int(batch_size or self.batch_size)
        train = self.phase == "train"
        shuffle = train if shuffle is None else bool(shuffle)
        seed = self.seed if seed is None else int(seed)
        if self.from_store:
            return self._store_batches(bs, shuffle, seed)
        return self._memory_batches(bs, shuffle, seed)

    def _memory_batches(self, bs, shuffle, seed):
        n = len(self.x)
        if n < 1:
            raise ValueError("Data: no samples")
        rng = np.random.RandomState(seed)
        mean = self.mean if np.isscalar(self.mean) else np.asarray(self.mean, np.float32)
        y_all = self.y if self.y is not None else np.zeros(n, np.int32)
        while True:
            order = rng.permutation(n) if shuffle else np.arange(n)
            # whole batches only; the tail joins the next pass's order
            for s in range(0, n - bs + 1 if n >= bs else 1, bs):
                idx = order[s:s + bs]
                xb = (self.x[idx].astype(np.float32) - mean) / self.std
                yield self._post(xb, self.shape), y_all[idx]

    def _store_batches(self, bs, shuffle, seed):
        from ..data import ShardLoader
        st = self.conf
        loader = ShardLoader(st.shard_dir, bs, shuffle=shuffle and st.shuffle, seed=seed,
                             crop=None, flip=False, mean_subtract=st.mean_subtract, workers=0,
                             drop_last=True, train=self.phase == "train")
        if len(loader) < 1:
            raise ValueError("Data: the shards at {} hold fewer than {} samples".format(
                st.shard_dir, bs))
        shape = self.shape if self.shape is not None else st.shape
        while True:
            for xb, yb in loader:
                xb = (xb - st.mean_value) / st.std_value
                yield self._post(xb, shape), np.asarray(yb, np.int32)

    def __repr__(self):
        return "Data(load={!r}, phase={!r})".format(self.load, self.phase)
