"""Anomaly detection: every op's outputs and gradients checked for NaN and Inf.

Inside ``with autograd.detect_anomaly():`` (or in a process started with
``SINGA_DETECT_ANOMALY=1``) the engine checks the floating-point outputs of every
operation's forward and the gradients returned by every backward. The first NaN or Inf
raises :class:`AnomalyError`, naming the op, the layer it ran in (the stack of
``Layer.__call__`` calls around it), the shapes involved, the optimizer step when an
optimizer is on the call stack, and, for a gradient, the forward traceback of the op
that produced it, since the backward pass itself runs far from the user's code.

The switch has a process-wide default (``set_detect_anomaly``, from the environment at
import) and a per-thread override (``detect_anomaly``, a context manager and decorator
that nests), as autograd's grad mode does. While it is off everywhere, the engine and
``Layer.__call__`` pay one attribute test per call: the layer stack and the forward
tracebacks are kept only while it is on.

Graph-mode replays (``Model.graph``) run recorded kernels in C++ with no Python per
operation, so only eager steps are checked, the recording step included.
"""

import functools
import linecache
import os
import sys
import threading
import traceback

import numpy as np

from .. import config
from .. import singa_wrap as singa
from .mode import flag

__all__ = ["AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

# Innermost frames of the forward traceback in the message: the user's line is among the
# last few (below it are only singa's own op function and layer forwards).
_SHOWN_FRAMES = 12
_FLOAT_TYPES = frozenset((singa.kFloat32, singa.kFloat16, singa.kBFloat16, singa.kDouble))
# The engine's own frames are left out of forward tracebacks: they are the same for every op.
_PACKAGE = __name__.rsplit(".", 2)[0]  # "singa"
_ENGINE_FILE = os.path.join(os.path.dirname(__file__), "engine.py")


class AnomalyError(FloatingPointError):
    """A NaN or Inf in an op's output (forward) or gradient (backward).

    Attributes:
        op: the op's name (``Log#12``); ``op_type`` its class name.
        phase: ``"forward"`` or ``"backward"``.
        layers: labels of the layers the op ran in, outermost first (empty outside layers).
        shapes: ``{"inputs": [...], "outputs": [...]}`` in forward; in backward
            ``{"output gradients": [...], "input gradients": [...]}``.
        bad: ``(index, shape, nan count, inf count)`` of the first offending tensor.
        optimizer_step: ``(optimizer class name, step_counter)`` or None.
        forward_stack: a ``traceback.StackSummary`` of where the op was called in
            forward (None for a backward of an op whose forward ran with detection off).
    """

    def __init__(self, message, op=None, op_type=None, phase=None, layers=(), shapes=None,
                 bad=None, optimizer_step=None, forward_stack=None):
        super(AnomalyError, self).__init__(message)
        self.op = op
        self.op_type = op_type
        self.phase = phase
        self.layers = tuple(layers)
        self.shapes = shapes or {}
        self.bad = bad
        self.optimizer_step = optimizer_step
        self.forward_stack = forward_stack


# ---- the switch ----

class _Watch(object):
    # True while detection may be on in some thread (the default is on, or a thread
    # overrides it to on): the engine and Layer.__call__ test only this while it is False.
    any = False


class _ThreadState(threading.local):
    def __init__(self):
        self.override = None   # None: follow the process-wide default
        self.layers = []       # the Layer.__call__ calls in progress, outermost first


watch = _Watch()
_local = _ThreadState()
_default = [False]
_threads_on = [0]          # threads whose override is True
_lock = threading.Lock()


def _refresh_watch():
    watch.any = _default[0] or _threads_on[0] > 0


def _set_override(value):
    with _lock:
        old = _local.override
        _threads_on[0] += (value is True) - (old is True)
        _local.override = value
        _refresh_watch()


def is_anomaly_enabled():
    """Whether ops on the calling thread are checked for NaN and Inf."""
    value = _local.override
    return _default[0] if value is None else value


def set_detect_anomaly(mode):
    """Sets the process-wide default (every thread without a ``detect_anomaly`` block of
    its own follows it); the environment's ``SINGA_DETECT_ANOMALY`` sets it at import."""
    mode = flag("set_detect_anomaly", mode)
    with _lock:
        _default[0] = mode
        _refresh_watch()


class detect_anomaly(object):
    """Context manager and decorator: ops on the calling thread are checked for NaN and
    Inf inside (``mode=False``: not checked, e.g. a known-unstable part inside a
    checked block). Blocks nest; each restores what it found."""

    def __init__(self, mode=True):
        self._mode = flag("detect_anomaly", mode)
        self._saved = []

    def __enter__(self):
        self._saved.append(_local.override)
        _set_override(self._mode)
        return self

    def __exit__(self, *exc):
        _set_override(self._saved.pop())
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(mode):
                return fn(*args, **kwargs)
        return wrapper


# ---- the layer stack (pushed by Layer.__call__ while watch.any) ----

def push_layer(layer):
    """Enters ``layer`` on this thread's stack when detection is on here; returns whether
    it did (the caller pops only then)."""
    if not is_anomaly_enabled():
        return False
    _local.layers.append(layer)
    return True


def pop_layer():
    _local.layers.pop()


# ---- the checks (called by the engine while watch.any) ----

def _first_bad(tensors):
    """(index, tensor) of the first floating-point core tensor holding a NaN or Inf."""
    for i, t in enumerate(tensors):
        if t is None or not isinstance(t, singa.Tensor) or t.data_type() not in _FLOAT_TYPES:
            continue
        if not np.isfinite(singa.to_numpy(t)).all():
            return i, t
    return None


def _counts(t):
    values = singa.to_numpy(t)
    return int(np.isnan(values).sum()), int(np.isinf(values).sum())


def _shape_of(t):
    return tuple(t.shape()) if isinstance(t, singa.Tensor) else None


def _caller_frames():
    """(file, line, function) of the calling frames, innermost first, without the
    engine's own: plain tuples, so the op holds no frame (and none of its locals)."""
    out = []
    f = sys._getframe(2)
    while f is not None:
        code = f.f_code
        if code.co_filename != _ENGINE_FILE:
            out.append((code.co_filename, f.f_lineno, code.co_name))
        f = f.f_back
    return out


def _stack_summary(frames):
    entries = []
    for filename, lineno, name in reversed(frames):
        line = linecache.getline(filename, lineno).strip()
        entries.append(traceback.FrameSummary(filename, lineno, name, line=line))
    return traceback.StackSummary.from_list(entries)


def _optimizer_step():
    """(class name, step_counter) of the innermost optimizer on the call stack (its
    update is in progress), else of the ``optimizer`` of the innermost model there."""
    # Read from sys.modules, not imported: opt imports autograd, and without opt loaded
    # no optimizer exists.
    opt = sys.modules.get(_PACKAGE + ".opt")
    if opt is None:
        return None
    Optimizer = opt.Optimizer
    model_step = None
    f = sys._getframe(1)
    while f is not None:
        owner = f.f_locals.get("self")
        if isinstance(owner, Optimizer):
            return type(owner).__name__, owner._step
        held = getattr(owner, "__dict__", {}).get("optimizer")
        if model_step is None and isinstance(held, Optimizer):
            model_step = (type(held).__name__, held._step)
        f = f.f_back
    return model_step


def _label(layer):
    # layer.base imports autograd; any layer on the stack means it is loaded.
    return sys.modules[_PACKAGE + ".layer.base"].layer_label(layer)


def record_forward(op):
    """Keeps, on an op whose call is recorded for backward, the layers and the caller
    frames of its forward (for a backward anomaly's report)."""
    if is_anomaly_enabled():
        op._anomaly_origin = (tuple(_local.layers), _caller_frames())


def check_forward(op, xs, ys):
    """Raises AnomalyError if an output of ``op`` (core tensors ``ys``) holds a NaN or Inf."""
    if not is_anomaly_enabled():
        return
    bad = _first_bad(ys)
    if bad is None:
        return
    index, t = bad
    inputs = [x.data for x in xs]
    shapes = {"inputs": [_shape_of(x) for x in inputs], "outputs": [_shape_of(y) for y in ys]}
    seeded = _first_bad(inputs)
    if seeded is None:
        cause = "its inputs were all finite"
    else:
        nan, inf = _counts(seeded[1])
        cause = "input {} already held {} NaN and {} Inf (look at what produced it)".format(
            seeded[0], nan, inf)
    frames = _caller_frames()
    raise _error(op, "forward", "output", index, t, shapes, cause, list(_local.layers),
                 _stack_summary(frames))


def check_backward(op, dys, dxs):
    """Raises AnomalyError if a gradient ``op``'s backward returned holds a NaN or Inf."""
    if not is_anomaly_enabled():
        return
    bad = _first_bad(dxs)
    if bad is None:
        return
    index, t = bad
    shapes = {"output gradients": [_shape_of(d) for d in dys],
              "input gradients": [_shape_of(d) for d in dxs]}
    seeded = _first_bad(dys)
    if seeded is None:
        cause = "the gradients reaching it were all finite"
    else:
        nan, inf = _counts(seeded[1])
        cause = "output gradient {} already held {} NaN and {} Inf".format(seeded[0], nan, inf)
    origin = op.__dict__.get("_anomaly_origin")
    layers, stack = (), None
    if origin is not None:
        layers, stack = origin[0], _stack_summary(origin[1])
    raise _error(op, "backward", "gradient for input", index, t, shapes, cause, layers, stack)


def _error(op, phase, what, index, t, shapes, cause, layers, stack):
    nan, inf = _counts(t)
    op_type = type(op).__name__
    name = op.name
    labels = [_label(layer) for layer in layers]
    step = _optimizer_step()
    where = "{}.backward".format(op_type) if phase == "backward" else op_type
    lines = ["{} ({}) produced {} NaN and {} Inf in its {} {} of shape {}; {}".format(
        where, name, nan, inf, what, index, _shape_of(t), cause)]
    lines.append("  shapes: " + "; ".join("{} {}".format(k, ", ".join(str(s) for s in v))
                                          for k, v in shapes.items()))
    lines.append("  layer: " + (" > ".join(labels) if labels else "none (called outside any layer)"))
    if step is not None:
        lines.append("  optimizer: {} at step_counter {}".format(*step))
    if stack is not None:
        lines.append("  forward traceback of {} (most recent call last):".format(name))
        shown = stack[-_SHOWN_FRAMES:]
        if len(stack) > len(shown):
            lines.append("    ... {} outer frames (all in .forward_stack)".format(
                len(stack) - len(shown)))
        lines.extend("  " + row.rstrip("\n").replace("\n", "\n  ")
                     for row in traceback.StackSummary.from_list(shown).format())
    elif phase == "backward":
        lines.append("  forward traceback: not kept (its forward ran with anomaly "
                     "detection off)")
    return AnomalyError("\n".join(lines), op=name, op_type=op_type, phase=phase,
                        layers=labels, shapes=shapes, bad=(index, _shape_of(t), nan, inf),
                        optimizer_step=step, forward_stack=stack)


set_detect_anomaly(config.detect_anomaly())
