"""Keras-like models of the classic API: ``Sequential`` and ``Energy``.

``nb_epoch`` counts training *steps* (mini-batch iterations), as in SINGA 0.x's
``train_steps``, not passes over the data.

Running a job follows SINGA's Python binding:

- ``m.fit(X_train, nb_epoch=N)`` trains N steps and returns the training results.
- ``m.fit(X_train, nb_epoch=N, with_test=True)`` only configures training; the job
  runs in the following ``m.evaluate(X_test, batch_size, test_steps, test_freq)``,
  which trains N steps, tests ``test_steps`` batches every ``test_freq`` steps and at
  the end, and returns the test results (the training results are in
  ``m.train_results``).
- ``m.evaluate(X_test, ...)`` with nothing pending tests the current parameters, or
  those of ``checkpoint_path``.

Results are SINGA's dictionary ``{step: [ {...}, ... ]}``; each dict holds
``'phase'`` ('train', 'validation', 'test') and, as applicable, ``'loss'``,
``'acc'`` (accuracy), ``'ppl'`` (perplexity, exp of the cross-entropy) and ``'se'``
(squared error per sample).
"""

import math
import os
import sys
import time

import numpy as np

from .. import autograd
from .. import checkpoint as ckpt
from .. import config
from .. import device as device_mod
from .. import singa_wrap
from .. import tensor as tensor_mod
from ..errors import ArgumentTypeError
from .cluster import Cluster, Data, latest_checkpoint
from .layers import Activation, Autoencoder, Dummy, Layer, Loss, RBM, _WithActivation
from .updater import SGD, Updater

__all__ = ["Model", "Sequential", "Energy", "save_model_parameter", "load_model_parameter"]

_LOSSES = {
    "categorical_crossentropy": "softmax", "softmaxloss": "softmax", "softmax": "softmax",
    "mean_squared_error": "mse", "mse": "mse", "euclideanloss": "mse",
}


def _devices(device):
    """The device for a ``device=`` list of GPU ids (None: the CPU)."""
    if device is None or (isinstance(device, (list, tuple)) and len(device) == 0):
        return None
    ids = list(device) if isinstance(device, (list, tuple)) else [device]
    if not singa_wrap.USE_CUDA and config.cuda_fallback() is None:
        raise RuntimeError("device={} asks for GPU(s), but this singa build has no CUDA "
                           "support (singa_wrap.USE_CUDA is False); leave device unset to "
                           "train on the CPU, or set {}=cpu to run GPU scripts on the "
                           "CPU".format(ids, config.CUDA_FALLBACK))
    if len(ids) != 1:
        raise RuntimeError("device={}: the number of GPUs must equal the number of workers "
                           "of the Cluster, which is 1".format(ids))
    return device_mod.create_cuda_gpu_on(int(ids[0]))


def _data_arg(what, data, default, missing):
    """``data``, or ``default`` (the Data given to ``add``) when it is None. A value of
    another kind (e.g. a NumPy array instead of X_train) is an ArgumentTypeError (a
    TypeError, and the ValueError that a missing Data has always been)."""
    data = data if data is not None else default
    if data is None:
        raise ValueError(missing)
    if not isinstance(data, Data):
        raise ArgumentTypeError("{}: data must be a classic Data (e.g. X_train), got {}"
                                .format(what, type(data).__name__))
    return data


def _param_key(i, layer, pname):
    return "{}:{}/{}".format(i, layer.name, pname)


def _collect_arrays(layers):
    arrays, attrs = {}, {}
    for i, l in enumerate(layers):
        for pname, t in l.named_params():
            k = _param_key(i, l, pname)
            arrays[k] = tensor_mod.to_numpy(t)
            attrs[k] = {"state_type": "param", "layer_index": i, "layer": l.name,
                        "layer_type": type(l).__name__,
                        "in_shape": list(l.in_shape or ())}
    return arrays, attrs


