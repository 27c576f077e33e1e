"""Callbacks for :meth:`singa.model.Model.fit`, and the :class:`History` it returns.

A callback sees the model (``self.model``) and the loop's :class:`FitState`
(``self.state``: epoch, step, ``stop_training``...) and is called at

    on_train_begin(logs)          after setup, before the first epoch
    on_epoch_begin(epoch, logs)
    on_batch_end(step, logs)      step: the global step count; logs {'loss': ...}
    on_epoch_end(epoch, logs)     logs: every epoch metric ('loss', 'accuracy',
                                  'val_accuracy', 'lr', ...); callbacks may add keys
    on_interrupt(logs)            Ctrl-C (KeyboardInterrupt) stopped training
    on_train_end(logs)

Callbacks run in order of ``priority`` (lower first; ties keep the given order):
evaluation (10) adds the ``val_`` metrics, then History (20) records them, then
user callbacks (50), checkpoints (70) and early stopping (80) see them.

In a data-parallel job only rank 0 writes checkpoints (the replicas hold the same
parameters and optimizer states) and prints; every rank resumes from the newest
checkpoint in the directory, which must therefore be visible to all ranks (one
machine, or a shared file system). A checkpoint records the job size: resuming
mid-epoch needs the same number of ranks (each rank's place in the epoch depends on
it), resuming from an epoch's end works with any.
"""

import copy
import json
import math
import os
import re
import sys
import warnings

import numpy as np

from . import tensor as tensor_mod

__all__ = ["Callback", "History", "EvaluateEvery", "ModelCheckpoint", "EarlyStopping",
           "FitState", "latest_checkpoint", "list_checkpoints"]


class Callback(object):
    """Base class; override the hooks you need (see the module docstring)."""

    priority = 50

    def __init__(self):
        self.model = None
        self.state = None

    def set_context(self, model, state):
        self.model, self.state = model, state

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, step, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_interrupt(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class FitState(object):
    """Where ``fit`` is: what callbacks read and (to resume) restore.

    Attributes:
        epoch: the current epoch (0-based). step_in_epoch: steps done in it.
        global_step: steps done in all of training. steps_in_epoch: the epoch's
        planned steps (None if unknown). epoch_done: True during ``on_epoch_end``.
        stop_training: set it to end training after the current step/epoch.
        interrupted: True once Ctrl-C stopped training.
        train_data: the training batches (a loader). metrics: the train metrics.
        loader_state: ``train_data.state_dict()`` after the last finished step
        (kept only when a callback sets ``needs_loader_state``).
        history: the History being filled.
        rank, world_size: this process's place in a data-parallel job (0 of 1 alone).
    """

    def __init__(self, train_data, epochs, initial_epoch, metrics, history, rank=0,
                 world_size=1):
        self.train_data = train_data
        self.rank, self.world_size = int(rank), int(world_size)
        self.epochs = int(epochs)
        self.epoch = int(initial_epoch)
        self.step_in_epoch = 0
        self.resume_step = 0
        self.global_step = 0
        self.steps_in_epoch = None
        self.epoch_done = False
        self.stop_training = False
        self.interrupted = False
        self.interrupt_requested = False
        self.in_step = False
        self.loader_state = None
        self.loader_restored = False
        self.metrics = metrics
        self.history = history

    # ---- checkpointing ----
    def position(self):
        """(epoch, step_in_epoch) a resumed run would start from."""
        if self.epoch_done:
            return self.epoch + 1, 0
        return self.epoch, self.step_in_epoch

    def to_aux(self):
        """The loop's position as arrays for ``Model.save_states(aux_states=...)``."""
        epoch, step = self.position()
        aux = {"__fit__/epoch": np.int64(epoch), "__fit__/step_in_epoch": np.int64(step),
               "__fit__/global_step": np.int64(self.global_step),
               "__fit__/world_size": np.int64(self.world_size),
               "__fit__/history": _json_array(self.history.to_dict())}
        if step > 0 and self.loader_state is not None:
            aux["__fit__/loader_state"] = _json_array(self.loader_state)
        return aux

    def restore(self, aux):
        """Restores what :meth:`to_aux` stored (aux: {name: Tensor or array})."""
        def get(k):
            v = aux[k]
            return tensor_mod.to_numpy(v) if isinstance(v, tensor_mod.Tensor) else np.asarray(v)
        if "__fit__/epoch" not in aux:
            raise ValueError("the checkpoint holds no training-loop position (was it written "
                             "by ModelCheckpoint?)")
        step = int(get("__fit__/step_in_epoch").reshape(-1)[0])
        saved_size = int(get("__fit__/world_size").reshape(-1)[0]) \
            if "__fit__/world_size" in aux else 1
        if step > 0 and saved_size != self.world_size:
            raise ValueError(
                "the checkpoint was written at step {} of an epoch by a job of {} rank(s); "
                "this job has {}. Mid-epoch, each rank's place in the epoch depends on the "
                "job size: resume with {} rank(s), or from a checkpoint taken at the end "
                "of an epoch (ModelCheckpoint(every_n_epochs=...)), which any job size can "
                "resume".format(step, saved_size, self.world_size, saved_size))
        self.epoch = int(get("__fit__/epoch").reshape(-1)[0])
        self.resume_step = step
        self.global_step = int(get("__fit__/global_step").reshape(-1)[0])
        if "__fit__/history" in aux:
            self.history.load_dict(_from_json_array(get("__fit__/history")))
        if "__fit__/loader_state" in aux and self.resume_step > 0:
            st = _from_json_array(get("__fit__/loader_state"))
            if hasattr(self.train_data, "load_state_dict"):
                self.train_data.load_state_dict(st)
                self.loader_restored = True
            self.loader_state = st


def _json_array(obj):
    # JSON as int32 codes: checkpoint aux arrays come back as Tensors (no uint8)
    return np.frombuffer(json.dumps(obj).encode("utf-8"), np.uint8).astype(np.int32)


def _from_json_array(a):
    return json.loads(np.asarray(a).astype(np.uint8).tobytes().decode("utf-8"))


def _finite(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v))


