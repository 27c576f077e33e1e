"""Graph mode (SINGA's buffered execution): record one training step, replay it in C++.

A :class:`GraphStep` belongs to one model (``Model.compile(..., use_graph=True)`` or
``Model.graph(True)``). The first training step runs eagerly while every core kernel
it calls is recorded with its buffers (``singa_wrap.GraphBegin`` / ``GraphEnd``), and so
does any step whose inputs differ in shape, dtype or non-tensor arguments from the
recorded one, that finds another optimizer in ``model.optimizer``, or that follows a
``Model.load_states`` which restored optimizer states. A later step with the same
record key copies its inputs into the recorded input buffers and replays the kernels
(``Graph.Run()``), with no Python per operation; the replay frees each intermediate
right after its last reader, so between steps the graph holds nothing beyond its
inputs and outputs (the parameters and the optimizer's state are the model's). On a
GPU the first replay also captures the step into CUDA graphs, which later replays
launch (docs/cuda.md); should that fail, a RuntimeWarning says why and the step
replays node by node.

The optimizer knows nothing of this. While a step is recorded, a stand-in takes the
place of ``model.optimizer`` and sees each ``update(param, grad)`` (from ``opt(loss)``,
``backward_and_update(loss)``, or called directly): it runs the update eagerly with
recording paused (so optimizer state set up then is not replayed) and records a call
back to the optimizer's bound update (:meth:`singa.opt.Optimizer.bind_update`) on that
gradient. A replay thus updates each parameter as soon as its gradient is ready, with
the hyper-parameters of that step, then advances the optimizer's step counter as often
as the recorded step did, so schedules keep working.

A step that graph mode cannot replay runs eagerly with a RuntimeWarning, or raises
:class:`GraphError` in strict mode (``compile(..., strict=True)``); the reason is the
same either way.
"""

import warnings

from . import autocast
from . import autograd
from . import singa_wrap as singa
from .opt import Optimizer
from .tensor import Tensor

__all__ = ["GraphStep", "GraphError", "recording_for"]

_recording = None  # the _RecordingOptimizer of the step being recorded, if any


def recording_for(optimizer):
    """The stand-in recording a step for ``optimizer`` right now, or None.

    An optimizer whose class sets ``records_graph_steps = True`` (singa.opt.DistOpt)
    drives backward itself: graph mode hands its calls straight to it, and it records
    its own work through the stand-in, ``update(param, grad)`` for each update (which
    graph mode binds and replays) and ``step()``, plus any ``GraphCallback`` it needs.
    """
    r = _recording
    return r if r is not None and r._optimizer is optimizer else None


class GraphError(RuntimeError):
    """In strict graph mode: a training step that cannot be replayed (the message says
    why). When it is raised after recording, the step itself has already run eagerly."""


class GraphStep(object):
    """The graph mode of one model: its record key, recorded graph and replay.

    Args:
        strict: raise GraphError instead of warning and running eagerly.

    Attributes:
        key: the record key of the last recorded step (input shapes and dtypes, other
            arguments as given), or None.
        graph: the recorded ``singa_wrap.Graph`` that replays run, or None (nothing
            recorded yet, or the step with ``key`` runs eagerly, see ``eager_reason``).
        eager_reason: why steps with ``key`` run eagerly, or None.
    """

    def __init__(self, strict=False):
        self.strict = bool(strict)
        self.reset()

    def reset(self):
        """Forgets the recorded step; the next training step is recorded again."""
        self.key = None
        self.graph = None
        self.eager_reason = None
        self._inputs = ()
        self._outputs = None
        self._optimizer = None
        self._steps = 0  # optimizer steps the recorded step took; each replay takes as many
        self._capture_unchecked = True

    def __call__(self, model, args, kwargs):
        """One training step of ``model``: ``model.train_one_batch(*args, **kwargs)``,
        recorded, replayed or run eagerly. Returns what it returns."""
        if kwargs:
            self._fall_back("keyword arguments to the training step ({}) are not part of "
                            "the record key; pass them positionally"
                            .format(", ".join(sorted(kwargs))), stacklevel=4)
            return model.train_one_batch(*args, **kwargs)
        key = _record_key(args)
        if key == self.key and model.optimizer is self._optimizer:
            if self.graph is not None:
                return self._replay(args)
            if self.strict:
                raise GraphError("graph mode: " + self.eager_reason)
            return model.train_one_batch(*args)
        return self._record(model, args, key)

    def _replay(self, args):
        for a, r in zip(args, self._inputs):
            if isinstance(a, Tensor) and not a.data.shares_memory(r.data):
                r.data.CopyData(a.data)
        self.graph.Run()
        if self._capture_unchecked:
            self._check_capture()
        for _ in range(self._steps):
            self._optimizer.step()
        return self._outputs

    def _check_capture(self):
        """After the first replay: warns once when capturing CUDA graphs failed (the step
        still replays, node by node; docs/cuda.md)."""
        self._capture_unchecked = False
        why = self.graph.capture_failure()
        if why:
            warnings.warn("graph mode: capturing the step into CUDA graphs failed ({}); "
                          "replaying it node by node".format(why), RuntimeWarning,
                          stacklevel=5)

    def _record(self, model, args, key):
        global _recording
        self.reset()
        optimizer = model.optimizer
        stand_in = None if optimizer is None else _RecordingOptimizer(optimizer)
        if stand_in is not None:
            model.optimizer = stand_in
        singa.GraphBegin()
        _recording = stand_in
        try:
            out = model.train_one_batch(*args)
        finally:
            _recording = None
            graph = singa.GraphEnd()
            if stand_in is not None:
                model.optimizer = optimizer
        reason = _why_eager(graph, optimizer, stand_in)
        if reason is not None:
            # strict: nothing is remembered, so every such step runs and raises alike
            self._fall_back(reason, stacklevel=5)
            self.eager_reason = reason
        else:
            self.graph, self._inputs, self._outputs = graph, args, out
            self._steps = stand_in._graph_steps
        self.key, self._optimizer = key, optimizer
        return out

    def _fall_back(self, reason, stacklevel):
        """Raises GraphError (strict) or warns that the step runs eagerly."""
        if self.strict:
            raise GraphError("graph mode: " + reason)
        warnings.warn("graph mode: {}; running eagerly".format(reason), RuntimeWarning,
                      stacklevel=stacklevel)