def _restore(layers, arrays, attrs, what):
    """Copies arrays (keyed as ``_param_key``) into the layers' parameters, building
    unbuilt layers from the stored input shapes."""
    by_index = {}
    for k, a in arrays.items():
        idx = int(k.split(":", 1)[0])
        by_index.setdefault(idx, {})[k.split("/", 1)[1]] = (a, attrs.get(k, {}))
    for i, l in enumerate(layers):
        stored = by_index.pop(i, None)
        if stored is None:
            if l.params():
                raise ValueError("{}: no parameters for layer {} ({})".format(what, i, l.name))
            continue
        if not l.built:
            in_shape = next(iter(stored.values()))[1].get("in_shape")
            if not in_shape:
                raise ValueError("{}: layer {} ({}) is not built and the checkpoint has no "
                                 "input shape".format(what, i, l.name))
            l.build(tuple(in_shape))
        mine = dict(l.named_params())
        if set(mine) != set(stored):
            raise ValueError("{}: layer {} ({}) has parameters {}, the checkpoint {}".format(
                what, i, l.name, sorted(mine), sorted(stored)))
        for pname, t in mine.items():
            a = stored[pname][0]
            if tuple(a.shape) != tuple(t.shape):
                raise ValueError("{}: {} of layer {} has shape {}, the checkpoint {}".format(
                    what, pname, l.name, t.shape, a.shape))
            t.copy_from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if by_index:
        raise ValueError("{}: the checkpoint has parameters for layers {} that the model "
                         "lacks".format(what, sorted(by_index)))


def save_model_parameter(step, fout, neuralnet):
    """Saves the parameters of ``neuralnet`` (a list of layers) to ``fout``, atomically.

    The file is a singa checkpoint (see singa.checkpoint) keyed by layer position."""
    for i, lay in enumerate(neuralnet):
        if not isinstance(lay, Layer):
            raise TypeError("save_model_parameter: neuralnet[{}] is a {}, not a classic Layer"
                            .format(i, type(lay).__name__))
    arrays, attrs = _collect_arrays(neuralnet)
    ckpt.save(fout, arrays, attrs, meta={"step": int(step), "api": "singa.classic"})


def load_model_parameter(fin, neuralnet, batchsize=1, data_shape=None):
    """Loads parameters saved by :func:`save_model_parameter` into ``neuralnet``.

    Layers not built yet are built: by running ``batchsize`` zero samples of
    ``data_shape`` through the net when it is given (``neuralnet[0]`` must be an input
    layer), else from the input shapes stored in the file.

    Returns:
        the step stored in the file.
    """
    if data_shape is not None and not all(l.built for l in neuralnet[1:]):
        shape = (int(data_shape),) if np.isscalar(data_shape) else tuple(data_shape)
        first = neuralnet[0]
        if not isinstance(first, Dummy):
            raise ValueError("load_model_parameter: neuralnet[0] must be an input layer to "
                             "use data_shape")
        Dummy.Feed(first, shape, np.zeros((int(batchsize),) + shape, np.float32))
        with autograd.no_grad(), autograd.train(False):
            h = first.output
            for l in neuralnet[1:]:
                if isinstance(l, (Dummy, Loss)):
                    continue
                h = l(h)
    arrays, attrs, meta = ckpt.load(fin)
    _restore(neuralnet, arrays, attrs, "load_model_parameter({!r})".format(fin))
    return int(meta.get("step", 0))