class History(Callback):
    """Every metric per epoch, and the loss per step; ``fit`` returns it.

    Attributes:
        history: {key: [value per epoch]} (NaN where a key had no value that epoch,
            e.g. ``val_*`` between evaluations), as in Keras.
        epoch: the epoch numbers recorded. epoch_steps: the global step at each
            epoch's end. steps: {key: [(global_step, value), ...]} per-step values.
        interrupted: True when Ctrl-C ended training.
    """

    priority = 20

    def __init__(self):
        super(History, self).__init__()
        self.history = {}
        self.epoch = []
        self.epoch_steps = []
        self.steps = {}
        self.interrupted = False

    def on_batch_end(self, step, logs=None):
        for k, v in (logs or {}).items():
            if _finite(v):
                self.steps.setdefault(k, []).append((int(step), float(v)))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        n = len(self.epoch)
        for k in logs:
            if k not in self.history:
                self.history[k] = [float("nan")] * n
        for k, vals in self.history.items():
            v = logs.get(k, float("nan"))
            vals.append(float(v) if v is not None else float("nan"))
        self.epoch.append(int(epoch))
        self.epoch_steps.append(int(self.state.global_step) if self.state else len(self.epoch))

    def on_interrupt(self, logs=None):
        self.interrupted = True

    def to_dict(self):
        return {"history": {k: [None if math.isnan(v) else v for v in vals]
                            for k, vals in self.history.items()},
                "epoch": self.epoch, "epoch_steps": self.epoch_steps,
                "steps": {k: [list(p) for p in v] for k, v in self.steps.items()}}

    def load_dict(self, d):
        self.history = {k: [float("nan") if v is None else float(v) for v in vals]
                        for k, vals in d.get("history", {}).items()}
        self.epoch = [int(e) for e in d.get("epoch", [])]
        self.epoch_steps = [int(s) for s in d.get("epoch_steps", [])]
        self.steps = {k: [(int(s), float(v)) for s, v in vals]
                      for k, vals in d.get("steps", {}).items()}

    def plot(self, path, keys=None, dpi=100):
        """Writes the training curves to an image file (PNG by its name).

        One panel per metric (``loss``, ``accuracy``, ...), with the training value,
        the ``val_`` value and (for per-step keys) the per-step curve, against the
        global step. Needs matplotlib (``pip install 'singa[plot]'``).

        Args:
            path: output file. keys: metric names to draw (default: all but ``lr``).
        Returns:
            path.
        """
        try:
            from matplotlib.figure import Figure
            from matplotlib.backends.backend_agg import FigureCanvasAgg
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib, an optional dependency: "
                              "pip install 'singa[plot]' (or pip install matplotlib)") from e
        bases = []
        for k in list(self.history) + list(self.steps):
            b = k[4:] if k.startswith("val_") else k
            if b not in bases and (keys is None and b != "lr" or keys is not None and b in keys):
                bases.append(b)
        if not bases:
            raise ValueError("History.plot: nothing to plot (no epochs recorded{})".format(
                "" if keys is None else " for keys {}".format(list(keys))))
        fig = Figure(figsize=(6, 3 * len(bases)))
        FigureCanvasAgg(fig)
        xs = self.epoch_steps if len(self.epoch_steps) == len(self.epoch) else \
            list(range(1, len(self.epoch) + 1))
        for i, b in enumerate(bases):
            ax = fig.add_subplot(len(bases), 1, i + 1)
            if b in self.steps:
                s, v = zip(*self.steps[b])
                ax.plot(s, v, color="0.75", linewidth=0.8, label="{} (step)".format(b))
            for k, style in ((b, "o-"), ("val_" + b, "s--")):
                if k in self.history and xs:
                    ax.plot(xs, self.history[k], style, label=k)
            ax.set_ylabel(b)
            ax.grid(True, alpha=0.3)
            ax.legend(loc="best", fontsize="small")
        ax.set_xlabel("step")
        fig.tight_layout()
        fig.savefig(os.fspath(path), dpi=dpi)
        return path

    def __repr__(self):
        return "History(epochs={}, keys={})".format(len(self.epoch), sorted(self.history))


