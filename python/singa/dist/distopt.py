"""DistOpt: SINGA's data-parallel optimizer wrapper, with MPI or NCCL moving the gradients.

Every rank runs the same model on its own shard of the batch. ``backward_and_update``
sums each gradient over the ranks while backward still runs: gradients no larger than
``threshold`` elements are fused into flat buffers of at most ``threshold`` elements
(a bucket goes out when the next gradient would take it past that), larger ones are
summed in their own memory (no copy), and each bucket is started as a non-blocking
all-reduce the moment its last gradient is final
(``autograd.backward`` yields each one as soon as it is). Between gradients the
communicator is polled, which is what moves MPI's transfers along. The updates use the
average over the ranks: ``backward_and_update`` starts backward from 1 / world_size, so
its sums arrive averaged; the other paths divide the sums.

Every rank starts the same collectives in the same order on buffers of the same layout,
and MPI's reduction of a given layout on a given number of ranks is deterministic, so
the ranks stay bit-identical; the first update of each parameter takes rank 0's value,
so they also start that way.

The transport is chosen when the first tensor reaches the wire: NCCL when it lives on a
CUDA GPU and this singa has NCCL (``nccl_comm.py``; untested on GPUs so far), MPI for
host tensors; ``backend="mpi"`` or ``"nccl"`` forces one. MPI launches and bootstraps
the job either way. Over NCCL the buffers are tensors on the GPU (``buffers.py``) and
every copy and collective is queued on its stream; every rank must choose the same
transport, which is checked once.

Variants, with SINGA's semantics: ``_half`` sends float16 (half the bytes),
``backward_and_partial_update`` updates locally and averages one chunk of parameters
per step, round robin, and ``backward_and_sparse_update`` sends only the largest
gradient entries (a fraction ``spars`` of them, ``topK``) or those with ``|g| >= spars``,
keeping what was not sent as a residual for the next step when ``corr``.

Graph mode (``Model.compile(use_graph=True)``): while a step is recorded, each bucket's
communication and the final wait are recorded as callbacks between the backward kernels
(and run once then), and each update through graph mode's stand-in, so a replay
overlaps and updates exactly as an eager step does. The partial update changes
parameters outside the optimizer's updates and runs with graph mode off (graph mode
warns and runs it eagerly), as SINGA documents.
"""

import numpy as np

from .. import autograd
from .. import graph as graph_mod
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..opt import SGD, Optimizer
from ..tensor import Tensor
from . import nccl_comm
from .buffers import DeviceBuffers, HostBuffers, write_values
from .comm import get_communicator
from .threads import default_threads_per_rank

__all__ = ["DistOpt"]

_DEFAULT_THRESHOLD = 2097152


def _core(t):
    return t.data if isinstance(t, Tensor) else t


def _overflows(size, threshold, buff_size):
    """Whether a bucket of ``size`` elements is over the limits: a bucket is sent before
    the gradient that would take it past ``threshold`` (or the buffer size) joins it, so
    the gradients before it start their all-reduce while backward computes that one."""
    return size > threshold or size > buff_size