class Model(object):
    """Base of Sequential and Energy.

    Args:
        name: the job name (used for logs).
        argv: the command line (``sys.argv``); kept in ``self.argv`` for compatibility.
    """

    def __init__(self, name="model", argv=None, label=False):
        self.name = str(name)
        self.argv = list(argv) if argv is not None else list(sys.argv)
        self.layers = []
        self.train_data = self.test_data = self.valid_data = None
        self.updater = None
        self.cluster = None
        self.loss_type = None
        self.topk = 1
        self.step = 0
        self.device = None
        self._pending = None
        self.train_results = {}
        self.verbose = True

    # ---- building ----
    def add(self, layer):
        """Adds a layer; a Data layer becomes the train/validation/test data source."""
        if isinstance(layer, Data):
            setattr(self, {"train": "train_data", "validation": "valid_data",
                           "test": "test_data"}[layer.phase], layer)
        elif isinstance(layer, Layer) and not isinstance(layer, (Dummy, Loss)):
            self.layers.append(layer)
        else:
            raise TypeError("add: expected a classic Layer or Data, got {!r}".format(layer))
        return layer

    def compile(self, optimizer=None, updater=None, cluster=None, loss=None, topk=1,
                **fields):
        """Sets the updater (``optimizer`` or ``updater``), the topology and the loss."""
        upd = optimizer if optimizer is not None else updater
        if upd is None:
            upd = SGD(lr=0.01)
        if not isinstance(upd, Updater):
            raise TypeError("compile: the optimizer must be a classic updater (SGD, AdaGrad), "
                            "got {!r}".format(upd))
        self.updater = upd
        if cluster is not None and not isinstance(cluster, Cluster):
            raise TypeError("compile: cluster must be a Cluster, got {!r}".format(cluster))
        if cluster is not None and cluster.nworkers > 1:
            # training replicas whose gradients nobody averages would drift apart
            raise ValueError("compile: {!r} has {} workers, but the classic Model does not "
                             "average gradients across workers; train data-parallel with "
                             "singa.model.Model and singa.opt.DistOpt".format(
                                 cluster, cluster.nworkers))
        self.cluster = cluster
        if loss is not None:
            key = str(loss).lower()
            if key not in _LOSSES:
                raise ValueError("compile: unknown loss {!r}; use one of {}".format(
                    loss, sorted(_LOSSES)))
            self.loss_type = _LOSSES[key]
        self.topk = int(topk)
        return self

    def _check_ready(self):
        if not self.layers:
            raise RuntimeError("{}: the model has no layers; add some".format(self.name))
        if self.updater is None:
            self.compile()

    def _log(self, msg):
        if self.verbose:
            print(msg, flush=True)
        if self.cluster is not None:
            self.cluster.log(self.name, msg)

    # ---- parameters ----
    def params(self):
        out = []
        for l in self.layers:
            out.extend(l.params())
        return out

    def save(self, path, step):
        arrays, attrs = _collect_arrays(self.layers)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        ckpt.save(path, arrays, attrs, meta={"step": int(step), "model": self.name,
                                             "api": "singa.classic"})

    def _checkpoint(self, step):
        if self.cluster is not None:
            path = self.cluster.checkpoint_path(step)
            self.save(path, step)
            return path
        return None

    def load(self, path, data=None):
        """Loads the parameters of a checkpoint (built from one batch of ``data`` or from
        the stored shapes)."""
        arrays, attrs, meta = ckpt.load(path)
        if data is not None and not all(l.built for l in self.layers):
            x, _ = next(data.batches(1, shuffle=False))
            with autograd.no_grad(), autograd.train(False):
                self._forward(self._tensor(x), final=True)
        _restore(self.layers, arrays, attrs, "load({!r})".format(path))
        self.step = int(meta.get("step", 0))
        return self.step

    # ---- helpers ----
    def _tensor(self, a, dtype=None):
        t = tensor_mod.from_numpy(a)
        if self.device is not None:
            t.to_device(self.device)
        t.requires_grad = False
        return t

    def _set_device(self, device):
        dev = _devices(device)
        if dev is not None and dev != self.device:
            self.device = dev
            for p in self.params():
                p.to_device(dev)


