"""The communicator: MPI collectives (through mpi4py) with a deadline on every wait.

mpi4py is imported when the first communicator is made, never by ``import singa``.
Every collective is started non-blocking and completed by :meth:`Communicator.wait`,
which polls until the request completes or ``timeout`` seconds pass. Polling is also
what moves MPI's progress engine (MPICH has no progress thread by default), so a
training loop that calls :meth:`Communicator.progress` between gradients overlaps
communication with backward.

When a wait times out, this rank asks every other rank, on a separate communicator,
which collective it is waiting in; ranks blocked in a wait answer at once, so those that
do not answer (or answer with another collective) are the ones that did not arrive. The
error names the collective, the optimizer step and those ranks. An uncaught exception on
any rank aborts the whole job (MPI_Abort), so one failing rank never leaves the others
hanging.
"""

import atexit
import os
import sys
import threading
import time

import numpy as np

from .. import config
from ..tensor_interop import from_dlpack

__all__ = ["Communicator", "DistTimeoutError", "get_communicator"]

_PROBE_TAG, _REPLY_TAG = 101, 102
# How long a rank that timed out keeps listening for the other ranks' answers: a rank
# blocked in a wait answers within one poll, so this only has to cover the network.
_PROBE_GRACE_S = 2.0
_OUTPUT_GRACE_S = 0.2
# How long a wait polls without sleeping. Each poll is also what moves MPI's transfers
# along, so sleeping between polls (even 1 ms) delays every collective that completes
# while asleep and stretches a large one over many sleeps; polling costs nothing when
# the ranks have a core each, and the yield hands the core over when they share. Past
# this, a wait (a late or hung rank) sleeps between polls instead of burning a core.
_SPIN_S = 0.05
# How many bytes of all-reduces are in flight at once. MPICH 5's shared-memory all-reduce
# of 2 ranks runs at 4.7-5.9 GB/s on messages up to 16 MB and at 1.7 GB/s from 32 MB on;
# many pieces in flight together are as slow as one large message (measured on a 2-core
# Xeon VM, 64 MB: whole 39 ms, as 4 MB pieces all started at once 37 ms, one after the
# other 19 ms). So a large array goes out as consecutive pieces of its own memory, and
# the next all-reduce starts when those in flight add up to less than this.
_IN_FLIGHT_BYTES = 4 << 20
_yield_core = getattr(os, "sched_yield", lambda: time.sleep(0))


class DistTimeoutError(RuntimeError):
    """A collective did not complete within the communicator's timeout.

    Attributes:
        collective: the collective's name (``all_reduce``, ``broadcast``, ...).
        step: the optimizer step it belonged to (None outside training steps).
        missing: the ranks that did not arrive, sorted.
    """

    def __init__(self, message, collective, step, missing):
        super(DistTimeoutError, self).__init__(message)
        self.collective, self.step, self.missing = collective, step, list(missing)


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError("singa.dist needs mpi4py and an MPI library: pip install "
                          "'singa[mpi]' (mpi4py and the mpich wheel), then launch with "
                          "`mpiexec -n N python script.py` ({})".format(e)) from None
    return MPI


class _Pending(object):
    """One all-reduce or other collective: its request (None while it waits its turn
    to start), the piece of memory it sums, its name and what to run once it is done."""

    __slots__ = ("request", "piece", "nbytes", "name", "seq", "on_done")

    def __init__(self, request, name, seq, on_done=None, piece=None):
        self.request, self.piece, self.name, self.seq = request, piece, name, seq
        self.nbytes = _nbytes(piece) if piece is not None else 0
        self.on_done = on_done