class EvaluateEvery(Callback):
    """Evaluates the model on ``data`` every ``every_n_epochs`` epochs (and after the
    last epoch), adding ``prefix + name`` for each metric to the epoch's logs.

    Args:
        data: (x, y) batches, as for ``Model.evaluate``.
        every_n_epochs: how often. metrics: Metrics or names (default: copies of
        fit's metrics, or accuracy). steps: at most this many batches.
        prefix: key prefix (``val_``).
    """

    priority = 10

    def __init__(self, data, every_n_epochs=1, metrics=None, steps=None, prefix="val_"):
        super(EvaluateEvery, self).__init__()
        if int(every_n_epochs) < 1:
            raise ValueError("EvaluateEvery: every_n_epochs must be >= 1, got {}".format(
                every_n_epochs))
        self.data = data
        self.every_n_epochs = int(every_n_epochs)
        self.metrics = metrics
        self.steps = steps
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.state.epochs or self.state.stop_training
        if (epoch + 1) % self.every_n_epochs and not last:
            return
        metrics = self.metrics
        if metrics is None:
            metrics = [copy.deepcopy(m) for m in self.state.metrics] or ["accuracy"]
        res = self.model.evaluate(self.data, metrics=metrics, steps=self.steps)
        if logs is not None:
            logs.update({self.prefix + k: v for k, v in res.items()})


_CKPT_RE = re.compile(r"^(?P<prefix>.+)-(?P<step>\d+)\.zip$")


def list_checkpoints(directory, prefix="ckpt"):
    """The checkpoints ModelCheckpoint wrote in ``directory``, oldest first."""
    out = []
    if not os.path.isdir(directory):
        return out
    for f in os.listdir(directory):
        m = _CKPT_RE.match(f)
        if m and m.group("prefix") == prefix:
            out.append((int(m.group("step")), os.path.join(directory, f)))
    return [p for _, p in sorted(out)]


def latest_checkpoint(directory, prefix="ckpt"):
    """The newest checkpoint in ``directory`` (None if there is none)."""
    c = list_checkpoints(directory, prefix)
    return c[-1] if c else None


