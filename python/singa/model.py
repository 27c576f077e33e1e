"""Model: a Layer with a training step and checkpoints (SINGA's ``singa.model``).

Subclass :class:`Model`, build layers in ``__init__``, compute in ``forward`` and
put one optimisation step in ``train_one_batch``::

    class MLP(model.Model):
        def __init__(self):
            super().__init__()
            self.l1 = layer.Linear(32)
            self.relu = layer.ReLU()
            self.l2 = layer.Linear(10)
            self.loss = layer.SoftMaxCrossEntropy()

        def forward(self, x):
            return self.l2(self.relu(self.l1(x)))

        def train_one_batch(self, x, y):
            out = self.forward(x)
            loss = self.loss(out, y)
            self.optimizer(loss)
            return out, loss

    m = MLP(); m.set_optimizer(opt.SGD(0.1)); m.compile([tx], is_train=True)
    out, loss = m(tx, ty)

Graph mode (``compile(..., use_graph=True)`` or ``graph(True)``), SINGA's buffered
execution: the first training step runs eagerly while every core kernel it calls is
recorded with its buffers; later steps whose inputs have the same shapes and dtypes
copy the new inputs into the recorded input buffers and replay the kernels in C++ (no
Python per operation), the optimizer's updates among them, each with that step's
hyper-parameters. The replay performs the same kernels on the same values, so results
equal eager execution. Each replay frees an intermediate right after its last reader,
so between steps the graph holds what an eager step leaves behind plus its inputs and
outputs. A step that cannot be replayed (e.g. one that builds tensors from NumPy
inside ``train_one_batch``) runs eagerly with a warning, or raises ``GraphError`` in
strict mode. singa.graph implements graph mode; the loop behind ``fit`` and
``evaluate`` is singa.fit, the printer behind ``summary`` singa.summary.
"""

import contextlib

import numpy as np

from . import autocast as autocast_mod
from . import autograd
from . import checkpoint
from . import device as device_mod
from . import fit as fit_mod
from . import singa_wrap as singa
from . import summary as summary_mod
from . import tensor as tensor_mod
from .autograd.mode import flag
from .checkpoint import CheckpointError
from .errors import ArgumentError, ArgumentTypeError, named_entry
from .graph import GraphError, GraphStep
from .layer import LSTM, Layer
from .tensor import Tensor

__all__ = ["Model", "CheckpointError", "GraphError"]