class Communicator(object):
    """The ranks of an MPI job and the collectives DistOpt and singa.dist use.

    Args:
        timeout: seconds a wait may take before it raises DistTimeoutError; None reads
            ``SINGA_DIST_TIMEOUT`` (default 300).
        comm: the mpi4py communicator to duplicate (default ``MPI.COMM_WORLD``).

    Attributes:
        global_rank, world_size: this process's rank and the number of ranks.
        local_rank, local_size: the same among the ranks on this machine.
        step: the optimizer step that errors report (DistOpt keeps it current).
        bytes_sent: payload bytes this rank has handed to collectives (per-rank
            traffic of the gradient paths, for comparing wire formats).
    """

    def __init__(self, timeout=None, comm=None):
        MPI = _import_mpi()
        self.MPI = MPI
        self.timeout = config.dist_timeout() if timeout is None else float(timeout)
        if not self.timeout > 0:
            raise ValueError("Communicator: timeout must be a positive number of seconds, "
                             "got {!r}".format(timeout))
        base = MPI.COMM_WORLD if comm is None else comm
        # own copies, so neither our traffic nor our probes mix with the user's
        self.comm = base.Dup()
        self._control = base.Dup()
        self.global_rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.global_rank)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.step = None
        self.bytes_sent = 0
        self._seq = 0                 # collectives started on this communicator
        self._waiting_for = None      # (seq, name) of the collective a wait is in
        self._pending = []
        self._float16_op = None       # the MPI op that sums float16 (made on first use)
        _abort_on_uncaught_exception(base)

    # ---- starting collectives (non-blocking) ----
    def _next(self, name):
        del name  # every collective counts, whatever its kind
        self._seq += 1
        return self._seq

    def start_all_reduce(self, array, on_done=None, name="all_reduce"):
        """Starts an in-place sum of ``array`` (a contiguous NumPy array or a core
        tensor on the host) over the ranks; :meth:`wait` completes it and then calls
        ``on_done()``. An array over 4 MB is summed as consecutive pieces of it, each an
        all-reduce of its own (its own collective in error reports), started one after
        another as :meth:`progress` and :meth:`wait` find the ones before done."""
        self.bytes_sent += _nbytes(array)
        pieces = _pieces(array)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            self._pending.append(_Pending(None, name, self._next(name),
                                          on_done if last else None, piece))
        self._start_queued()

    def _start_queued(self):
        """Starts queued all-reduces, in order, while those in flight hold less than
        _IN_FLIGHT_BYTES (the first always starts)."""
        in_flight = 0
        for entry in self._pending:
            if entry.request is None:
                if in_flight and in_flight + entry.nbytes > _IN_FLIGHT_BYTES:
                    return
                buffer, op = self._summed(entry.piece)
                entry.request = self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, **op)
            in_flight += entry.nbytes

    def _summed(self, array):
        """(buffer, keyword arguments) of MPI's sum of ``array``: MPI's own op, but for
        float16 _float16_sum (MPICH's own float16 sum is about 10x slower per element
        than its float32 one: 1 M elements took 10.8 ms on 2 ranks, 2.0 ms this way)."""
        if isinstance(array, np.ndarray) and array.dtype == np.float16:
            if self._float16_op is None:
                self._float16_op = self.MPI.Op.Create(_float16_sum, commute=True)
            return [array, self.MPI.UINT16_T], {"op": self._float16_op}
        return array, {"op": self.MPI.SUM}

    def _finish_first(self):
        done = self._pending.pop(0)
        self._start_queued()
        if done.on_done is not None:
            done.on_done()

    def progress(self):
        """Lets MPI move the started collectives along (call it between computations);
        finishes those that are done, in order, and starts those whose turn came."""
        while self._pending and self._pending[0].request.Test():
            self._finish_first()

    def wait(self):
        """Completes every started collective, in the order they were started."""
        while self._pending:
            first = self._pending[0]
            self._wait_request(first.request, first.name, first.seq)
            self._finish_first()

    # ---- blocking collectives ----
    def all_reduce(self, array, name="all_reduce"):
        """Sums ``array`` over the ranks, in place, and returns when it is done."""
        self.wait()
        self.start_all_reduce(array, name=name)
        self.wait()

    def broadcast(self, array, root=0, name="broadcast"):
        """Overwrites ``array`` with rank ``root``'s, in place."""
        self.wait()
        seq = self._next(name)
        if self.global_rank == root:
            self.bytes_sent += _nbytes(array)
        self._wait_request(self.comm.Ibcast(array, root=root), name, seq)

    def barrier(self, name="barrier"):
        """Returns once every rank has called it."""
        self.wait()
        seq = self._next(name)
        self._wait_request(self.comm.Ibarrier(), name, seq)

    def all_gather_varying(self, array, name="all_gather"):
        """Every rank's 1-D ``array`` (lengths may differ), as a list in rank order."""
        self.wait()
        counts = np.zeros(self.world_size, np.int64)
        mine = np.array([array.size], np.int64)
        seq = self._next(name)
        self._wait_request(self.comm.Iallgather(mine, counts), name, seq)
        out = np.empty(int(counts.sum()), array.dtype)
        seq = self._next(name)
        self.bytes_sent += _nbytes(array)
        request = self.comm.Iallgatherv(np.ascontiguousarray(array),
                                        [out, counts.tolist()])
        self._wait_request(request, name, seq)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return [out[bounds[r]:bounds[r + 1]] for r in range(self.world_size)]

    # ---- waiting with a deadline ----
    def _wait_request(self, request, name, seq):
        deadline = time.monotonic() + self.timeout
        self._waiting_for = (seq, name)
        try:
            spin_until = time.monotonic() + _SPIN_S
            pause = 0.0
            while not request.Test():
                self._answer_probes()
                now = time.monotonic()
                if now > deadline:
                    missing = self._who_is_missing(request, seq)
                    if missing is None:
                        return  # it completed while the others were asked
                    self._raise_timeout(name, seq, missing)
                if now < spin_until:
                    _yield_core()
                else:
                    time.sleep(pause)
                    pause = min(1e-3, pause * 2 or 1e-5)
        finally:
            self._waiting_for = None

    def _answer_probes(self):
        status = self.MPI.Status()
        while self._control.Iprobe(source=self.MPI.ANY_SOURCE, tag=_PROBE_TAG, status=status):
            source = status.Get_source()
            self._control.recv(source=source, tag=_PROBE_TAG)
            waiting = self._waiting_for[0] if self._waiting_for else -1
            self._control.isend(waiting, dest=source, tag=_REPLY_TAG)

    def _who_is_missing(self, request, seq):
        """The ranks that are not waiting in collective ``seq``, or None when the
        collective completed meanwhile."""
        others = [r for r in range(self.world_size) if r != self.global_rank]
        for r in others:
            self._control.isend(seq, dest=r, tag=_PROBE_TAG)
        answers = {}
        deadline = time.monotonic() + min(_PROBE_GRACE_S, self.timeout)
        status = self.MPI.Status()
        while len(answers) < len(others) and time.monotonic() < deadline:
            if request.Test():
                return None
            self._answer_probes()
            while self._control.Iprobe(source=self.MPI.ANY_SOURCE, tag=_REPLY_TAG,
                                       status=status):
                source = status.Get_source()
                answers[source] = self._control.recv(source=source, tag=_REPLY_TAG)
            time.sleep(1e-3)
        return sorted(r for r in others if answers.get(r) != seq)

    def _raise_timeout(self, name, seq, missing):
        global _timed_out
        _timed_out = True  # even if the caller catches it, the job ends at exit
        step = "step {}".format(self.step) if self.step is not None else "outside a step"
        raise DistTimeoutError(
            "singa.dist: {} (collective #{}, {}) on rank {} of {} timed out after {:g} s: "
            "rank(s) {} did not arrive (hung, or running a different number of steps); "
            "set the timeout with DistOpt(timeout=...) or SINGA_DIST_TIMEOUT".format(
                name, seq, step, self.global_rank, self.world_size, self.timeout,
                ", ".join(str(r) for r in missing) or "none (all are waiting, in another "
                "collective)"), name, self.step, missing)