def _record_key(args):
    """What a replay must share with the recorded step: each Tensor's shape and dtype,
    every other argument's value, and the autocast dtype (a step recorded with bfloat16
    casts must not replay for a float32 step, nor the other way round)."""
    # a list, not a generator: built on every step, and a generator resumes per item
    return tuple([(a.shape, a.dtype) if isinstance(a, Tensor) else a for a in args]
                 + [autocast.compute_dtype()])


def _why_eager(graph, optimizer, stand_in):
    """Why a recorded step cannot be replayed, or None when it can."""
    # Updates made out of the stand-in's sight also mark the graph unreplayable (the
    # fused update kernels are not replayable); naming their cause is the clearer reason.
    if stand_in is not None and stand_in._graph_hidden is not None:
        return stand_in._graph_hidden
    if not graph.replayable():
        return "this training step cannot be replayed ({})".format(graph.why_not())
    if optimizer is None:
        return ("the model has no optimizer (set_optimizer): graph mode replays the "
                "updates of model.optimizer")
    if not stand_in._graph_updates:
        return ("train_one_batch did not call the optimizer with the loss (opt(loss)) "
                "nor its update(param, grad)")
    return None


class _RecordingOptimizer(object):
    """Stands in for ``model.optimizer`` while a step is recorded.

    Attribute reads and writes go to the optimizer (``isinstance`` checks on it do
    not: train_one_batch should not test the optimizer's type). ``opt(loss)`` and
    ``backward_and_update(loss)`` back-propagate and hand each gradient to this
    object's ``update``; ``update``/``apply`` run the optimizer's method with recording
    paused and record a call back to its bound update on the gradient; ``step`` is
    counted, so replays advance the optimizer as the recorded step did.
    """

    def __init__(self, optimizer):
        # its own state; the names keep clear of the optimizer's attributes
        own = object.__setattr__
        own(self, "_optimizer", optimizer)
        own(self, "_graph_updates", 0)    # updates seen (and recorded as call backs)
        own(self, "_graph_steps", 0)      # optimizer steps taken
        own(self, "_graph_hidden", None)  # why updates may have escaped this stand-in

    def __getattr__(self, name):
        return getattr(self._optimizer, name)

    def __setattr__(self, name, value):
        setattr(self._optimizer, name, value)

    def __call__(self, loss):
        if self._own_method("__call__"):
            return self._optimizer(loss)
        singa.GraphMarkBackward()  # where time profiles split forward from backward
        for p, g in autograd.backward(loss):
            self.update(p, g)
        self.step()

    def backward_and_update(self, loss):
        if self._own_method("backward_and_update"):
            return self._optimizer.backward_and_update(loss)
        self(loss)

    def update(self, param, grad):
        self._watched(param, grad, self._optimizer.update, (param, grad))

    def apply(self, param_name, param_value, param_grad):
        self._watched(param_value, param_grad, self._optimizer.apply,
                      (param_name, param_value, param_grad))

    def step(self):
        object.__setattr__(self, "_graph_steps", self._graph_steps + 1)
        self._optimizer.step()

    def run_eagerly(self, reason):
        """Marks the recorded step as one to run eagerly, for ``reason`` (an optimizer
        that records through this stand-in and knows its step cannot be replayed)."""
        object.__setattr__(self, "_graph_hidden", reason)

    def _own_method(self, name):
        """Whether the optimizer's class defines ``name`` itself; its updates then
        happen out of this stand-in's sight (noted, so the step runs eagerly)."""
        opt = self._optimizer
        if isinstance(opt, Optimizer) and getattr(type(opt), name) is getattr(Optimizer, name):
            return False
        if getattr(type(opt), "records_graph_steps", False):
            return True  # it records its updates through this stand-in (recording_for)
        object.__setattr__(self, "_graph_hidden", "{}.{} is its own, so graph mode cannot "
                           "see the updates it makes".format(type(opt).__name__, name))
        return True

    def _watched(self, param, grad, method, args):
        if not (isinstance(param, Tensor) and isinstance(grad, Tensor)) or \
                not hasattr(self._optimizer, "bind_update"):
            method(*args)  # nothing to bind a replayed update to
            object.__setattr__(self, "_graph_hidden", "the optimizer was given core tensors "
                               "or has no bind_update, so graph mode cannot replay its "
                               "update")
            return
        singa.GraphPause(True)
        try:
            method(*args)
            bound = self._optimizer.bind_update(param)
        finally:
            singa.GraphPause(False)
        # the name labels the update in time profiles (Device.PrintTimeProfiling)
        singa.GraphCallback(bound, [grad.data], type(self._optimizer).__name__ + ".update")
        object.__setattr__(self, "_graph_updates", self._graph_updates + 1)