class DistOpt(Optimizer):
    """Wraps an optimizer for data-parallel training over MPI ranks.

    Args:
        opt: the optimizer that updates the parameters (SINGA's default: ``SGD()``).
        nccl_id: SINGA's NCCL id for jobs started without MPI; every job here is launched
            by MPI (which also hands NCCL its id when NCCL carries the gradients), so it
            must be None.
        local_rank, world_size: checked against the launched job when given (MPI
            knows both).
        buffSize: the largest fused buffer, in elements (SINGA's unit); a bucket is sent
            before it would outgrow it.
        timeout: seconds a collective waits for the other ranks before raising
            ``singa.dist.DistTimeoutError``; None reads ``SINGA_DIST_TIMEOUT`` (300).
        backend: the gradients' transport: None picks NCCL when the parameters are on a
            CUDA GPU and this singa has NCCL, else MPI; ``"mpi"`` or ``"nccl"`` forces
            one (``"nccl"`` raises at once where the build has no NCCL). The NCCL path has
            not yet run on GPUs.

    Attributes:
        global_rank, local_rank, world_size: this process's place in the job.
        communicator: the :class:`singa.dist.Communicator` of MPI (its presence is how
            SINGA's scripts tell a distributed optimizer); it carries the gradients too
            unless NCCL does.
        backend: ``"mpi"`` or ``"nccl"`` once the first tensor has chosen, else what was
            asked for (None: not chosen yet).
        opt: the wrapped optimizer.
    """

    # graph mode lets this class drive backward itself while a step is recorded
    records_graph_steps = True

    def __init__(self, opt=None, nccl_id=None, local_rank=None, world_size=None,
                 buffSize=4194304, timeout=None, backend=None):
        if opt is None:
            opt = SGD()
        if not isinstance(opt, Optimizer) or isinstance(opt, DistOpt):
            raise TypeError("DistOpt: opt must be an optimizer of singa.opt (not a DistOpt), "
                            "got {!r}".format(opt))
        if nccl_id is not None:
            raise ValueError("DistOpt: nccl_id is for SINGA's jobs started without MPI; here MPI "
                             "launches every job (and hands NCCL its id when the gradients go "
                             "by NCCL): launch the ranks with `mpiexec -n N python script.py` "
                             "and leave nccl_id None")
        if isinstance(buffSize, bool) or not isinstance(buffSize, int) or buffSize < 1:
            raise ValueError("DistOpt: buffSize must be a positive number of elements, got "
                             "{!r}".format(buffSize))
        if backend is not None and backend not in nccl_comm.BACKENDS:
            raise ValueError("DistOpt: backend must be None (automatic), 'mpi' or 'nccl', got "
                             "{!r}".format(backend))
        if backend == "nccl":
            ok, why = nccl_comm.nccl_available()
            if not ok:
                raise RuntimeError("DistOpt(backend='nccl'): " + why + "; or use backend='mpi'")
        self.opt = opt
        self.communicator = get_communicator(timeout)
        if timeout is not None:
            self.communicator.timeout = float(timeout)
        comm = self.communicator
        self.global_rank, self.world_size = comm.global_rank, comm.world_size
        self.local_rank = comm.local_rank
        for name, given, actual in (("local_rank", local_rank, comm.local_rank),
                                    ("world_size", world_size, comm.world_size)):
            if given is not None and given != actual:
                raise ValueError("DistOpt: {}={} was given, but the launched job has {}={}"
                                 .format(name, given, name, actual))
        self.buffSize = buffSize
        self.partial = 0
        self._staged = []        # core tensors fused_all_reduce(send=False) staged
        self._buffers = {}       # bucket key -> NumPy fusion buffer
        self._residuals = {}     # bucket key -> NumPy residual of the sparse paths
        self._synced = set()     # parameters already taken from rank 0
        self._bucket_no = 0
        self._averaged = False   # True while _finish updates from averaged gradients
        self.backend = backend
        self._wire = None        # the communicator the gradients travel by, once chosen
        self._bufs = None        # HostBuffers or DeviceBuffers, with it
        default_threads_per_rank(comm.local_size)

    # ---- the wrapped optimizer's clock and state ----
    @property
    def step_counter(self):
        return self.opt.step_counter

    @step_counter.setter
    def step_counter(self, value):
        self.opt.step_counter = value

    @property
    def lr_value(self):
        return self.opt.lr_value

    @property
    def lr(self):
        return self.opt.lr

    @property
    def dtype(self):
        return self.opt.dtype

    @dtype.setter
    def dtype(self, value):
        self.opt.dtype = value

    @property
    def epoch(self):
        return self.opt.epoch

    @epoch.setter
    def epoch(self, value):
        self.opt.epoch = value

    def step(self):
        self.opt.step()

    def value(self, sched):
        return self.opt.value(sched)

    def get_states(self, names=None):
        return self.opt.get_states(names)

    def set_states(self, states, params=None):
        self.opt.set_states(states, params)

    def set_param_config(self, param, lr_mult=None, wd_mult=None):
        self.opt.set_param_config(param, lr_mult, wd_mult)

    def param_config(self, param):
        return self.opt.param_config(param)

    # ---- the transport ----
    def _transport(self, core):
        """(communicator, buffers) for the gradients, chosen by the first tensor."""
        if self._wire is None:
            choice = nccl_comm.choose_backend(self.backend, core)
            self._agree(choice)
            if choice == "nccl":
                device = core.device()
                self._wire = nccl_comm.NcclCommunicator(self.communicator, device)
                self._bufs = DeviceBuffers(device)
            else:
                self._wire, self._bufs = self.communicator, HostBuffers
            self.backend = choice
        return self._wire, self._bufs

    def _agree(self, choice):
        """Every rank must send by the same transport: a mix would hang."""
        if self.world_size == 1:
            return
        comm = self.communicator
        mine = np.array([nccl_comm.BACKENDS.index(choice)], np.int32)
        counted = comm.bytes_sent  # bookkeeping, not gradient traffic
        chosen = comm.all_gather_varying(mine, name="DistOpt's transport choice")
        comm.bytes_sent = counted
        names = [nccl_comm.BACKENDS[int(c[0])] for c in chosen]
        if len(set(names)) > 1:
            raise RuntimeError("DistOpt: the ranks chose different transports ({}): NCCL needs "
                               "every rank's parameters on a CUDA GPU; pass the same backend= "
                               "on every rank".format(", ".join(
                                   "rank {}: {}".format(r, n) for r, n in enumerate(names))))

    # ---- SINGA's update: the gradient holds the sum over ranks ----
    # The dense steps seed backward with 1 / world_size, so their sums arrive averaged
    # (no pass over every gradient to divide it); their updates run with _averaged set.
    def update(self, param, grad):
        """Updates ``param`` from ``grad``, the sum of the ranks' gradients (averaged here)."""
        self._take_rank0(param)
        if not self._averaged:
            _core(grad).__itruediv__(float(self.world_size))
        self.opt.update(param, grad)

    def apply(self, param_name, param_value, param_grad):
        self._take_rank0(param_value)
        if not self._averaged:
            _core(param_grad).__itruediv__(float(self.world_size))
        self.opt.apply(param_name, param_value, param_grad)

    def bind_update(self, param):
        inner = self.opt.bind_update(param)
        if self._averaged or self.world_size == 1:
            return inner
        ranks = float(self.world_size)

        def averaged_update(g):
            g /= ranks
            inner(g)
        return averaged_update

    def _take_rank0(self, param):
        """The first time a parameter is seen, every rank takes rank 0's value."""
        if param in self._synced or self.world_size == 1:
            self._synced.add(param)
            return
        self._synced.add(param)
        core = param.data
        wire, bufs = self._transport(core)
        name = "broadcast of the initial parameters"
        view = bufs.sendable(core)
        if view is not None:
            wire.broadcast(view, name=name)
        else:
            values, write_back = bufs.copy_for_wire(core)
            wire.broadcast(values, name=name)
            write_back()

    # ---- collectives on tensors (SINGA's names) ----
    def all_reduce(self, tensor):
        """Sums ``tensor`` (a Tensor or core tensor) over the ranks, in place; it holds
        the sum on return (``wait`` is then a no-op for it)."""
        core = _core(tensor)
        self.communicator.step = self.opt._step
        wire, bufs = self._transport(core)
        view = bufs.sendable(core)
        if view is not None:
            wire.all_reduce(view)
        else:
            values, write_back = bufs.copy_for_wire(core)
            wire.all_reduce(values)
            write_back()

    def all_reduce_half(self, tensor):
        """Sums ``tensor`` over the ranks in place, sending float16."""
        self._start_fused([_core(tensor)], half=True, key=None)
        self.wait()

    def fused_all_reduce(self, tensor, send=True):
        """Sums a list of tensors over the ranks through one fused buffer. ``send=False``
        only stages them; the next call with ``send=True`` sends the staged tensors and
        its own, and ``wait()`` writes the sums back."""
        self._fused(tensor, send, half=False)

    def fused_all_reduce_half(self, tensor, send=True):
        """``fused_all_reduce`` with float16 on the wire."""
        self._fused(tensor, send, half=True)

    def _fused(self, tensors, send, half):
        cores = [_core(t) for t in tensors]
        for c in cores:
            if not any(c is s for s in self._staged):
                self._staged.append(c)
        if send:
            staged, self._staged = self._staged, []
            if staged:
                self._start_fused(staged, half, key=None)

    def sparsification(self, tensor, accumulation, spars, topK):
        """Sums ``tensor`` over the ranks in place, each rank sending only its largest
        entries (``topK``: a fraction ``spars`` of them) or those with ``|x| >= spars``.
        ``accumulation`` (a flat Tensor of the same size, or None) is the residual: the
        entries are picked from tensor + accumulation, and what is not sent stays in it."""
        self._sparse([_core(tensor)], accumulation, spars, topK)

    def fused_sparsification(self, tensor, accumulation, spars, topK):
        """``sparsification`` of a list of tensors, fused into one vector."""
        self._sparse([_core(t) for t in tensor], accumulation, spars, topK)

    def wait(self):
        """Completes every started collective and writes the sums back."""
        self.communicator.wait()
        if self._wire is not None and self._wire is not self.communicator:
            self._wire.wait()

    # ---- training steps ----
    def __call__(self, loss):
        self.backward_and_update(loss)

    def call(self, loss):
        """``backward_and_update`` without advancing the step (call ``step()`` after)."""
        self._dense_step(loss, _DEFAULT_THRESHOLD, half=False, clip_value=None,
                         advance=False)

    def backward_and_update(self, loss, threshold=_DEFAULT_THRESHOLD):
        """Back-propagates ``loss``, sums the gradients over the ranks (fused in buckets
        of more than ``threshold`` elements, sent while backward runs), updates every
        parameter with the average, and advances the step."""
        self._dense_step(loss, threshold, half=False, clip_value=None)

    def backward_and_update_half(self, loss, threshold=_DEFAULT_THRESHOLD, clipping=False,
                                 clip_Value=100):
        """``backward_and_update`` with float16 on the wire; ``clipping`` first clips each
        gradient to [-clip_Value, clip_Value] (float16 overflows past 65504)."""
        self._dense_step(loss, threshold, half=True,
                         clip_value=float(clip_Value) if clipping else None)

    def backward_and_sparse_update(self, loss, threshold=_DEFAULT_THRESHOLD, spars=0.05,
                                   topK=False, corr=True):
        """Back-propagates and updates, each rank sending only its significant gradient
        entries (see ``sparsification``); ``corr`` keeps the unsent rest as a residual
        added to the next step's gradients."""
        _check_threshold(threshold)
        _check_spars(spars, topK)
        self._begin_step()
        recorder = graph_mod.recording_for(self)
        plist, pending, size = [], [], 0
        for p, g in autograd.backward(loss):
            plist.append((p, g))
            if g.size() > threshold:
                self._sparse_bucket([g.data], spars, topK, corr, recorder)
            else:
                if pending and _overflows(size + g.size(), threshold, self.buffSize):
                    self._sparse_bucket(pending, spars, topK, corr, recorder)
                    pending, size = [], 0
                pending.append(g.data)
                size += g.size()
        if pending:
            self._sparse_bucket(pending, spars, topK, corr, recorder)
        self._finish(plist, recorder)

    def backward_and_partial_update(self, loss, threshold=_DEFAULT_THRESHOLD):
        """Updates every parameter from its local gradient, then averages one chunk of
        the parameters over the ranks (chunks of more than ``threshold`` elements, or one
        large parameter); the chunk advances each step, round robin (``self.partial``)."""
        _check_threshold(threshold)
        recorder = graph_mod.recording_for(self)
        if recorder is not None:
            recorder.run_eagerly("DistOpt.backward_and_partial_update averages parameters "
                                 "outside the optimizer's updates; it runs with graph mode "
                                 "off (as in SINGA: compile with use_graph=False)")
        self._begin_step()
        self.partial += 1
        chunk, chosen, pending, size = 0, [], [], 0
        for p, g in autograd.backward(loss):
            self._take_rank0(p)
            self.opt.update(p, g)
            if p.size() > threshold:
                chunk += 1
                if chunk == self.partial:
                    chosen = [p.data]
            else:
                pending.append(p.data)
                size += p.size()
                if size > threshold:
                    chunk += 1
                    if chunk == self.partial:
                        chosen = pending
                    pending, size = [], 0
        if pending:
            chunk += 1
            if chunk == self.partial:
                chosen = pending
        if chosen:
            self._start_fused(chosen, half=False, key=("partial", self.partial),
                              scale=1.0 / self.world_size)
        self.wait()
        if chunk <= self.partial:
            self.partial = 0  # every chunk had its turn
        self.opt.step()

    # ---- the shared machinery ----
    def _begin_step(self):
        self._bucket_no = 0
        self.communicator.step = self.opt._step

    def _dense_step(self, loss, threshold, half, clip_value, advance=True):
        _check_threshold(threshold)
        self._begin_step()
        recorder = graph_mod.recording_for(self)
        plist, pending, size = [], [], 0
        # float16 on the wire keeps the gradients' own scale: divided first, small
        # ones would fall into float16's subnormals
        seed = None if half else self._average_seed(loss)
        for p, g in autograd.backward(loss, dy=seed):
            if half and p.dtype != tensor_mod.float32:
                raise TypeError("DistOpt.backward_and_update_half: parameter {!r} of shape {} "
                                "is not float32; the half path converts float32 gradients "
                                "to float16 for the wire".format(p.name, p.shape))
            if clip_value is not None:
                g = autograd.clip(g, -clip_value, clip_value)
            plist.append((p, g))
            wire, _ = self._transport(g.data)
            if g.size() > threshold:
                self._bucket([g.data], half, recorder)
            else:
                if pending and (pending[0].data_type() != g.data.data_type() or
                                _overflows(size + g.size(), threshold, self.buffSize)):
                    self._bucket(pending, half, recorder)  # one dtype per buffer
                    pending, size = [], 0
                pending.append(g.data)
                size += g.size()
            # outside the recording: a bucket it completes writes its sums back through
            # views of NumPy memory, which graph mode would not replay
            _run(recorder, wire.progress, [], None)
        if pending:
            self._bucket(pending, half, recorder)
        self._finish(plist, recorder, advance, averaged=seed is not None)

    def _average_seed(self, loss):
        """The gradient backward starts from so that every gradient, and so every sum
        over the ranks, comes out divided by the number of ranks: 1 / world_size in the
        shape of the scalar ``loss``. None with one rank, or for a loss backward rejects
        (it raises then)."""
        if self.world_size == 1 or not isinstance(loss, Tensor) or loss.size() != 1:
            return None
        dy = singa.Tensor(list(loss.shape), loss.device, loss.dtype)
        dy.SetValue(1.0 / self.world_size)
        return dy

    def _next_key(self):
        self._bucket_no += 1
        return self._bucket_no

    def _bucket(self, cores, half, recorder):
        key = self._next_key()

        def start(*tensors):
            self._start_fused(list(tensors), half, key)
        _run(recorder, start, cores, "DistOpt.all_reduce")

    def _sparse_bucket(self, cores, spars, topK, corr, recorder):
        key = self._next_key()

        def reduce(*tensors):
            residual = None
            if corr:
                n = sum(t.Size() for t in tensors)
                residual = self._residuals.get(key)
                if residual is None or residual.size != n:
                    residual = self._residuals[key] = np.zeros(n, np.float32)
            self._sparse(list(tensors), residual, spars, topK)
        _run(recorder, reduce, cores, "DistOpt.sparsification")

    def _finish(self, plist, recorder, advance=True, averaged=False):
        grads = [g.data for _, g in plist]
        _run(recorder, lambda *tensors: self.wait(), grads, "DistOpt.wait")
        target = self if recorder is None else recorder  # graph mode binds its updates
        self._averaged = averaged
        try:
            for p, g in plist:
                target.update(p, g)
        finally:
            self._averaged = False
        if advance:
            target.step()

    def _start_fused(self, cores, half, key, scale=None):
        """Starts the sum of ``cores`` over the ranks: in their own memory when that is
        one contiguous tensor sent as it is, else through a fused buffer (float16 when
        ``half``); ``scale`` multiplies the sums as they are written back."""
        wire, bufs = self._transport(cores[0])
        if len(cores) == 1 and not half and scale is None:
            view = bufs.sendable(cores[0])
            if view is not None:
                wire.start_all_reduce(view)
                return
        n = sum(c.Size() for c in cores)
        buf = self._buffer(bufs, key, n, bufs.dtype(cores, half))
        bufs.pack(buf, cores)
        wire.start_all_reduce(buf, lambda: bufs.unpack(buf, cores, scale),
                              "fused all_reduce" + (" (float16)" if half else ""))

    def _buffer(self, bufs, key, n, dtype):
        if key is None:
            return bufs.new(n, dtype)  # a one-off (the public fused calls)
        buf = self._buffers.get(key)
        if buf is None or not bufs.matches(buf, n, dtype):
            buf = self._buffers[key] = bufs.new(n, dtype)
        return buf

    def _sparse(self, cores, residual, spars, topK):
        """Sums the sparsified vector of ``cores`` over the ranks and writes it back."""
        _check_spars(spars, topK)
        wire, _ = self._transport(cores[0])
        self.wait()
        values = np.concatenate([singa.to_numpy(c).reshape(-1).astype(np.float32)
                                 for c in cores])
        write_residual = None
        if residual is not None:
            if isinstance(residual, (Tensor, singa.Tensor)):
                acc_core = _core(residual)
                if acc_core.device().host_memory() and acc_core.IsContiguous() and \
                        acc_core.data_type() == tensor_mod.float32:
                    acc = np.asarray(acc_core).reshape(-1)  # updated in place
                else:
                    acc = np.asarray(singa.to_numpy(acc_core), np.float32).reshape(-1).copy()
                    write_residual = lambda: write_values(acc_core, acc)  # noqa: E731
            else:
                acc = residual
            if acc.size != values.size:
                raise ValueError("DistOpt.sparsification: the accumulation has {} elements, "
                                 "the gradients {}".format(acc.size, values.size))
            acc += values
            source = acc
        else:
            source = values
        magnitude = np.abs(source)
        if topK:
            k = min(source.size, max(1, int(round(spars * source.size))))
            index = np.argpartition(magnitude, source.size - k)[source.size - k:]
        else:
            index = np.flatnonzero(magnitude >= spars)
        index = np.sort(index).astype(np.int32)
        sent = source[index].astype(np.float32)
        if residual is not None:
            acc[index] = 0.0  # sent now; the rest waits for the next step
            if write_residual is not None:
                write_residual()
        indices = wire.all_gather_varying(index, name="sparse all_gather (indices)")
        sums = wire.all_gather_varying(sent, name="sparse all_gather (values)")
        total = np.zeros(source.size, np.float32)
        for idx, val in zip(indices, sums):  # rank order: the same sum on every rank
            total[idx] += val
        at = 0
        for c in cores:
            size = c.Size()
            write_values(c, total[at:at + size])
            at += size


def _run(recorder, fn, cores, label):
    """Runs ``fn(*cores)`` now; while graph mode records, it runs outside the recording
    and, when it has a ``label``, is recorded to run again at that point of every
    replay."""
    if recorder is None:
        fn(*cores)
        return
    singa.GraphPause(True)
    try:
        fn(*cores)
    finally:
        singa.GraphPause(False)
    if label is not None:
        singa.GraphCallback(fn, list(cores), label)


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError("DistOpt: threshold must be a number of elements >= 0, got {!r}"
                         .format(threshold))


def _check_spars(spars, topK):
    if isinstance(spars, bool) or not isinstance(spars, (int, float)) or not spars >= 0:
        raise ValueError("DistOpt: spars must be a number >= 0, got {!r}".format(spars))
    if topK and not 0 < spars <= 1:
        raise ValueError("DistOpt: with topK, spars is the fraction of entries sent and "
                         "must be in (0, 1], got {!r}".format(spars))