class ModelCheckpoint(Callback):
    """Saves ``Model.save_states`` checkpoints (atomic) during ``fit``, keeping the last K.

    A checkpoint holds the parameters, optimizer states, the loop's position
    (epoch, step, history) and, when the training loader has ``state_dict()``
    (ShardLoader), its position, so that training resumes mid-epoch with the
    batches the uninterrupted run would have seen. Loaders without it (DataLoader,
    lists) resume by skipping the epoch's finished batches.
    Files: ``DIR/{prefix}-{global_step:09d}.zip``.

    Args:
        directory: where to write (created).
        every_n_steps / every_n_epochs: how often (default every epoch); both may be set.
        keep_last: how many checkpoints to keep (older ones are deleted; None keeps all).
        resume: at the start of fit, restore the newest checkpoint in ``directory``
            (when there is one) and continue from its position. The model must have
            its parameters already (``compile`` it first).
        save_on_interrupt: save when Ctrl-C stops training.
        prefix: file name prefix.
    """

    priority = 70
    needs_loader_state = True

    def __init__(self, directory, every_n_steps=None, every_n_epochs=None, keep_last=3,
                 resume=False, save_on_interrupt=True, prefix="ckpt", verbose=1):
        super(ModelCheckpoint, self).__init__()
        for name, v in (("every_n_steps", every_n_steps), ("every_n_epochs", every_n_epochs),
                        ("keep_last", keep_last)):
            if v is not None and (int(v) != v or v < 1):
                raise ValueError("ModelCheckpoint: {} must be a positive int or None, got {!r}"
                                 .format(name, v))
        if every_n_steps is None and every_n_epochs is None:
            every_n_epochs = 1
        if "-" in prefix or not prefix:
            raise ValueError("ModelCheckpoint: prefix must be non-empty without '-'")
        self.directory = os.fspath(directory)
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.keep_last = keep_last
        self.resume = resume
        self.save_on_interrupt = save_on_interrupt
        self.prefix = prefix
        self.verbose = verbose
        self.saved = []          # paths written by this callback, oldest first
        self.restored_from = None
        self._pending = False

    def path_for(self, global_step):
        return os.path.join(self.directory, "{}-{:09d}.zip".format(self.prefix, global_step))

    def save(self):
        """Writes a checkpoint of the current position now; returns its path.

        In a data-parallel job only rank 0 writes; the other ranks return None.
        """
        if self.state.rank != 0:
            return None
        os.makedirs(self.directory, exist_ok=True)
        path = self.path_for(self.state.global_step)
        self.model.save_states(path, aux_states=self.state.to_aux())
        if path in self.saved:
            self.saved.remove(path)
        self.saved.append(path)
        if self.keep_last is not None:
            for old in list_checkpoints(self.directory, self.prefix)[:-self.keep_last]:
                try:
                    os.remove(old)
                except OSError:
                    pass
        return path

    def on_train_begin(self, logs=None):
        if not self.resume:
            return
        path = latest_checkpoint(self.directory, self.prefix)
        if path is None:
            return
        if not self.model.get_states():
            raise ValueError("ModelCheckpoint(resume=True): the model has no parameters yet; "
                             "call model.compile([sample batch]) before fit to resume from "
                             "{!r}".format(path))
        aux = self.model.load_states(path)
        self.state.restore(aux)
        self.restored_from = path
        if self.verbose and self.state.rank == 0:
            print("resumed from {} (epoch {}, step {} of it)".format(
                path, self.state.epoch + 1, self.state.resume_step), file=sys.stderr)

    def on_batch_end(self, step, logs=None):
        if self.every_n_steps and step % self.every_n_steps == 0:
            s = self.state
            if s.steps_in_epoch is not None and s.step_in_epoch >= s.steps_in_epoch:
                self._pending = True    # the epoch ends now: save after its evaluation
            else:
                self.save()

    def on_epoch_end(self, epoch, logs=None):
        due = self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0
        if due or self._pending:
            self._pending = False
            self.save()

    def on_interrupt(self, logs=None):
        if self.save_on_interrupt and self.model.get_states():
            path = self.save()
            if path is not None:
                print("saved checkpoint {}".format(path), file=sys.stderr)


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: an epoch log key (``'loss'``, ``'val_loss'``, ``'val_accuracy'``...).
        patience: epochs without improvement to allow before stopping.
        mode: 'min', 'max' or 'auto' (max for keys with 'acc', else min).
        min_delta: the smallest change that counts as an improvement.
        restore_best: put back the best epoch's parameters and states at the end.
    """

    priority = 80

    def __init__(self, monitor="val_loss", patience=0, mode="auto", min_delta=0.0,
                 restore_best=False):
        super(EarlyStopping, self).__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError("EarlyStopping: mode must be 'auto', 'min' or 'max', got {!r}"
                             .format(mode))
        if int(patience) != patience or patience < 0:
            raise ValueError("EarlyStopping: patience must be an int >= 0, got {!r}"
                             .format(patience))
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.mode = monitor, int(patience), mode
        self.min_delta = abs(float(min_delta))
        self.restore_best = restore_best
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self.stopped_epoch = None
        self._best_states = None
        self._warned = False

    def _improved(self, v):
        if self.best is None:
            return True
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        v = (logs or {}).get(self.monitor)
        if v is None or not _finite(v):
            if not self._warned:
                warnings.warn("EarlyStopping: {!r} is not among the epoch's metrics {}".format(
                    self.monitor, sorted(logs or {})))
                self._warned = True
            return
        v = float(v)
        if self._improved(v):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best:
                self._best_states = {k: tensor_mod.to_numpy(t)
                                     for k, t in self.model.get_states().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.state.stop_training = True
                self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        if self.restore_best and self._best_states is not None and \
                self.stopped_epoch is not None:
            self.model.set_states(self._best_states)
