"""The training loop behind ``Model.fit`` and ``Model.evaluate``: epochs of
``train_one_batch`` over batches, metrics and callbacks, a deferred Ctrl-C, and the
helpers that turn batches into Tensors.

In a data-parallel job (``mpiexec -n N``, one model replica per rank) every rank runs
this loop in step: arrays given as ``train_data`` are sharded by rank, arrays given as
``eval_data`` are evaluated whole on every rank (the replicas hold the same parameters,
so all ranks get the same validation figures), the epoch's training loss and metrics
are averaged over the ranks when the optimizer can all-reduce (a DistOpt), and only
rank 0 shows progress bars and prints."""

import signal
import sys
import threading
import warnings

import numpy as np

from . import autograd
from . import callbacks as callbacks_mod
from . import metrics as metrics_mod
from . import tensor as tensor_mod
from .dist.env import launch_info
from .tensor import Tensor

__all__ = ["fit", "evaluate"]


def fit(model, train_data, epochs=1, eval_data=None, metrics=None, callbacks=None,
        steps_per_epoch=None, initial_epoch=0, verbose=1, batch_size=None, shuffle=True,
        seed=0, eval_steps=None):
    """Trains ``model`` for ``epochs`` epochs with ``train_one_batch``; returns a History
    (``Model.fit`` calls this).

    Each step turns a batch into Tensors on the model's device, calls
    ``model(x, y)`` (``train_one_batch``, which should return ``(out, loss)``),
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
        raise ValueError("fit: epochs and initial_epoch must be >= 0, got {} and {}".format(
            epochs, initial_epoch))
    if steps_per_epoch is not None and int(steps_per_epoch) < 1:
        raise ValueError("fit: steps_per_epoch must be >= 1 or None, got {}".format(
            steps_per_epoch))
    train_metrics = [metrics_mod.get(m) for m in (metrics or [])]
    rank, world_size = _job_place(model)
    if rank != 0:
        verbose = 0
    train_data = _as_batches(train_data, batch_size, shuffle, seed,
                             place=(rank, world_size))
    cbs = list(callbacks or [])
    if eval_data is not None:
        cbs.append(callbacks_mod.EvaluateEvery(
            _as_batches(eval_data, batch_size, False, 0, place=(0, 1)), steps=eval_steps))
    history = callbacks_mod.History()
    cbs.append(history)
    cbs.sort(key=lambda c: getattr(c, "priority", 50))
    state = callbacks_mod.FitState(train_data, epochs, initial_epoch, train_metrics, history,
                                   rank=rank, world_size=world_size)
    for cb in cbs:
        cb.set_context(model, state)
    needs_loader_state = any(getattr(c, "needs_loader_state", False) for c in cbs) and \
        hasattr(train_data, "state_dict")
    loss_metric = metrics_mod.Loss()
    was_training = model.training
    old_handler = _install_sigint(state)
    logs = {}
    try:
        model.train(True)
        for cb in cbs:
            cb.on_train_begin(logs)
        while state.epoch < state.epochs and not state.stop_training:
            epoch = state.epoch
            logs = _fit_epoch(model, state, cbs, loss_metric, needs_loader_state, verbose,
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
        model.train(was_training)
    for cb in cbs:
        cb.on_train_end(logs)
    return history


def _fit_epoch(model, state, cbs, loss_metric, needs_loader_state, verbose, steps_per_epoch):
    """One epoch of fit (see fit); returns the epoch's logs."""
    data, epoch = state.train_data, state.epoch
    resume = state.resume_step
    state.step_in_epoch = resume
    state.resume_step = 0
    total = steps_per_epoch
    if hasattr(data, "__len__"):
        total = len(data) if total is None else min(int(total), len(data))
    state.steps_in_epoch = total
    if model.optimizer is not None:
        model.optimizer.epoch = epoch
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
    dev = model._device()
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
            out, loss = _parse_step(model(tx, ty), state.metrics)
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
    logs = _epoch_results(model, state, loss_metric)
    if model.optimizer is not None:
        try:
            logs["lr"] = float(model.optimizer.lr_value)
        except (AttributeError, TypeError, ValueError):  # no scalar learning rate
            pass
    state.epoch_done = True
    for cb in cbs:
        cb.on_epoch_end(epoch, logs)
    return logs


def evaluate(model, data, metrics=None, steps=None, batch_size=None, verbose=0):
    """Runs ``model.forward`` in evaluation mode (``model.eval()``: Dropout and
    BatchNorm in their evaluation behaviour) with no gradients recorded over ``data``
    and returns ``{metric name: value}``; the training mode is restored after
    (``Model.evaluate`` calls this).

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
    if _job_place(model)[0] != 0:
        verbose = 0
    data = _as_batches(data, batch_size, False, 0, place=(0, 1))
    if hasattr(data, "set_epoch"):
        data.set_epoch(0)
    dev = model._device()
    was_training = model.training
    it = iter(data)
    bar = None
    try:
        model.eval()
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
                out = model(_to_tensor(x, dev))
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
        model.train(was_training)
    return {m.name: m.result() for m in ms}


# ---------------------------------------------------------------- helpers

def _job_place(model):
    """``(rank, world_size)`` of this process: the model's DistOpt's when it has one
    (it may have been given an explicit communicator), else the launcher's."""
    opt = getattr(model, "optimizer", None)
    rank, size = getattr(opt, "global_rank", None), getattr(opt, "world_size", None)
    if isinstance(rank, (int, np.integer)) and isinstance(size, (int, np.integer)):
        return int(rank), int(size)
    info = launch_info()
    return info.rank, info.world_size


def _epoch_results(model, state, loss_metric):
    """The epoch's loss and metrics; over all ranks when the optimizer can all-reduce.

    Each rank's figures are weighted by its sample count, so the result is what one
    process would report over all the ranks' samples (for metrics that are means
    over samples). Every rank then holds the same figures, which keeps callbacks
    that act on them (EarlyStopping) deciding the same on every rank.
    """
    local = {}
    if loss_metric.weight:
        local["loss"] = loss_metric.result()
    for m in state.metrics:
        r = m.result()
        if r == r:  # skip NaN: no samples this epoch
            local[m.name] = r
    all_reduce = getattr(model.optimizer, "all_reduce", None)
    if state.world_size == 1 or not callable(all_reduce):
        return local
    keys = ["loss"] + [m.name for m in state.metrics]
    weight = float(loss_metric.weight)
    # per key (weight * value, weight), 0s where this rank has no value; summed over ranks
    packed = []
    for k in keys:
        packed += [weight * local[k], weight] if k in local else [0.0, 0.0]
    summed = tensor_mod.from_numpy(np.asarray(packed, np.float32))
    all_reduce(summed)
    total = tensor_mod.to_numpy(summed).astype(np.float64)
    return {k: float(total[2 * i] / total[2 * i + 1])
            for i, k in enumerate(keys) if total[2 * i + 1] > 0}


def _as_batches(data, batch_size, shuffle, seed, place):
    """A re-iterable of (x, y) batches from arrays ``(x, y)``; other data as is.

    Arrays are sharded for ``place``, a ``(rank, world_size)``; ``(0, 1)`` reads all.
    """
    if isinstance(data, tuple) and len(data) == 2 and all(
            isinstance(a, np.ndarray) for a in data):
        from .data.loader import DataLoader
        return DataLoader(data[0], data[1], batch_size=batch_size or 32, shuffle=shuffle,
                          seed=seed, dtype=None, rank=place[0], world_size=place[1])
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
