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
recorded with its buffers; later steps with inputs of the same shapes copy the new
inputs into the recorded input buffers, replay the kernels in C++ (no Python per
operation) and then apply the optimizer's updates with that step's hyper-parameters.
The replay performs the same kernels on the same values, so results equal eager
execution. A step that builds tensors from NumPy inside ``train_one_batch`` cannot be
replayed and runs eagerly (with a warning). Recorded intermediates stay allocated
between steps, as SINGA's graph keeps its buffers.
"""

import signal
import sys
import threading
import warnings

import numpy as np

from . import autograd
from . import singa_wrap as singa
from . import callbacks as callbacks_mod
from . import checkpoint
from . import layer as layer_mod
from . import metrics as metrics_mod
from . import tensor as tensor_mod
from .checkpoint import CheckpointError
from .layer import Layer
from .tensor import Tensor

__all__ = ["Model", "CheckpointError"]


class Model(Layer):
    """Base class of trainable models (see the module docstring)."""

    MODEL_STATE_TYPE = 0
    AUX_STATE_TYPE = 1
    OPT_STATE_TYPE = 2  # ours: optimizer states, ignored by Apache SINGA's loader
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

    # ---- setup ----
    def set_optimizer(self, optimizer):
        """The optimizer ``train_one_batch`` uses (as ``self.optimizer``); its states
        are saved with the model."""
        self.optimizer = optimizer

    def compile(self, inputs, is_train=True, use_graph=False, sequential=False):
        """Creates all parameters by running ``forward`` once on ``inputs`` (nothing is
        recorded and no running statistics change), names every parameter and state by
        its dotted path, and sets the training mode.

        Args:
            inputs: a list of input Tensors (a sample batch).
            is_train: the mode to enter (``train(is_train)``).
            use_graph, sequential: recorded for ``graph()``; execution stays eager.
        """
        if isinstance(inputs, Tensor):
            inputs = [inputs]
        if not inputs or not all(isinstance(x, Tensor) for x in inputs):
            raise ValueError("Model.compile: inputs must be a non-empty list of Tensors")
        self.graph_mode = bool(use_graph)
        self.sequential = bool(sequential)
        self._name_layers()
        with autograd.no_grad(), autograd.train(False):
            if not self._initialized:
                self.initialize(*inputs)
                self._initialized = True
            self.forward(*inputs)
        self._name_states()
        self._name_layers()
        self.compiled = True
        self.train(is_train)

    def _name_states(self):
        for name, t in self.get_states().items():
            t.name = name

    def _name_layers(self):
        """Gives every unnamed sub-layer its dotted path as ``name`` (used in errors)."""
        stack, seen = [("", self)], {id(self)}
        while stack:
            prefix, lay = stack.pop()
            for attr, sub in lay.sublayers():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                path = prefix + attr
                if sub.name is None:
                    sub.name = path
                stack.append((path + Layer.sep, sub))

    # ---- running ----
    def __call__(self, *args, **kwargs):
        """``train_one_batch`` in training mode, ``forward`` otherwise."""
        if not self._initialized:
            self._name_layers()
            self.initialize(*args, **kwargs)
            self._initialized = True
        self.device_check(*args)
        if self.training and self.graph_mode and not kwargs:
            out = self._graph_step(*args)
        elif self.training:
            out = self.train_one_batch(*args, **kwargs)
        else:
            out = self.forward(*args, **kwargs)
        if not self.compiled:
            self._name_states()
        return out

    def _graph_step(self, *args):
        """One training step in graph mode: the first step (and any step whose input
        shapes differ from the recorded ones) runs eagerly while its kernels are
        recorded; later steps copy the inputs into the recorded input buffers, replay
        the kernels in C++ and apply the optimizer's updates."""
        key = tuple((tuple(a.shape), a.dtype) if isinstance(a, Tensor) else a for a in args)
        rec = getattr(self, "_recorded", None)
        if rec is not None and rec["key"] == key:
            if not rec["graph"].replayable():
                return self.train_one_batch(*args)
            for a, r in zip(args, rec["inputs"]):
                if isinstance(a, Tensor) and not a.data.shares_memory(r.data):
                    r.data.CopyData(a.data)
            rec["graph"].Run()
            if self.optimizer is not None:
                self.optimizer.apply_recorded()
            return rec["out"]
        if self.optimizer is not None:
            self.optimizer.__dict__.pop("recorded_params", None)
        singa.GraphBegin()
        try:
            out = self.train_one_batch(*args)
        finally:
            graph = singa.GraphEnd()
        if not graph.replayable():
            warnings.warn("graph mode: this training step cannot be replayed ({}); running "
                          "it eagerly".format(graph.why_not()), RuntimeWarning)
        elif self.optimizer is not None and not hasattr(self.optimizer, "recorded_params"):
            graph = None
            warnings.warn("graph mode: train_one_batch did not call the optimizer with the "
                          "loss (opt(loss)); running eagerly", RuntimeWarning)
        self._recorded = None if graph is None else {
            "key": key, "graph": graph, "inputs": args, "out": out}
        return out

    def forward(self, *inputs, **kwargs):
        raise NotImplementedError("{} does not implement forward".format(type(self).__name__))

    def train_one_batch(self, *inputs, **kwargs):
        raise NotImplementedError("{} does not implement train_one_batch".format(
            type(self).__name__))

    def train(self, mode=True):
        """Enters training (``mode=True``) or evaluation mode; sets ``autograd.training``."""
        return super(Model, self).train(mode)

    def graph(self, mode=True, sequential=False):
        """Turns graph mode on or off. Execution is eager either way (see module doc)."""
        self.graph_mode = bool(mode)
        self.sequential = bool(sequential)

    # ---- checkpoints ----
    def save_states(self, fpath, aux_states={}):
        """Saves parameters, states, optimizer states and ``aux_states`` (a dict of
        Tensors, arrays or numbers) to ``fpath`` atomically (see singa.checkpoint).
        An existing file is replaced only once the new one is complete."""
        states = self.get_states()
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
        checkpoint.save(fpath, arrays, attrs, meta)

    def load_states(self, fpath):
        """Restores what :meth:`save_states` wrote, after verifying the file and that
        it matches this model (same state names and shapes). Optimizer states are
        restored into ``self.optimizer`` when one is set.

        Returns:
            the aux states, {name: Tensor}.
        Raises:
            CheckpointError (a ValueError) naming the problem.
        """
        arrays, attrs, meta = checkpoint.load(fpath)
        own = self.get_states()
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
        for k, a in model.items():
            own[k].copy_from_numpy(a)
        self._name_states()
        return {k: tensor_mod.from_numpy(np.ascontiguousarray(a)) for k, a in aux.items()}

    # ---- training loop ----
    def _device(self):
        for t in self.get_params().values():
            return t.device
        from . import device as device_mod
        return device_mod.get_default_device()

    def fit(self, train_data, epochs=1, eval_data=None, metrics=None, callbacks=None,
            steps_per_epoch=None, initial_epoch=0, verbose=1, batch_size=None, shuffle=True,
            seed=0, eval_steps=None):
        """Trains for ``epochs`` epochs with ``train_one_batch``; returns a History.

        Each step turns a batch into Tensors on the model's device, calls
        ``self(x, y)`` (``train_one_batch``, which should return ``(out, loss)``),
        and updates the running loss and ``metrics`` from ``out``. Each epoch sets
        ``optimizer.epoch`` (for epoch schedules), shows a tqdm progress bar
        (``verbose=1``), then prints the epoch's loss and metrics, train and
        ``val_`` (``verbose`` 1 or 2; 0 prints nothing).

        Ctrl-C stops training cleanly: a step in progress is finished first
        (press again to abort at once), ModelCheckpoint callbacks save a checkpoint,
        and the History is returned with ``interrupted=True``.

        Args:
            train_data: an iterable of ``(x, y)`` NumPy batches (DataLoader,
                ShardLoader, a list), re-iterated each epoch (a one-shot iterator
                is consumed as a stream); or a tuple of arrays ``(x, y)``, batched
                with ``batch_size`` (default 32), ``shuffle`` and ``seed``.
                A loader with ``set_epoch`` is set to each epoch before it runs.
            epochs: the epoch to stop before (as in Keras, with ``initial_epoch``).
            eval_data: batches (or arrays) to evaluate on after every epoch
                (an EvaluateEvery callback); ``eval_steps`` limits its batches.
            metrics: Metrics or names ('accuracy', 'top5_accuracy', ...), computed
                on the training outputs and on eval_data.
            callbacks: Callback instances (see singa.callbacks).
            steps_per_epoch: at most this many steps per epoch.
            initial_epoch: the epoch to start at.
        Returns:
            the History (``history.history[key]`` per epoch).
        """
        if int(epochs) < 0 or int(initial_epoch) < 0:
            raise ValueError("fit: epochs and initial_epoch must be >= 0")
        if steps_per_epoch is not None and int(steps_per_epoch) < 1:
            raise ValueError("fit: steps_per_epoch must be >= 1 or None")
        train_metrics = [metrics_mod.get(m) for m in (metrics or [])]
        train_data = _as_batches(train_data, batch_size, shuffle, seed)
        cbs = list(callbacks or [])
        if eval_data is not None:
            cbs.append(callbacks_mod.EvaluateEvery(_as_batches(eval_data, batch_size, False, 0),
                                                   steps=eval_steps))
        history = callbacks_mod.History()
        cbs.append(history)
        cbs.sort(key=lambda c: getattr(c, "priority", 50))
        state = callbacks_mod.FitState(train_data, epochs, initial_epoch, train_metrics, history)
        for cb in cbs:
            cb.set_context(self, state)
        needs_loader_state = any(getattr(c, "needs_loader_state", False) for c in cbs) and \
            hasattr(train_data, "state_dict")
        loss_metric = metrics_mod.Loss()
        was_training = self.training
        old_handler = _install_sigint(state)
        logs = {}
        try:
            self.train(True)
            for cb in cbs:
                cb.on_train_begin(logs)
            while state.epoch < state.epochs and not state.stop_training:
                epoch = state.epoch
                logs = self._fit_epoch(state, cbs, loss_metric, needs_loader_state, verbose,
                                       steps_per_epoch)
                if verbose:
                    print(_format_epoch(epoch, state.epochs, logs), flush=True)
                state.epoch_done = False
                state.epoch += 1
        except KeyboardInterrupt:
            state.interrupted = True
            state.in_step = False
            if verbose:
                print("\ninterrupted at epoch {}, step {}: stopping".format(
                    state.epoch + 1, state.step_in_epoch), file=sys.stderr, flush=True)
            for cb in cbs:
                cb.on_interrupt(logs)
        finally:
            _restore_sigint(old_handler)
            self.train(was_training)
        for cb in cbs:
            cb.on_train_end(logs)
        return history

    def _fit_epoch(self, state, cbs, loss_metric, needs_loader_state, verbose, steps_per_epoch):
        """One epoch of fit (see fit); returns the epoch's logs."""
        data, epoch = state.train_data, state.epoch
        resume = state.resume_step
        state.step_in_epoch = resume
        state.resume_step = 0
        total = steps_per_epoch
        if hasattr(data, "__len__"):
            total = len(data) if total is None else min(int(total), len(data))
        state.steps_in_epoch = total
        if self.optimizer is not None:
            self.optimizer.epoch = epoch
        # position the loader: a restored loader is already mid-epoch
        restored = resume > 0 and state.loader_restored
        state.loader_restored = False
        if not restored and hasattr(data, "set_epoch"):
            data.set_epoch(epoch)
        loss_metric.reset()
        for m in state.metrics:
            m.reset()
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        if needs_loader_state:
            state.loader_state = data.state_dict()
        dev = self._device()
        it = None
        bar = None
        try:
            if total is None or state.step_in_epoch < total:
                it = iter(data)
                if resume > 0 and not restored:
                    for _ in range(resume):   # no loader position: skip finished batches
                        next(it)
            if verbose == 1:
                from tqdm import tqdm
                bar = tqdm(total=total, initial=state.step_in_epoch, leave=False,
                           desc="epoch {}/{}".format(epoch + 1, state.epochs),
                           dynamic_ncols=True)
            ran = 0
            while it is not None and (total is None or state.step_in_epoch < total):
                try:
                    batch = next(it)
                except StopIteration:
                    break
                if state.interrupt_requested:
                    raise KeyboardInterrupt
                x, y = _split_batch(batch)
                state.in_step = True
                tx, ty = _to_tensor(x, dev), _to_tensor(y, dev)
                out, loss = _parse_step(self(tx, ty), state.metrics)
                n = int(tx.shape[0]) if tx.shape else 1
                loss_metric.update(loss, n)
                if state.metrics:
                    out_np = tensor_mod.to_numpy(out)
                    y_np = np.asarray(y)
                    for m in state.metrics:
                        m.update(out_np, y_np)
                state.step_in_epoch += 1
                state.global_step += 1
                state.in_step = False
                ran += 1
                if needs_loader_state:
                    state.loader_state = data.state_dict()
                step_logs = {"loss": loss_metric.last}
                for cb in cbs:
                    cb.on_batch_end(state.global_step, step_logs)
                if bar is not None:
                    bar.set_postfix(loss="{:.4f}".format(loss_metric.running), refresh=False)
                    bar.update(1)
                if state.interrupt_requested:
                    raise KeyboardInterrupt
                if state.stop_training:
                    break
            if it is not None and ran == 0 and resume == 0:
                warnings.warn("fit: train_data yielded no batches in epoch {} (an exhausted "
                              "iterator?); stopping".format(epoch + 1))
                state.stop_training = True
        finally:
            if bar is not None:
                bar.close()
            if it is not None and it is not data and hasattr(it, "close"):
                it.close()
        logs = {}
        if loss_metric.weight:
            logs["loss"] = loss_metric.result()
        for m in state.metrics:
            r = m.result()
            if r == r:  # skip NaN: no samples this epoch
                logs[m.name] = r
        if self.optimizer is not None:
            try:
                logs["lr"] = float(self.optimizer.lr_value)
            except (AttributeError, TypeError, ValueError):  # no scalar learning rate
                pass
        state.epoch_done = True
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        return logs

    def evaluate(self, data, metrics=None, steps=None, batch_size=None, verbose=0):
        """Runs ``forward`` in evaluation mode (no gradients recorded) over ``data``
        and returns ``{metric name: value}``; the training mode is restored after.

        Args:
            data: ``(x, y)`` batches, or a tuple of arrays ``(x, y)`` with batch_size.
                A loader with ``set_epoch`` is rewound to epoch 0 first.
            metrics: Metrics or names (default: accuracy).
            steps: at most this many batches.
            verbose: 1 shows a progress bar.
        """
        ms = [metrics_mod.get(m) for m in (metrics if metrics is not None else ["accuracy"])]
        for m in ms:
            m.reset()
        data = _as_batches(data, batch_size, False, 0)
        if hasattr(data, "set_epoch"):
            data.set_epoch(0)
        dev = self._device()
        was_training = self.training
        it = iter(data)
        bar = None
        try:
            self.eval()
            if verbose == 1:
                from tqdm import tqdm
                total = len(data) if hasattr(data, "__len__") else None
                if steps is not None and total is not None:
                    total = min(total, steps)
                bar = tqdm(total=total, leave=False, desc="evaluate")
            with autograd.no_grad():
                for i, batch in enumerate(it):
                    if steps is not None and i >= steps:
                        break
                    x, y = _split_batch(batch)
                    out = self(_to_tensor(x, dev))
                    if isinstance(out, (tuple, list)):
                        out = out[0]
                    out_np = tensor_mod.to_numpy(out)
                    for m in ms:
                        m.update(out_np, np.asarray(y))
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            if it is not data and hasattr(it, "close"):
                it.close()
            self.train(was_training)
        return {m.name: m.result() for m in ms}

    # ---- inspection ----
    def summary(self, inputs, print_fn=print):
        """Prints each layer's output shape and parameter count for an input.

        Runs ``forward`` once in evaluation mode without recording gradients and
        puts every state back afterwards (running statistics included), so the
        model is unchanged (apart from being initialized if it was not).
        If a layer does not fit its input, the rows up to it are printed and the
        error (naming the layer, its input shape and what it expected) is raised.

        Args:
            inputs: a sample Tensor or NumPy array, a shape tuple (batch dimension
                included, e.g. ``(1, 3, 224, 224)``; zeros are used), or a list of these.
            print_fn: where lines go (None: print nothing).
        Returns:
            a list of rows ``{'name', 'type', 'output_shape', 'params', 'depth'}``
            (one per layer call, nested layers after their children) plus the totals
            in ``{'name': 'total', 'params': ...}`` as the last row.
        """
        if isinstance(inputs, list):
            xs = [_sample(i, self) for i in inputs]
        else:
            xs = [_sample(inputs, self)]
        self._name_layers()
        rows = []
        counted = {}

        def own_params(lay):
            key = id(lay)
            if key not in counted:
                counted[key] = sum(int(np.prod(t.shape)) for t in lay.get_params().values())
            return counted[key]

        def record(lay, args, out, depth):
            if lay is self:
                return
            outs = out if isinstance(out, (tuple, list)) else [out]
            shapes = [tuple(o.shape) for o in outs if isinstance(o, Tensor)]
            rows.append({"name": lay.name or type(lay).__name__, "type": type(lay).__name__,
                         "output_shape": shapes[0] if len(shapes) == 1 else shapes,
                         "params": own_params(lay), "depth": depth})

        saved = {k: tensor_mod.to_numpy(t).copy() for k, t in self.get_states().items()}
        was_training = self.training
        error = None
        try:
            self.eval()
            with autograd.no_grad(), layer_mod.observe_calls(record):
                if not self._initialized:
                    self.initialize(*xs)
                    self._initialized = True
                out = self.forward(*xs)
            self._name_states()
            self._name_layers()
        except ValueError as e:
            error = e
            out = None
        finally:
            self.train(was_training)
            states = self.get_states()
            for k, a in saved.items():
                if k in states:
                    states[k].copy_from_numpy(a)
        # the outermost layer calls first in call order; rows arrive children-first
        total = sum(int(np.prod(t.shape)) for t in self.get_params().values())
        if print_fn is not None:
            _print_summary(self, xs, rows, total, out, print_fn, error)
        if error is not None:
            raise error
        rows.append({"name": "total", "type": type(self).__name__,
                     "output_shape": tuple(out.shape) if isinstance(out, Tensor) else None,
                     "params": total, "depth": -1})
        return rows