class Sequential(Model):
    """A feed-forward stack of layers trained by back-propagation.

    The loss: ``'categorical_crossentropy'`` (the default when the last layer ends in
    softmax: the softmax is fused into the loss, as SINGA's softmax-loss layer does) or
    ``'mean_squared_error'`` (reconstruction of the input, for autoencoders).
    """

    def _loss_kind(self):
        if self.loss_type is not None:
            return self.loss_type
        last = self.layers[-1]
        if isinstance(last, Autoencoder):
            return "mse"
        return "softmax"

    def _forward(self, x, final=False):
        """Runs the layers; with ``final`` False and a softmax loss the last softmax is
        left out (the loss applies it)."""
        h = x
        n = len(self.layers)
        fuse = not final and self._loss_kind() == "softmax"
        for i, l in enumerate(self.layers):
            if fuse and i == n - 1:
                if isinstance(l, Activation) and l.activation == "softmax":
                    break
                if isinstance(l, _WithActivation) and l.activation == "softmax":
                    if not l.built:
                        l.build(tuple(h.shape[1:]), h.device)
                    h = l.forward_linear(h)
                    break
            h = l(h)
        return h

    def _batch_metrics(self, out, x, y):
        """(loss Tensor, metrics dict) of one batch."""
        kind = self._loss_kind()
        if kind == "softmax":
            yt = self._tensor(y)
            if out.ndim() != 2:
                out = autograd.reshape(out, (out.shape[0], -1))
            loss = autograd.softmax_cross_entropy(out, yt)
            lv = float(tensor_mod.to_numpy(loss).reshape(-1)[0])
            scores = tensor_mod.to_numpy(out)
            top = np.argsort(-scores, axis=1)[:, :self.topk]
            acc = float(np.mean(np.any(top == y[:, None], axis=1)))
            return loss, {"loss": lv, "acc": acc, "ppl": float(math.exp(min(lv, 50.0)))}
        target = self._tensor(np.ascontiguousarray(x.reshape(len(x), -1)))
        if out.ndim() != 2:
            out = autograd.reshape(out, (out.shape[0], -1))
        loss = autograd.mse_loss(out, target)
        lv = float(tensor_mod.to_numpy(loss).reshape(-1)[0])
        return loss, {"loss": lv, "se": lv * target.shape[1]}

    def _init_from_data(self, data, x):
        """Autoencoders start from the RBM checkpoints ``data.checkpoint`` names."""
        for l in self.layers:
            if isinstance(l, Autoencoder) and data is not None and data.checkpoint and \
                    not getattr(l, "_pretrained", False):
                l._pretrained = True  # once: a second fit must not undo training
                if not l.built:
                    l.build(tuple(x.shape[1:]), self.device)
                n = _load_rbm_levels(l, data.checkpoint, dict(W="W", hb="b", vb="vb"))
                if n:
                    self._log("{}: encoder levels 0..{} initialised from RBM checkpoints"
                              .format(l.name, n - 1))

    def _train_step(self, x, y, step):
        autograd.training = True
        out = self._forward(self._tensor(x))
        loss, metrics = self._batch_metrics(out, x, y)
        for p, g in autograd.backward(loss):
            self.updater.apply(step, p, g)
        return metrics

    def _test(self, data, batch_size, steps):
        """Averages the metrics over ``steps`` batches from the start of ``data``."""
        autograd.training = False
        it = data.batches(batch_size, shuffle=False)
        acc = {}
        n = max(int(steps), 1)
        for _ in range(n):
            x, y = next(it)
            out = self._forward(self._tensor(x))
            _, m = self._batch_metrics(out, x, y)
            for k, v in m.items():
                acc[k] = acc.get(k, 0.0) + v
        it.close()
        out = {k: v / n for k, v in acc.items()}
        if "loss" in out and "ppl" in out:
            out["ppl"] = float(math.exp(min(out["loss"], 50.0)))
        return out

    def _run(self, data, nb_epoch, batch_size, disp_freq, validate, test, checkpoint_freq):
        """Trains ``nb_epoch`` steps; returns (train results, test results)."""
        self._check_ready()
        train_res, test_res = {}, {}
        it = data.batches(batch_size)
        first = True
        t0 = time.time()
        for step in range(self.step, self.step + int(nb_epoch)):
            x, y = next(it)
            if first:
                self._init_from_data(data, x)
                first = False
            m = self._train_step(x, y, step)
            done = step + 1
            if disp_freq and (step % disp_freq == 0 or done == self.step + nb_epoch):
                m["phase"] = "train"
                train_res.setdefault(step, []).append(m)
                self._log("step {:>6}: train {} ({:.1f}s)".format(step, _fmt(m),
                                                                  time.time() - t0))
            if validate is not None and validate[2] and done % validate[2] == 0:
                v = self._test(validate[0], validate[1], validate[3])
                v["phase"] = "validation"
                train_res.setdefault(done, []).append(v)
                self._log("step {:>6}: validation {}".format(done, _fmt(v)))
            if test is not None and test[2] and done % test[2] == 0 and \
                    done != self.step + nb_epoch:
                v = self._test(test[0], test[1], test[3])
                v["phase"] = "test"
                test_res.setdefault(done, []).append(v)
                self._log("step {:>6}: test {}".format(done, _fmt(v)))
            if checkpoint_freq and done % checkpoint_freq == 0:
                self._checkpoint(done)
        it.close()
        self.step += int(nb_epoch)
        if test is not None:
            v = self._test(test[0], test[1], test[3])
            v["phase"] = "test"
            test_res.setdefault(self.step, []).append(v)
            self._log("step {:>6}: test {}".format(self.step, _fmt(v)))
        path = self._checkpoint(self.step)
        if path:
            self._log("checkpoint {}".format(path))
        self.train_results.update(train_res)
        return train_res, test_res

    def fit(self, data=None, alg="bp", nb_epoch=0, with_test=False, validate_data=None,
            validate_steps=10, validate_freq=None, checkpoint_freq=0, disp_freq=None,
            device=None, batch_size=None, **fields):
        """Trains for ``nb_epoch`` steps (iterations) with back-propagation.

        Args:
            data: the training Data (e.g. X_train); default the one added with ``add``.
            alg: 'bp' (back-propagation).
            nb_epoch: number of training steps (mini-batches), not passes.
            with_test: defer training to the next ``evaluate`` (SINGA's train+test job).
            validate_data: a Data to validate on every ``validate_freq`` steps
                (``validate_steps`` batches).
            checkpoint_freq: also checkpoint every that many steps (0: only at the end).
            disp_freq: record/print training metrics every that many steps.
            device: GPU ids (e.g. [0]); RuntimeError in a CPU-only build.
            batch_size: overrides the data's batch size.

        Returns:
            the training results ``{step: [dict]}`` ({} when ``with_test``).
        """
        if str(alg).lower() != "bp":
            raise ValueError("Sequential.fit: alg must be 'bp' (use Energy for 'cd'), got "
                             "{!r}".format(alg))
        self._set_device(device)
        data = _data_arg("fit", data, self.train_data,
                         "fit: no training data; pass X_train or add a Data layer")
        self.train_data = data
        if validate_data is not None:
            self.valid_data = validate_data
        nb_epoch = int(nb_epoch)
        if nb_epoch < 0:
            raise ValueError("fit: nb_epoch (training steps) must be >= 0, got {}".format(
                nb_epoch))
        disp = int(disp_freq) if disp_freq is not None else max(1, nb_epoch // 20)
        val = None
        if self.valid_data is not None:
            vf = validate_freq if validate_freq is not None else max(1, nb_epoch // 10)
            val = (self.valid_data, batch_size or self.valid_data.batch_size, int(vf),
                   validate_steps)
        plan = dict(data=data, nb_epoch=nb_epoch, batch_size=batch_size, disp_freq=disp,
                    validate=val, checkpoint_freq=int(checkpoint_freq))
        if with_test:
            self._pending = plan
            return {}
        res, _ = self._run(test=None, **plan)
        return res

    def evaluate(self, data=None, batch_size=None, test_steps=None, test_freq=0,
                 checkpoint_path=None, device=None, alg="bp", **fields):
        """Tests the model (running the training ``fit(with_test=True)`` configured).

        Args:
            data: the test Data (e.g. X_test).
            batch_size: test batch size (default the data's).
            test_steps: batches per test (default: the whole test set).
            test_freq: test every that many training steps (with pending training).
            checkpoint_path: test the parameters of this checkpoint.
            device: GPU ids, as for fit.

        Returns:
            the test results ``{step: [dict]}``.
        """
        self._set_device(device)
        data = _data_arg("evaluate", data, self.test_data,
                         "evaluate: no test data; pass X_test or add a Data layer")
        self.test_data = data
        bs = int(batch_size or data.batch_size)
        steps = int(test_steps) if test_steps else max(1, data.num_samples() // bs)
        if checkpoint_path is not None:
            self.load(checkpoint_path, data)
        if self._pending is not None:
            plan, self._pending = self._pending, None
            _, res = self._run(test=(data, bs, int(test_freq or 0), steps), **plan)
            return res
        self._check_ready()
        v = self._test(data, bs, steps)
        v["phase"] = "test"
        self._log("step {:>6}: test {}".format(self.step, _fmt(v)))
        return {self.step: [v]}


def _fmt(m):
    return ", ".join("{} = {:.6f}".format(k, v) for k, v in m.items() if k != "phase")


def _load_rbm_levels(target, sources, names):
    """Copies RBM levels from the newest checkpoint among ``sources`` (files or
    workspaces) into ``target``'s lists named by ``names`` (RBM attr -> target attr).

    Returns the number of levels loaded (0 if none found)."""
    if isinstance(sources, str):
        sources = [sources]
    best = None
    for src in sources:
        path = src if os.path.isfile(src) else latest_checkpoint(src)
        if path is None:
            continue
        arrays, _, _ = ckpt.load(path)
        levels = {}
        for k, a in arrays.items():
            pname = k.rsplit("/", 1)[-1]
            for prefix in ("W", "hb", "vb"):
                if pname.startswith(prefix) and pname[len(prefix):].isdigit():
                    levels.setdefault(int(pname[len(prefix):]), {})[prefix] = a
        n = 0
        while n in levels and len(levels[n]) == 3:
            n += 1
        if n and (best is None or n > best[0]):
            best = (n, levels)
    if best is None:
        return 0
    n = 0
    for k in range(min(best[0], len(getattr(target, names["W"])))):
        lv = best[1][k]
        for src_name, dst_name in names.items():
            t = getattr(target, dst_name)[k]
            if tuple(t.shape) != tuple(lv[src_name].shape):
                return n
        for src_name, dst_name in names.items():
            getattr(target, dst_name)[k].copy_from_numpy(
                np.ascontiguousarray(lv[src_name], dtype=np.float32))
        n += 1
    return n


class Energy(Model):
    """An energy model (a stack of RBMs) trained by contrastive divergence.

    ``fit(X_train, alg='cd', nb_epoch=N)`` trains the RBM stack greedily: the levels
    below the top are loaded from the checkpoints of earlier runs when the data names
    them (``mnist.load_data(nb_rbm=k)`` points at the workspaces of RBMs 1..k-1), and
    otherwise trained first, N steps each; then the top level trains N steps. The
    results hold the reconstruction error ``'se'`` (per sample) of the level being
    trained (``'level'``); steps count on across levels.
    """

    def _rbm(self):
        if len(self.layers) != 1 or not isinstance(self.layers[0], RBM):
            raise RuntimeError("Energy: add exactly one RBM layer (its out_dim lists the "
                               "stacked levels)")
        return self.layers[0]

    def fit(self, data=None, alg="cd", nb_epoch=0, with_test=False, validate_data=None,
            disp_freq=None, checkpoint_freq=0, device=None, batch_size=None, **fields):
        """Trains the RBM stack with CD-1 for ``nb_epoch`` steps per level trained.

        Returns:
            ``{step: [{'phase': 'train', 'level': k, 'se': ...}]}``.
        """
        if str(alg).lower() != "cd":
            raise ValueError("Energy.fit: alg must be 'cd', got {!r}".format(alg))
        self._check_ready()
        self._set_device(device)
        data = _data_arg("fit", data, self.train_data,
                         "fit: no training data; pass X_train or add a Data layer")
        self.train_data = data
        rbm = self._rbm()
        nb_epoch = int(nb_epoch)
        disp = int(disp_freq) if disp_freq is not None else max(1, nb_epoch // 20)
        it = data.batches(batch_size)
        x, _ = next(it)
        if not rbm.built:
            rbm.build(tuple(x.shape[1:]), self.device)
        top = len(rbm.out_dim) - 1
        loaded = _load_rbm_levels(rbm, data.checkpoint, dict(W="W", hb="hb", vb="vb")) \
            if data.checkpoint and top > 0 else 0
        loaded = min(loaded, top)
        if loaded:
            self._log("{}: levels 0..{} loaded from earlier RBM checkpoints".format(
                rbm.name, loaded - 1))
        res = {}
        t0 = time.time()
        for level in range(loaded, top + 1):
            for s in range(nb_epoch):
                step = self.step
                autograd.training = False
                v = rbm.visible(self._tensor(x), level)
                grads, se = rbm.cd_gradients(v, level)
                for p, g in grads:
                    self.updater.apply(s, p, g)
                if s % disp == 0 or s == nb_epoch - 1:
                    m = {"phase": "train", "level": level, "se": se}
                    res.setdefault(step, []).append(m)
                    self._log("step {:>6}: level {} reconstruction error {:.4f} ({:.1f}s)"
                              .format(step, level, se, time.time() - t0))
                self.step += 1
                if checkpoint_freq and self.step % checkpoint_freq == 0:
                    self._checkpoint(self.step)
                x, _ = next(it)
        it.close()
        path = self._checkpoint(self.step)
        if path:
            self._log("checkpoint {}".format(path))
        self.train_results.update(res)
        return res

    def evaluate(self, data=None, batch_size=None, test_steps=None, test_freq=0,
                 checkpoint_path=None, device=None, **fields):
        """The top level's reconstruction error on ``test_steps`` batches of ``data``."""
        self._set_device(device)
        data = _data_arg("evaluate", data, self.test_data, "evaluate: no test data")
        rbm = self._rbm()
        bs = int(batch_size or data.batch_size)
        steps = int(test_steps) if test_steps else max(1, data.num_samples() // bs)
        if checkpoint_path is not None:
            self.load(checkpoint_path, data)
        it = data.batches(bs, shuffle=False)
        total = 0.0
        top = len(rbm.out_dim) - 1
        autograd.training = False
        for _ in range(steps):
            x, _ = next(it)
            if not rbm.built:
                rbm.build(tuple(x.shape[1:]), self.device)
            with autograd.no_grad():
                v = rbm.visible(self._tensor(x), top)
                ph = rbm.up(v, top)
                v1 = rbm.down(ph, top)
                err = tensor_mod.to_numpy(v - v1)
            total += float((err ** 2).sum()) / len(x)
        it.close()
        m = {"phase": "test", "level": top, "se": total / steps}
        self._log("step {:>6}: test {}".format(self.step, _fmt(m)))
        return {self.step: [m]}

    def _forward(self, x, final=True):
        return self._rbm()(x)
