"""Autograd's two switches: grad mode and training mode.

- **grad mode**: whether Operations record the graph (``src``, ``creator``) and keep what
  their backward needs (``Operation.save``). Without it nothing can be differentiated and
  no memory is held for a backward pass.
- **training mode**: whether Dropout drops units and BatchNorm normalises with (and
  updates) the batch statistics, instead of behaving as at inference.

Each switch has a process-wide default, which every thread sees, and a per-thread
override. Assigning ``autograd.training = b`` (SINGA's switch) sets both defaults;
``Layer.train()``/``eval()`` do so too. ``no_grad()``, ``set_grad_enabled(b)`` and
``train(mode)`` override one switch for the calling thread only, for the extent of a
``with`` block (or of a call, used as decorators). Both defaults start False, as in SINGA.
"""

import functools
import threading

import numpy as np

__all__ = ["is_grad_enabled", "is_train_mode", "set_defaults", "no_grad", "set_grad_enabled",
           "train", "reset_thread_overrides"]


class _Defaults(object):
    grad = False
    train = False


class _Overrides(threading.local):
    # None: this thread follows the process-wide default.
    grad = None
    train = None


class _Active(object):
    # Threads overriding grad mode right now. While none does, every thread follows the
    # default, and the engine reads it without the (slower) thread-local lookup.
    grad = 0


_defaults = _Defaults()
_local = _Overrides()
_active = _Active()
_active_lock = threading.Lock()


def flag(function, mode):
    """bool(mode) for a bool or an int; TypeError naming ``function`` otherwise, since
    bool() of a string or None would turn ``"off"`` on and ``None`` off without a word."""
    if isinstance(mode, (bool, int, np.bool_)):
        return bool(mode)
    raise TypeError("{}: mode must be a bool, got {} {!r}".format(
        function, type(mode).__name__, mode))


def _override(switch, value):
    """Sets this thread's override of ``switch`` (None: follow the default)."""
    if switch == "grad" and (_local.grad is None) != (value is None):
        with _active_lock:
            _active.grad += 1 if value is not None else -1
    setattr(_local, switch, value)


def reset_thread_overrides():
    """Drops the calling thread's overrides of both switches (tests start from here)."""
    _override("grad", None)
    _override("train", None)


def is_grad_enabled():
    """Whether operations on this thread record the graph for backward."""
    g = _local.grad
    return _defaults.grad if g is None else g


def is_train_mode():
    """Whether Dropout and BatchNorm on this thread behave as in training."""
    t = _local.train
    return _defaults.train if t is None else t


def set_defaults(mode):
    """Sets the process-wide default of both switches (``autograd.training = mode``)."""
    mode = bool(mode)
    _defaults.grad = mode
    _defaults.train = mode


class _ThreadOverride(object):
    """Overrides one switch of the calling thread inside ``with`` (or a decorated call)."""

    _switch = None

    def __init__(self, mode):
        self._mode = flag(type(self).__name__, mode)
        self._saved = []

    def __enter__(self):
        self._saved.append(getattr(_local, self._switch))
        _override(self._switch, self._mode)
        return self

    def __exit__(self, *exc):
        _override(self._switch, self._saved.pop())
        return False

    def __call__(self, fn):
        mode, cls = self._mode, type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with cls._new(mode):
                return fn(*args, **kwargs)
        return wrapper

    @classmethod
    def _new(cls, mode):
        override = object.__new__(cls)
        _ThreadOverride.__init__(override, mode)
        return override


class no_grad(_ThreadOverride):
    """Context manager and decorator: nothing is recorded for backward inside.

    Training mode is a separate switch: Dropout and BatchNorm keep their behaviour (put
    the model in ``eval()``, or use ``train(False)``, for inference behaviour)."""

    _switch = "grad"

    def __init__(self):
        super(no_grad, self).__init__(False)


class set_grad_enabled(_ThreadOverride):
    """Turns recording on or off for this thread now; as a context manager (or
    decorator), only until the block (or the call) ends."""

    _switch = "grad"

    def __init__(self, mode):
        super(set_grad_enabled, self).__init__(mode)
        _ThreadOverride.__enter__(self)  # a plain call applies it now
        self._applied_by_init = True

    def __enter__(self):
        if self.__dict__.pop("_applied_by_init", False):
            return self  # already applied; __exit__ undoes it
        return super(set_grad_enabled, self).__enter__()

    def __call__(self, fn):
        if self.__dict__.pop("_applied_by_init", False):
            self.__exit__()  # as a decorator it applies per call, not from now on
        return super(set_grad_enabled, self).__call__(fn)


class train(_ThreadOverride):
    """Context manager and decorator: training mode (``mode=True``) or inference
    behaviour (``mode=False``) of Dropout and BatchNorm on this thread inside."""

    _switch = "train"

    def __init__(self, mode=True):
        super(train, self).__init__(mode)