# ---------------------------------------------------------------- helpers

def _as_batches(data, batch_size, shuffle, seed):
    """A re-iterable of (x, y) batches from arrays ``(x, y)``; other data as is."""
    if isinstance(data, tuple) and len(data) == 2 and all(
            isinstance(a, np.ndarray) for a in data):
        from .data.loader import DataLoader
        return DataLoader(data[0], data[1], batch_size=batch_size or 32, shuffle=shuffle,
                          seed=seed, dtype=None)
    if batch_size is not None:
        raise ValueError("batch_size is only used with data given as a tuple of arrays "
                         "(x, y); the batches here come from {}".format(type(data).__name__))
    return data


def _split_batch(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    raise ValueError("expected (x, y) batches, got {}".format(
        type(batch).__name__ if not isinstance(batch, (tuple, list))
        else "a sequence of {}".format(len(batch))))


def _to_tensor(a, dev):
    if isinstance(a, Tensor):
        if a.device != dev:
            a.to_device(dev)
        return a
    a = np.asarray(a)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iub":
        a = a.astype(np.int32)
    return tensor_mod.from_numpy(np.ascontiguousarray(a), dev)


def _parse_step(res, metric_list):
    """(out, loss) from what train_one_batch returned."""
    if isinstance(res, (tuple, list)) and len(res) == 2:
        return res[0], res[1]
    if isinstance(res, Tensor):
        if metric_list:
            raise ValueError("fit: metrics need the outputs: train_one_batch must return "
                             "(out, loss), it returned only one Tensor")
        return None, res
    raise ValueError("fit: train_one_batch must return (out, loss) or the loss Tensor, got "
                     "{}".format(type(res).__name__))


def _fmt(v):
    return "{:.4g}".format(v) if isinstance(v, float) else str(v)


def _format_epoch(epoch, epochs, logs):
    items = ["{} {}".format(k, _fmt(v)) for k, v in logs.items() if not k.startswith("val_")]
    items += ["{} {}".format(k, _fmt(v)) for k, v in logs.items() if k.startswith("val_")]
    return "epoch {}/{}: {}".format(epoch + 1, epochs, "  ".join(items))


def _install_sigint(state):
    """While fit runs, a first Ctrl-C inside a step is deferred to the step's end."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if state.in_step and not state.interrupt_requested:
            state.interrupt_requested = True
            print("\nCtrl-C: stopping after this step (press again to stop now)",
                  file=sys.stderr, flush=True)
            return
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):
        return None


def _restore_sigint(old):
    if old is not None:
        try:
            signal.signal(signal.SIGINT, old)
        except (ValueError, OSError):
            pass


def _sample(spec, model):
    if isinstance(spec, Tensor):
        return spec
    if isinstance(spec, np.ndarray):
        return _to_tensor(spec, model._device())
    shape = tuple(int(d) for d in spec)
    return tensor_mod.from_numpy(np.zeros(shape, np.float32), model._device())


def _print_summary(model, xs, rows, total, out, print_fn, error):
    lines = [("Layer (type)", "Output shape", "Params")]
    for r in rows:
        lines.append(("  " * r["depth"] + "{} ({})".format(r["name"], r["type"]),
                      str(r["output_shape"]), "{:,}".format(r["params"])))
    w0 = max(len(a) for a, _, _ in lines) + 2
    w1 = max(len(b) for _, b, _ in lines) + 2
    rule = "-" * (w0 + w1 + 12)
    print_fn("{}: input {}".format(type(model).__name__,
                                   ", ".join(str(tuple(x.shape)) for x in xs)))
    print_fn(rule)
    for i, (a, b, c) in enumerate(lines):
        print_fn("{:<{}}{:<{}}{:>12}".format(a, w0, b, w1, c))
        if i == 0:
            print_fn(rule)
    print_fn(rule)
    if error is not None:
        print_fn("stopped at an error: {}".format(error))
    else:
        print_fn("output {}   total params {:,}".format(
            tuple(out.shape) if isinstance(out, Tensor) else out, total))
