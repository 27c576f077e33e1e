"""Updaters (optimizers) of the classic API over singa.opt.

``SGD(lr, lr_type, decay, momentum, step, step_lr)`` and ``AdaGrad(lr)`` wrap
:class:`singa.opt.SGD` / :class:`singa.opt.AdaGrad`; ``decay`` is the weight decay,
and every parameter's ``lr``/``wd`` multipliers (Parameter fields, the ``w_lr``,
``b_wd``, ... keywords) scale the learning rate and weight decay of that parameter.

Learning-rate types (SINGA 0.x ``LRGenProto``), with ``base`` = ``lr``:

=============== ====================================================================
'fixed' / None  base
'step'          base * gamma ** floor(step / change_freq)  (defaults 60 and 0.997,
                as SINGA's Python binding sets them)
'manual'        step_lr[i] for the last i with step >= step[i] (SINGA's FixedStep)
'linear'        (1 - r) * base + r * final_lr, r = min(step / change_freq, 1)
'exponential'   base / 2 ** (step / change_freq)
'inverse_t'     base / (1 + step / final_lr)
'inverse'       base * (1 + gamma * step) ** -pow
=============== ====================================================================
"""

import math

from .. import opt

__all__ = ["Updater", "SGD", "AdaGrad", "LearningRate"]


class LearningRate(opt.DecayScheduler):
    """A SINGA 0.x learning-rate generator as a singa.opt schedule (step -> lr)."""

    TYPES = ("fixed", "step", "manual", "linear", "exponential", "inverse_t", "inverse")

    def __init__(self, base, lr_type=None, step=(0,), step_lr=(0.01,), change_freq=None,
                 gamma=None, final_lr=None, pow=None):
        lr_type = "fixed" if lr_type in (None, "none", "") else str(lr_type).lower()
        if lr_type == "fixedstep":
            lr_type = "manual"
        if lr_type not in self.TYPES:
            raise ValueError("lr_type must be one of {}, got {!r}".format(self.TYPES, lr_type))
        if base is None:
            base = step_lr[0] if lr_type == "manual" else 0.01
        super(LearningRate, self).__init__(base)
        if self.init_value < 0:
            raise ValueError("lr must be >= 0, got {}".format(base))
        self.lr_type = lr_type
        defaults = {"step": (60, 0.997), "linear": (10, None), "exponential": (2, None)}
        cf, gm = defaults.get(lr_type, (1, 1.0))
        self.change_freq = int(change_freq if change_freq is not None else cf)
        self.gamma = float(gamma if gamma is not None else (gm if gm is not None else 1.0))
        self.final_lr = float(final_lr if final_lr is not None else 0.1)
        self.pow = float(pow if pow is not None else 0.0)
        if self.change_freq < 1:
            raise ValueError("change_freq must be >= 1, got {}".format(change_freq))
        if lr_type == "manual":
            step = tuple(step) if isinstance(step, (tuple, list)) else (step,)
            step_lr = tuple(step_lr) if isinstance(step_lr, (tuple, list)) else (step_lr,)
            if len(step) != len(step_lr) or not step:
                raise ValueError("lr_type='manual' needs step and step_lr of the same length, "
                                 "got {} and {}".format(step, step_lr))
            if any(b <= a for a, b in zip(step, step[1:])):
                raise ValueError("step must increase, got {}".format(step))
            self.step, self.step_lr = [int(s) for s in step], [float(v) for v in step_lr]

    def value(self, step, epoch):
        t, base = step, self.init_value
        if self.lr_type == "fixed":
            return base
        if self.lr_type == "step":
            return base * self.gamma ** (t // self.change_freq)
        if self.lr_type == "manual":
            v = self.step_lr[0]
            for s, lr in zip(self.step, self.step_lr):
                if t >= s:
                    v = lr
            return v
        if self.lr_type == "linear":
            r = min(t / float(self.change_freq), 1.0)
            return (1 - r) * base + r * self.final_lr
        if self.lr_type == "exponential":
            return base / 2.0 ** (t / float(self.change_freq))
        if self.lr_type == "inverse_t":
            return base / (1.0 + t / self.final_lr)
        return base * math.pow(1.0 + self.gamma * t, -self.pow)


class Updater(object):
    """Base of the classic updaters: owns a singa.opt optimizer.

    Methods:
        apply(step, param, grad): one update of ``param`` at training step ``step``.
        Update(step, layer): updates every parameter of ``layer`` from the gradients
            its last ``ComputeGradient()`` stored (the interactive API).
    """

    def __init__(self, lr=0.01, lr_type=None, decay=0.0, momentum=0.0, step=(0,),
                 step_lr=(0.01,), **fields):
        sched_keys = ("change_freq", "gamma", "final_lr", "pow")
        sched = {k: fields.pop(k) for k in sched_keys if k in fields}
        if fields:
            raise TypeError("{}: unexpected arguments {}".format(type(self).__name__,
                                                                  sorted(fields)))
        self.lr = LearningRate(lr, lr_type, step, step_lr, **sched)
        self.lr_type = self.lr.lr_type
        self.decay = float(decay)
        self.momentum = float(momentum)
        if self.decay < 0:
            raise ValueError("decay (weight decay) must be >= 0, got {}".format(decay))
        self.opt = self._make_opt()

    def _make_opt(self):
        raise NotImplementedError

    def lr_at(self, step):
        """The base learning rate at ``step``."""
        return self.lr(step)

    def apply(self, step, param, grad):
        self.opt.step_counter = int(step)
        self.opt.update(param, grad)

    def Update(self, step, layer):
        """Updates ``layer``'s parameters with the gradients of its last ComputeGradient."""
        for p, g in getattr(layer, "_param_grads", ()):
            self.apply(step, p, g)
        layer._param_grads = []

    def get_states(self, names=None):
        return self.opt.get_states(names)

    def set_states(self, states, params=None):
        self.opt.set_states(states, params)


class SGD(Updater):
    """SGD with momentum and weight decay (singa.opt.SGD).

    Args:
        lr: base learning rate (with lr_type='manual' the rates come from step_lr).
        lr_type: see the module docstring.
        decay: weight decay. momentum: momentum.
        step, step_lr: boundaries and rates of lr_type='manual'.
        change_freq, gamma, final_lr, pow: settings of the other lr types.
    """

    def __init__(self, lr=None, lr_type=None, decay=0.0, momentum=0.0, step=(0,),
                 step_lr=(0.01,), **fields):
        super(SGD, self).__init__(lr, lr_type, decay, momentum, step, step_lr, **fields)

    def _make_opt(self):
        return opt.SGD(lr=self.lr, momentum=self.momentum, weight_decay=self.decay)


class AdaGrad(Updater):
    """AdaGrad (singa.opt.AdaGrad): h += g^2; p -= lr * g / sqrt(h + epsilon)."""

    def __init__(self, lr=0.01, lr_type=None, decay=0.0, momentum=0.0, step=(0,),
                 step_lr=(0.01,), epsilon=1e-8, **fields):
        self.epsilon = float(epsilon)
        super(AdaGrad, self).__init__(lr, lr_type, decay, momentum, step, step_lr, **fields)
        if self.momentum:
            raise ValueError("AdaGrad has no momentum")

    def _make_opt(self):
        return opt.AdaGrad(lr=self.lr, epsilon=self.epsilon, weight_decay=self.decay)