def _float16_sum(inbuf, inoutbuf, datatype):
    """MPI reduction op: inoutbuf += inbuf, both float16 (sent as 16-bit words), added by
    singa's kernel in float32 and rounded back."""
    del datatype
    total = from_dlpack(np.frombuffer(inoutbuf, np.float16), copy=False)
    total += from_dlpack(np.frombuffer(inbuf, np.float16), copy=False)


def _pieces(array):
    """``array`` as consecutive flat views of at most _IN_FLIGHT_BYTES each (itself
    when it is that small, or not a NumPy array: a core tensor goes whole)."""
    if not isinstance(array, np.ndarray) or array.nbytes <= _IN_FLIGHT_BYTES or \
            not array.flags.c_contiguous:
        return [array]
    flat = array.reshape(-1)  # a view, since the array is contiguous
    step = max(1, _IN_FLIGHT_BYTES // flat.itemsize)
    return [flat[i:i + step] for i in range(0, flat.size, step)]


def _nbytes(array):
    if isinstance(array, np.ndarray):
        return array.nbytes
    return memoryview(array).nbytes


_hook_lock = threading.Lock()
_hook_installed = False
_timed_out = False  # a collective of this process timed out


def _abort_on_uncaught_exception(comm):
    """Makes an uncaught exception on this rank, or an exit after a timed-out
    collective, end the whole job: MPI_Finalize at exit would otherwise wait for ranks
    that wait for this one (or that hang)."""
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        _hook_installed = True
    previous = sys.excepthook

    def abort_after_timeout():
        if _timed_out:
            _abort(comm)
    # atexit runs before mpi4py's MPI_Finalize, which is registered at the C level
    atexit.register(abort_after_timeout)

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if issubclass(kind, (KeyboardInterrupt, SystemExit)):
            return
        _abort(comm)
    sys.excepthook = hook


def _abort(comm):
    sys.stdout.flush()
    sys.stderr.flush()
    # a moment for the launcher to forward what was just printed (the error): MPI_Abort
    # has it tear down the job's output pipes with the processes
    time.sleep(_OUTPUT_GRACE_S)
    comm.Abort(1)


_shared = None


def get_communicator(timeout=None):
    """The communicator of this process, made on first use (``timeout`` applies then).
    DistOpt, ``broadcast`` and ``barrier`` share it."""
    global _shared
    if _shared is None:
        _shared = Communicator(timeout)
    return _shared