class Model(Layer):
    """Base class of trainable models (see the module docstring)."""

    MODEL_STATE_TYPE = 0
    AUX_STATE_TYPE = 1
    OPT_STATE_TYPE = 2  # ours: optimizer states, ignored by Apache SINGA's loader
    # What conv and matmul compute in (compile's precision=); a class attribute, so that a
    # subclass whose __init__ skips Model's still has it.
    precision = "float32"
    TENSOR_DICT_FILENAME = "/" + checkpoint.TENSOR_DICT_FILENAME
    STATES_ATTR_FILENAME = "/" + checkpoint.STATES_ATTR_FILENAME
    _OPT_PREFIX = "__opt__/"

    def __init__(self):
        super(Model, self).__init__()
        self.training = True
        self.graph_mode = False
        self.sequential = False
        self.compiled = False
        self.optimizer = None
        self._graph_step = GraphStep()

    # ---- setup ----
    def set_optimizer(self, optimizer):
        """The optimizer ``train_one_batch`` uses (as ``self.optimizer``); its states
        are saved with the model."""
        if optimizer is not None and not callable(optimizer):
            raise TypeError("Model.set_optimizer: optimizer must be an Optimizer (callable as "
                            "optimizer(loss)) or None, got {!r}".format(optimizer))
        self.optimizer = optimizer

    def compile(self, inputs, is_train=True, use_graph=False, sequential=False, strict=False,
                precision="float32"):
        """Creates all parameters by running ``forward`` once on ``inputs`` in evaluation
        behaviour with nothing recorded (no running statistics change, no units dropped),
        names every parameter and state by its dotted path, and sets the training mode.

        Args:
            inputs: a list of input Tensors (a sample batch).
            is_train: the mode to enter (``train(is_train)``).
            use_graph, sequential, strict: graph mode, as ``graph(use_graph,
                sequential, strict)``.
            precision: ``'float32'`` (the default) or ``'bfloat16'``: every later call of
                the model (``train_one_batch`` and ``forward``) runs inside
                ``autograd.autocast('bfloat16')`` (conv and matmul in bfloat16, parameters
                and everything else float32; see singa.autocast). On a CPU without
                bfloat16 instructions this raises RuntimeError unless SINGA_BF16_EMULATE=1.
        """
        if not isinstance(precision, str) or precision not in autocast_mod.PRECISIONS:
            raise ValueError("Model.compile: precision must be one of {}, got {!r}".format(
                ", ".join(repr(p) for p in autocast_mod.PRECISIONS), precision))
        if precision != "float32":
            autocast_mod.check_supported("Model.compile(precision={!r})".format(precision))
        if isinstance(inputs, Tensor):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(x, Tensor)
                                                             for x in inputs):
            raise ArgumentTypeError("Model.compile: inputs must be a list of Tensors, got {!r}"
                                    .format(inputs))
        if not inputs:
            raise ArgumentError("Model.compile: inputs must be a non-empty list of Tensors, "
                                "got {!r}".format(inputs))
        self.graph(use_graph, sequential, strict)
        self._name_layers()
        # Nothing is recorded, and the forward behaves as at inference: no running
        # statistics change and no units are dropped.
        with autograd.no_grad(), autograd.train(False):
            if not self._initialized:
                self.initialize(*inputs)
                self._initialized = True
            self.forward(*inputs)
        self._name_states()
        self._name_layers()
        self.precision = precision
        self.compiled = True
        self.train(is_train)

    def _name_states(self):
        for name, t in self.get_states().items():
            t.name = name

    def _walk_sublayers(self):
        """Yields ``(dotted path, layer)`` for every sub-layer, each once."""
        stack, seen = [("", self)], {id(self)}
        while stack:
            prefix, lay = stack.pop()
            for attr, sub in lay.sublayers():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                path = prefix + attr
                yield path, sub
                stack.append((path + Layer.sep, sub))

    def _name_layers(self):
        """Gives every unnamed sub-layer its dotted path as ``name`` (used in errors)."""
        for path, sub in self._walk_sublayers():
            if sub.name is None:
                sub.name = path

    # ---- running ----
    def __call__(self, *args, **kwargs):
        """``train_one_batch`` in training mode (through graph mode when it is on),
        ``forward`` otherwise."""
        if not self._initialized:
            self._name_layers()
            self._initialize_at_first_forward()
        self.device_check(*args)
        scope = (autocast_mod.autocast(self.precision) if self.precision != "float32"
                 else contextlib.nullcontext())
        with scope:
            if self.training and self.graph_mode:
                out = self._graph_step(self, args, kwargs)
            elif self.training:
                out = self.train_one_batch(*args, **kwargs)
            else:
                out = self.forward(*args, **kwargs)
        if not self.compiled:
            self._name_states()
        return out

    def _initialize_at_first_forward(self):
        """Arranges for ``initialize`` to run with the arguments of the first
        ``forward`` call, as SINGA does: ``model(x, y)`` runs ``train_one_batch(x, y)``,
        whose ``self.forward(x)`` initializes with ``x`` alone. An instance attribute
        shadows ``forward`` until that first call (then it is removed), so nothing
        changes for a model that keeps Layer's no-op ``initialize``."""
        if type(self).initialize is Layer.initialize:
            self._initialized = True
            return
        if "forward" in vars(self):
            return  # already armed (a step that never reached forward)

        def first_forward(*inputs, **kwargs):
            del self.forward
            if not self._initialized:
                # parameters are made once, outside any recorded graph
                recording = singa.GraphRecording()
                if recording:
                    singa.GraphPause(True)
                try:
                    self.initialize(*inputs, **kwargs)
                finally:
                    if recording:
                        singa.GraphPause(False)
                self._initialized = True
            return self.forward(*inputs, **kwargs)
        self.forward = first_forward

    def forward(self, *inputs, **kwargs):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def train_one_batch(self, *inputs, **kwargs):
        raise NotImplementedError("{} does not implement train_one_batch".format(
            type(self).__name__))

    def train(self, mode=True):
        """Enters training (``mode=True``) or evaluation mode; sets ``autograd.training``."""
        return super(Model, self).train(mode)

    def graph(self, mode=True, sequential=False, strict=False):
        """Turns graph mode on or off (see the module docstring and singa.graph).

        Args:
            mode: record the first training step and replay it in the steps after.
            sequential: SINGA's serial execution of the graph; a replay here always runs
                the recorded kernels one after another in recording order, so it is
                kept only as a flag.
            strict: a step that cannot be replayed raises ``GraphError`` instead of
                running eagerly with a RuntimeWarning.
        """
        self.graph_mode = flag("Model.graph", mode)
        self.sequential = flag("Model.graph", sequential)
        self._graph_step.strict = flag("Model.graph", strict)

    # ---- checkpoints ----
    def save_states(self, fpath, aux_states={}, format="verified"):
        """Saves parameters, states, optimizer states and ``aux_states`` (a dict of
        Tensors, arrays or numbers) to ``fpath`` atomically (see singa.checkpoint).
        An existing file is replaced only once the new one is complete.

        Args:
            format: ``"verified"`` (the default: checksummed, verified on loading) or
                ``"singa"``: the layout Apache SINGA's ``Model.load_states`` reads,
                with SINGA's names for the states (an LSTM's ``Wx_i`` ... ``Bh_g``).
                Optimizer states are kept in both (SINGA's loader skips them).
        """
        if format not in checkpoint.FORMATS:
            raise ValueError("Model.save_states: format must be one of {}, got {!r}".format(
                checkpoint.FORMATS, format))
        states = self.get_states()
        if format == "singa":
            to_singa = {own: theirs for theirs, own in self._singa_state_names().items()}
            states = {to_singa.get(k, k): v for k, v in states.items()}
        if not states:
            raise ValueError("Model.save_states: the model has no parameters yet; call "
                             "compile() or run a batch first")
        arrays, attrs = {}, {}
        for k, v in states.items():
            arrays[k] = tensor_mod.to_numpy(v).copy()
            attrs[k] = {"state_type": self.MODEL_STATE_TYPE, "shape": list(v.shape),
                        "dtype": int(v.dtype)}
        for k, v in aux_states.items():
            if k in arrays or k.startswith(self._OPT_PREFIX):
                raise ValueError("Model.save_states: aux state name {!r} clashes with a model "
                                 "state".format(k))
            a = tensor_mod.to_numpy(v).copy() if isinstance(v, Tensor) else np.asarray(v)
            arrays[k] = a
            attrs[k] = {"state_type": self.AUX_STATE_TYPE, "shape": list(a.shape),
                        "dtype": int(v.dtype) if isinstance(v, Tensor) else a.dtype.str}
        meta = {"model": type(self).__name__}
        if self.optimizer is not None:
            names = {t: k for k, t in self.get_params().items()}
            for k, v in self.optimizer.get_states(names=names).items():
                key = self._OPT_PREFIX + k
                arrays[key] = np.asarray(v)
                attrs[key] = {"state_type": self.OPT_STATE_TYPE, "shape": list(np.shape(v))}
            meta["optimizer"] = type(self.optimizer).__name__
        checkpoint.save(fpath, arrays, attrs, meta, format=format)

    def _singa_state_names(self):
        """{SINGA's state name: ours} where the two differ: SINGA's LSTM names its
        gates' weights ``Wx_i, Wx_f, Wx_o, Wx_g`` (and Wh_, Bx_, Bh_), ours are lists
        ``Wx.0`` ... ``Wx.3`` in gate order i, f, g (the cell candidate), o."""
        names = {}
        for path, sub in self._walk_sublayers():
            if isinstance(sub, LSTM):
                for group in ("Wx", "Wh", "Bx", "Bh"):
                    for i, gate in enumerate("ifgo"):
                        names["{}.{}_{}".format(path, group, gate)] = \
                            "{}.{}.{}".format(path, group, i)
        return names

    def load_states(self, fpath):
        """Restores what :meth:`save_states` wrote (in either format) or Apache SINGA's
        ``save_states`` wrote, after verifying the file (checksums where it has them) and
        that it matches this model (same state names and shapes). Optimizer states are
        restored into ``self.optimizer`` when one is set.

        Returns:
            the aux states, {name: Tensor}.
        Raises:
            CheckpointError (a ValueError) naming the problem.
        """
        arrays, attrs, meta = checkpoint.load(fpath)
        own = self.get_states()
        # files written in SINGA's format (by SINGA or by us) use SINGA's LSTM names
        renames = {k: v for k, v in self._singa_state_names().items()
                   if k in arrays and k not in own and v in own}
        arrays = {renames.get(k, k): a for k, a in arrays.items()}
        attrs = {renames.get(k, k): a for k, a in attrs.items()}
        if not own:
            raise CheckpointError("Model.load_states: the model has no parameters yet; call "
                                  "compile() before loading {!r}".format(fpath))
        model, aux, opt_states = {}, {}, {}
        for k, a in arrays.items():
            kind = attrs[k].get("state_type", self.MODEL_STATE_TYPE)
            if kind == self.MODEL_STATE_TYPE:
                model[k] = a
            elif kind == self.AUX_STATE_TYPE:
                aux[k] = a
            elif kind == self.OPT_STATE_TYPE:
                opt_states[k[len(self._OPT_PREFIX):]] = a
            else:
                raise CheckpointError("checkpoint {!r}: array {!r} has unknown state_type {!r}"
                                      .format(fpath, k, kind))
        missing = sorted(set(own) - set(model))
        unexpected = sorted(set(model) - set(own))
        if missing or unexpected:
            raise CheckpointError("checkpoint {!r} does not match {}: missing {}, unexpected {}"
                                  .format(fpath, type(self).__name__, missing, unexpected))
        for k, a in model.items():
            if tuple(a.shape) != tuple(own[k].shape):
                raise CheckpointError("checkpoint {!r}: {!r} has shape {} in the file but {} in "
                                      "the model".format(fpath, k, tuple(a.shape),
                                                         tuple(own[k].shape)))
            if a.dtype.kind not in "fiu":
                raise CheckpointError("checkpoint {!r}: {!r} has non-numeric dtype {}".format(
                    fpath, k, a.dtype))
        if opt_states and self.optimizer is not None:
            params = self.get_params()
            try:
                self.optimizer.set_states(
                    {k: (v.item() if v.ndim == 0 else v) for k, v in opt_states.items()},
                    params=params)
            except ValueError as e:
                raise CheckpointError("checkpoint {!r}: optimizer states do not fit {}: {}"
                                      .format(fpath, type(self.optimizer).__name__, e))
            # set_states replaced the state tensors that a recorded graph's updates
            # hold: the next training step records again
            self._graph_step.reset()
        for k, a in model.items():
            own[k].copy_from_numpy(a)
        self._name_states()
        return {k: tensor_mod.from_numpy(np.ascontiguousarray(a)) for k, a in aux.items()}

    # ---- training loop and inspection (singa.fit, singa.summary) ----
    def _device(self):
        for t in self.get_params().values():
            return t.device
        return device_mod.get_default_device()

    @named_entry("Model.fit")
    def fit(self, train_data, epochs=1, eval_data=None, metrics=None, callbacks=None,
            steps_per_epoch=None, initial_epoch=0, verbose=1, batch_size=None, shuffle=True,
            seed=0, eval_steps=None):
        """Trains for ``epochs`` epochs with ``train_one_batch``; returns a History.
        See :func:`singa.fit.fit` for the arguments."""
        return fit_mod.fit(self, train_data, epochs, eval_data, metrics, callbacks,
                           steps_per_epoch, initial_epoch, verbose, batch_size, shuffle, seed,
                           eval_steps)

    @named_entry("Model.evaluate")
    def evaluate(self, data, metrics=None, steps=None, batch_size=None, verbose=0):
        """Runs ``forward`` in evaluation mode over ``data`` and returns ``{metric name:
        value}``. See :func:`singa.fit.evaluate`."""
        return fit_mod.evaluate(self, data, metrics, steps, batch_size, verbose)

    @named_entry("Model.summary")
    def summary(self, inputs, print_fn=print):
        """Prints each layer's output shape and parameter count for an input and returns
        the rows, leaving the model unchanged. See :func:`singa.summary.summary`."""
        return summary_mod.summary(self, inputs, print_fn)
