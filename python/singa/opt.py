"""Optimizers and hyper-parameter schedules (SINGA's ``singa.opt``).

Every hyper-parameter may be a float or a schedule (a :class:`DecayScheduler`, or
any callable ``step -> value``). As in SINGA, a scheduler called with the step as a
(1,) Tensor returns a (1,) Tensor, and a user's scheduler only needs to override
``call(step)``; called with a plain number it returns a float. ``step_counter`` and
``lr_value`` are (1,) Tensors kept current by ``step()`` and ``set_states`` (updated
in place, so a recorded graph that reads them sees each step's value); they also
read as plain numbers (``float``, ``int``, comparisons, ``%f``). Per-parameter state (momentum buffers, moment
estimates) lives in a dict keyed by the parameter Tensor itself, so two layers
that both call their weight ``W`` never share state; checkpoints
(:meth:`Optimizer.get_states`) use parameter names instead.

The arithmetic is a set of pure update functions in torch.optim's functional style
(:func:`sgd_update`, :func:`rmsprop_update`, :func:`adagrad_update`,
:func:`adam_update`): core tensors and plain numbers in, the parameter and its state
updated in place by one fused kernel. The classes evaluate the hyper-parameters of
the current step, look up each parameter's state and call them. The classes keep no
graph-mode state: graph mode (singa.graph) watches the updates of a recorded step
from outside and replays them through :meth:`Optimizer.bind_update`.
"""

import math
import numbers

import numpy as np

from . import autograd
from . import singa_wrap as singa
from . import tensor as tensor_mod
from .errors import ArgumentTypeError
from .tensor import Tensor

# DistOpt comes from the module __getattr__ at the end
__all__ = ["DecayScheduler", "Constant", "ExponentialDecay", "StepSchedule", "Schedule",  # noqa: F822
           "Optimizer", "SGD", "RMSProp", "AdaGrad", "Adam", "MultiOptimizer",
           "sgd_update", "rmsprop_update", "adagrad_update", "adam_update", "DistOpt"]


# ------------------------------------------------------------------ schedules

class DecayScheduler(object):
    """Base of schedules: the value of a hyper-parameter at a step.

    ``sched(step)`` with ``step`` a (1,) Tensor returns ``call(step)``, a (1,) Tensor
    (SINGA's protocol: extend a schedule by overriding ``call``); with a plain number,
    ``sched(step, epoch=0)`` returns a float. The schedules here compute in
    ``value(step, epoch)`` (plain numbers, used on every update); a subclass that
    overrides only ``call`` is evaluated through it.
    """

    def __init__(self, init_value):
        self.init_value = _check_number("init_value", init_value)

    def __call__(self, step, epoch=0):
        if isinstance(step, Tensor):
            out = self.call(step)
            if not isinstance(out, Tensor) or out.size() != 1:
                raise TypeError("{}.call(step) must return a (1,) Tensor, got {!r}".format(
                    type(self).__name__, out))
            return out
        return float(self.value(_as_int(step), _as_int(epoch)))

    def call(self, step):
        """The value at ``step`` (a (1,) Tensor) as a (1,) float32 Tensor on its device."""
        if type(self).value is DecayScheduler.value:
            raise NotImplementedError("{} overrides neither call(step) nor value(step, epoch)"
                                      .format(type(self).__name__))
        out = Tensor((1,), step.device, requires_grad=False)
        out.set_value(self.value(_as_int(step), 0))
        return out

    def value(self, step, epoch):
        """The value at ``step`` (and ``epoch``), a plain number."""
        if type(self).call is DecayScheduler.call:
            raise NotImplementedError("{} overrides neither call(step) nor value(step, epoch)"
                                      .format(type(self).__name__))
        t = Tensor((1,), requires_grad=False)
        t.set_value(step)
        return _first(self.call(t))


class Constant(DecayScheduler):
    """The same value at every step."""

    def value(self, step, epoch):
        return self.init_value


class ExponentialDecay(DecayScheduler):
    """init_value * decay_rate ** (step / decay_steps), the exponent floored when
    ``staircase`` is True."""

    def __init__(self, init_value, decay_steps, decay_rate, staircase=False):
        super(ExponentialDecay, self).__init__(init_value)
        if not decay_steps > 0:
            raise ValueError("ExponentialDecay: decay_steps must be > 0, got {}"
                             .format(decay_steps))
        if not decay_rate > 0:
            raise ValueError("ExponentialDecay: decay_rate must be > 0, got {}".format(decay_rate))
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def value(self, step, epoch):
        e = step / float(self.decay_steps)
        if self.staircase:
            e = math.floor(e)
        return self.init_value * self.decay_rate ** e


class StepSchedule(DecayScheduler):
    """Multiplies the value by ``factor`` at each boundary (neon's ``Schedule``).

    Args:
        init_value: the value before the first boundary.
        boundaries: increasing step (or epoch) numbers; from boundary i on the value
            is init_value * factor ** (i + 1).
        factor: the multiplier applied at each boundary (a float, or one per boundary).
        by: 'step' counts optimizer steps, 'epoch' reads ``opt.epoch``.
    """

    def __init__(self, init_value, boundaries, factor, by="step"):
        super(StepSchedule, self).__init__(init_value)
        self.boundaries = [int(b) for b in boundaries]
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError("StepSchedule: boundaries must increase, got {}".format(boundaries))
        if isinstance(factor, numbers.Number):
            factor = [float(factor)] * len(self.boundaries)
        self.factors = [float(f) for f in factor]
        if len(self.factors) != len(self.boundaries):
            raise ValueError("StepSchedule: {} factors for {} boundaries".format(
                len(self.factors), len(self.boundaries)))
        if by not in ("step", "epoch"):
            raise ValueError("StepSchedule: by must be 'step' or 'epoch', got {!r}".format(by))
        self.by = by

    def value(self, step, epoch):
        t = step if self.by == "step" else epoch
        v = self.init_value
        for b, f in zip(self.boundaries, self.factors):
            if t >= b:
                v *= f
        return v


def Schedule(step_config, change, init_value=1.0, by="epoch"):
    """neon-style ``Schedule([22, 44, 65], 0.15)``: a :class:`StepSchedule` by epoch
    (multiply by ``init_value`` to scale a base learning rate)."""
    return StepSchedule(init_value, step_config, change, by=by)


def _first(t):
    """The first element of a Tensor, as a float."""
    return float(singa.to_numpy(t.data).reshape(-1)[0])


def _as_int(v):
    if isinstance(v, Tensor):
        return int(_first(v))
    if isinstance(v, np.ndarray):
        return int(v.reshape(-1)[0])
    return int(v)


class _NumberTensor(Tensor):
    """A (1,) Tensor that also reads as a Python number.

    SINGA's ``step_counter`` and ``lr_value`` are (1,) Tensors, while code written
    for plain numbers (``float(opt.lr_value)``, ``opt.step_counter >= 2``,
    ``'%f' % lr``) keeps working: ``float``/``int``/``bool``/``format`` read the value,
    and arithmetic and comparisons return (1,) Tensors of this kind, so their truth
    is their value (a plain Tensor of one element would be truthy whatever it holds).
    """

    __hash__ = Tensor.__hash__

    def __float__(self):
        return _first(self)

    def __int__(self):
        return int(_first(self))

    def __bool__(self):
        return _first(self) != 0.0

    def __format__(self, spec):
        return format(_first(self), spec)


def _number_result(name):
    base = getattr(Tensor, name)

    def op(self, *args):
        if args and not isinstance(args[0], (numbers.Real, Tensor, np.ndarray)):
            return NotImplemented  # e.g. pytest.approx: let the other side compare
        out = base(self, *args)
        if type(out) is Tensor and out.size() == 1:
            out.__class__ = _NumberTensor
        return out
    op.__name__ = name
    return op


for _name in ("__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__pow__",
              "__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rpow__", "__neg__",
              "__abs__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(_NumberTensor, _name, _number_result(_name))


def _number_tensor(value, dtype=tensor_mod.float32):
    t = _NumberTensor((1,), dtype=dtype, requires_grad=False)
    t.set_value(value)
    return t


class _unrecorded(object):
    """Pauses graph recording for writes to the hyper-parameter tensors (they are
    set between steps, never replayed), restoring the caller's state after."""

    def __enter__(self):
        self.paused = singa.GraphRecording()
        if self.paused:
            singa.GraphPause(True)

    def __exit__(self, *exc):
        if self.paused:
            singa.GraphPause(False)


def _check_number(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ArgumentTypeError("{} must be a finite number, got {!r}".format(name, v))
    if not math.isfinite(v):
        raise ValueError("{} must be a finite number, got {!r}".format(name, v))
    return float(v)


def _hyper(name, v, low=0.0, high=None, low_open=False):
    """Validates a hyper-parameter (a number or a schedule) and returns a schedule."""
    if isinstance(v, Tensor):
        v = float(tensor_mod.to_numpy(v).reshape(-1)[0])
    if isinstance(v, DecayScheduler):
        first = v.init_value
    elif callable(v):
        return v
    else:
        first = _check_number(name, v)
        v = Constant(first)
    bad = first < low or (low_open and first == low) or (high is not None and first >= high)
    if bad:
        rng = "({}, {})".format(low, high) if low_open else "[{}, {})".format(low, high)
        if high is None:
            rng = "> {}".format(low) if low_open else ">= {}".format(low)
        raise ValueError("{} must be in {}, got {}".format(name, rng, first))
    return v


def _evaluate(sched, step, epoch):
    if type(sched) is Constant:  # the common case, on every update of every parameter
        return sched.init_value
    if isinstance(sched, DecayScheduler):
        return float(sched.value(step, epoch))
    v = sched(step)
    return _first(v) if isinstance(v, Tensor) else float(v)


# ------------------------------------------------------- pure update functions
#
# p, g and the state tensors are core tensors (singa_wrap.Tensor, a Tensor's .data)
# of one shape; every hyper-parameter is a plain number. Each call is one fused
# in-place kernel, which is why they take no Python Tensors: graph replay calls them
# on every step for every parameter. The kernels take float16 and bfloat16 parameters
# too: the core does their arithmetic in float32 and stores the results (parameter and
# state) in the parameter's dtype; a gradient of another dtype is first converted to it.


def sgd_update(p, g, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """SGD step in place. With g' = g + weight_decay * p: buf = momentum * buf +
    (1 - dampening) * g'; the step is buf (g' + momentum * buf with nesterov) and
    p -= lr * step. ``buf`` None: no momentum buffer (the step is g')."""
    singa.SGDUpdate(p, g, buf, lr, momentum, dampening, weight_decay, nesterov)


def rmsprop_update(p, g, running_average, lr, rho, epsilon, weight_decay=0.0):
    """RMSProp step in place: v = rho * v + (1 - rho) * g'^2; p -= lr * g' / sqrt(v + epsilon),
    with g' = g + weight_decay * p and v the ``running_average``."""
    singa.RMSPropUpdate(p, g, running_average, lr, rho, epsilon, weight_decay)


def adagrad_update(p, g, history, lr, epsilon, weight_decay=0.0):
    """AdaGrad step in place: h += g'^2; p -= lr * g' / sqrt(h + epsilon), with
    g' = g + weight_decay * p and h the ``history``."""
    singa.AdaGradUpdate(p, g, history, lr, epsilon, weight_decay)


def adam_update(p, g, m, v, lr, beta_1, beta_2, epsilon, weight_decay, step):
    """Adam step number ``step`` (>= 1) in place, bias-corrected: m = b1*m + (1-b1)*g',
    v = b2*v + (1-b2)*g'^2, p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) +
    epsilon), with g' = g + weight_decay * p."""
    singa.AdamUpdate(p, g, m, v, lr, beta_1, beta_2, epsilon, weight_decay, step)


# ------------------------------------------------------------------ optimizers

class Optimizer(object):
    """Base optimizer.

    Args:
        lr: learning rate, a float or a schedule.
        dtype: the dtype of the hyper-parameter tensors (``lr_value``); SINGA's
            ``dtype=tensor.float16`` optimizer updates float16 parameters. Per-parameter
            state is kept in each parameter's dtype (which is ``dtype`` in SINGA, where
            the two must agree); float16 and bfloat16 parameters are updated in float32
            arithmetic and stored in their dtype.

    Attributes:
        step_counter: a (1,) float32 Tensor, the number of completed ``step()`` calls
            (schedules read it); assignable from a number.
        lr_value: a (1,) Tensor in ``dtype``, the learning rate at the current step.
        epoch: the current epoch, set by the training loop for epoch schedules.
    """

    _slots = ()  # names of the per-parameter state tensors

    def __init__(self, lr, dtype=tensor_mod.float32):
        self.lr = _hyper("lr", lr)
        if dtype not in (tensor_mod.float32, tensor_mod.float16, tensor_mod.float64) and \
                getattr(tensor_mod, "bfloat16", None) != dtype:
            raise ValueError("{}: dtype must be a floating-point dtype of singa.tensor, got {!r}"
                             .format(type(self).__name__, dtype))
        self.dtype = dtype
        self._step = 0
        self._step_tensor = _number_tensor(0.0)
        self._lr_tensor = _number_tensor(0.0, dtype)
        self._lr_written = None
        self.epoch = 0
        self._states = {}      # param Tensor -> {slot: CTensor}
        self._pending = {}     # param name -> {slot: ndarray}, from set_states
        self._config = {}      # param Tensor -> {'lr_mult': .., 'wd_mult': ..}

    # ---- the step counter and the learning rate as SINGA's (1,) Tensors ----
    @property
    def step_counter(self):
        return self._step_tensor

    @step_counter.setter
    def step_counter(self, value):
        # the same tensor is updated in place: a recorded graph may read it
        self._step = int(_first(value) if isinstance(value, Tensor) else value)
        with _unrecorded():
            self._step_tensor.set_value(self._step)

    @property
    def lr_value(self):
        """The learning rate at the current step (and epoch), as a (1,) Tensor."""
        self._refresh_lr()
        return self._lr_tensor

    def _refresh_lr(self):
        v = self.value(self.lr)
        if v != self._lr_written:
            with _unrecorded():
                self._lr_tensor.set_value(v)
            self._lr_written = v

    # ---- driving ----
    def __call__(self, loss):
        """Back-propagates ``loss``, updates every parameter, then advances one step."""
        self.call(loss)
        self.step()

    def call(self, loss):
        """Back-propagates ``loss`` and updates every parameter, without advancing the
        step (SINGA's half of ``self(loss)``; call ``step()`` once per iteration after)."""
        for p, g in autograd.backward(loss):
            self.update(p, g)

    def device_check(self, *inputs):
        """Moves (in place) every Tensor among ``inputs`` to the device of the first, as
        SINGA's SGD does with a parameter and its hyper-parameter tensors."""
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError("{}.device_check: input {} is a {}, not a Tensor"
                                .format(type(self).__name__, i, type(t).__name__))
        if len(inputs) < 2 or not singa.USE_CUDA:
            return  # a CPU-only build has one device: nothing can be elsewhere
        dev = inputs[0].device
        for t in inputs[1:]:
            if t.device != dev:
                t.to_device(dev)

    def backward_and_update(self, loss):
        """SINGA's name for ``self(loss)``."""
        self(loss)

    def step(self):
        """Advances the step counter (call once per iteration, after the updates) and
        brings ``lr_value`` to the new step's learning rate."""
        self.step_counter = self._step + 1
        self._refresh_lr()

    def update(self, param, grad):
        """Updates ``param`` in place from its gradient ``grad``."""
        self.apply(param.name, param, grad)

    def apply(self, param_name, param_value, param_grad):
        """SINGA's signature; the state is keyed by ``param_value`` itself."""
        p = param_value.data if isinstance(param_value, Tensor) else param_value
        g = param_grad.data if isinstance(param_grad, Tensor) else param_grad
        if not isinstance(p, singa.Tensor) or not isinstance(g, singa.Tensor):
            raise TypeError("{}: parameter {!r} and its gradient must be Tensors, got {} and {}"
                            .format(type(self).__name__, param_name, type(p).__name__,
                                    type(g).__name__))
        if tuple(p.shape()) != tuple(g.shape()):
            raise ValueError("{}: gradient of shape {} does not match parameter {!r} of shape {}"
                             .format(type(self).__name__, g.shape(), param_name, p.shape()))
        mult = self.param_config(param_value)
        self._update(p, g, self._state_of(param_value, param_name, p), mult["lr_mult"],
                     mult["wd_mult"])

    def _update(self, p, g, state, lr_mult, wd_mult):
        """Evaluates the hyper-parameters of the current step and runs the pure update
        function on the core tensors ``p``, ``g`` and the parameter's ``state``."""
        raise NotImplementedError

    def bind_update(self, param):
        """A function ``update(g)`` that updates ``param`` from a core gradient tensor
        ``g`` as ``update(param, grad)`` does, with the hyper-parameters of the step at
        which it is called (schedules keep working).

        What ``update`` looks up on every call (the optimizer in charge of the
        parameter, its multipliers, its state tensors) is looked up once, here; graph
        replay calls the result for every parameter on every step. An optimizer whose
        class overrides ``update`` or ``apply`` gets a function that goes through its
        own ``update``. Bind again after ``set_states`` (it replaces the state tensors)
        or ``set_param_config``.
        """
        if _overrides(self, Optimizer, "update", "apply"):
            def custom_update(g):
                self.update(param, tensor_mod.from_raw_tensor(g))
            return custom_update
        mult = self.param_config(param)
        p, lr_mult, wd_mult = param.data, mult["lr_mult"], mult["wd_mult"]
        state = self._state_of(param, param.name, p)
        apply = self._update

        def bound_update(g):
            apply(p, g, state, lr_mult, wd_mult)
        return bound_update

    def value(self, sched):
        """The value of a hyper-parameter (float or schedule) at the current step."""
        if type(sched) is Constant:  # most hyper-parameters, read on every update
            return sched.init_value
        return _evaluate(sched, self._step, self.epoch)

    # ---- per-parameter settings ----
    def set_param_config(self, param, lr_mult=None, wd_mult=None):
        """Sets a learning-rate and/or weight-decay multiplier for one parameter."""
        cfg = self._config.setdefault(param, {})
        for k, v in (("lr_mult", lr_mult), ("wd_mult", wd_mult)):
            if v is not None:
                cfg[k] = _check_number(k, v)
                if cfg[k] < 0:
                    raise ValueError("{} must be >= 0, got {}".format(k, v))

    def param_config(self, param):
        """The multipliers of ``param``: set_param_config, else tensor attributes, else 1."""
        cfg = self._config.get(param, {})
        return {k: cfg.get(k, float(getattr(param, k, 1.0))) for k in ("lr_mult", "wd_mult")}

    # ---- state ----
    def _state_of(self, param, name, p):
        st = self._states.get(param)
        if st is None:
            st = {}
            saved = self._pending.pop(name, None) if name is not None else None
            for slot in self._slots:
                t = singa.Tensor(list(p.shape()), p.device(), p.data_type())
                if saved is not None and slot in saved:
                    arr = saved[slot]
                    if tuple(arr.shape) != tuple(p.shape()):
                        raise ValueError("optimizer state {!r} of parameter {!r} has shape {}, "
                                         "the parameter has {}".format(slot, name, arr.shape,
                                                                       p.shape()))
                    tensor_mod.copy_from_numpy(t, arr)
                else:
                    t.SetValue(0.0)
                st[slot] = t
            self._states[param] = st
        return st

    def get_states(self, names=None):
        """A flat dict of NumPy arrays and numbers: ``step_counter``, ``epoch`` and
        ``"<param name>/<slot>"`` per state tensor.

        Args:
            names: optional ``{param: name}`` (e.g. a model's dotted names); by default
                each parameter's ``.name``, which must then be unique.
        """
        states = {"step_counter": int(self._step), "epoch": int(self.epoch)}
        seen = {}
        for param, st in self._states.items():
            name = names.get(param) if names is not None else param.name
            if name is None:
                if names is not None:
                    continue  # not part of the model being saved
                raise ValueError("get_states: a parameter has no name; name it or pass names=")
            if name in seen:
                raise ValueError("get_states: two parameters are both named {!r}; pass names= "
                                 "(Model.save_states does) to tell them apart".format(name))
            seen[name] = param
            for slot, t in st.items():
                states["{}/{}".format(name, slot)] = singa.to_numpy(t).copy()
        for name, saved in self._pending.items():  # loaded but not used yet: keep them
            for slot, arr in saved.items():
                states.setdefault("{}/{}".format(name, slot), arr)
        return states

    def set_states(self, states, params=None):
        """Restores what :meth:`get_states` returned.

        Args:
            states: the dict (NumPy arrays and numbers).
            params: optional ``{name: param}``; without it each state is bound when a
                parameter of that ``.name`` is first updated.
        """
        self.step_counter = _as_int(states.get("step_counter", 0))
        self.epoch = int(states.get("epoch", 0))
        self._refresh_lr()
        self._states = {}
        self._pending = {}
        for key, arr in states.items():
            if "/" not in key:
                continue
            name, slot = key.rsplit("/", 1)
            if slot not in self._slots:
                raise ValueError("{}: unknown state slot {!r} in {!r}".format(
                    type(self).__name__, slot, key))
            self._pending.setdefault(name, {})[slot] = np.asarray(arr)
        if params is not None:
            for name, param in params.items():
                if name in self._pending:
                    self._state_of(param, name, param.data)
            left = sorted(self._pending)
            if left:
                raise ValueError("optimizer states for unknown parameters: {}".format(left))


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, weight decay and Nesterov.

    With g' = g + wd * p:  buf = momentum * buf + (1 - dampening) * g'  (buf starts at 0,
    as in SINGA); the step is buf, or g' + momentum * buf with nesterov, and
    p -= lr * step.
    """

    def __init__(self, lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 dtype=tensor_mod.float32):
        super(SGD, self).__init__(lr, dtype)
        self.momentum = _hyper("momentum", momentum, 0.0)
        self.dampening = _hyper("dampening", dampening, 0.0, 1.0 + 1e-12)
        self.weight_decay = _hyper("weight_decay", weight_decay, 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov:
            m0 = _evaluate(self.momentum, 0, 0)
            d0 = _evaluate(self.dampening, 0, 0)
            if m0 <= 0 or d0 != 0:
                raise ValueError("SGD: nesterov needs momentum > 0 and dampening == 0")
        # Only SGD with momentum keeps a buffer; a momentum schedule may start at 0.
        mom_static = isinstance(self.momentum, Constant) and self.momentum.init_value == 0
        self._slots = () if mom_static else ("momentum",)

    def _update(self, p, g, state, lr_mult, wd_mult):
        lr = self.value(self.lr) * lr_mult
        wd = self.value(self.weight_decay) * wd_mult
        mom = self.value(self.momentum) if self._slots else 0.0
        buf = state["momentum"] if self._slots and (mom != 0 or self.nesterov) else None
        sgd_update(p, g, buf, lr, mom, self.value(self.dampening), wd, self.nesterov)


class RMSProp(Optimizer):
    """RMSProp: v = rho * v + (1 - rho) * g'^2;  p -= lr * g' / sqrt(v + epsilon),
    with g' = g + wd * p (SINGA's placement of epsilon)."""

    _slots = ("running_average",)

    def __init__(self, lr=0.1, rho=0.9, epsilon=1e-8, weight_decay=0, dtype=tensor_mod.float32):
        super(RMSProp, self).__init__(lr, dtype)
        self.rho = _hyper("rho", rho, 0.0, 1.0)
        self.epsilon = _hyper("epsilon", epsilon, 0.0, low_open=True)
        self.weight_decay = _hyper("weight_decay", weight_decay, 0.0)

    def _update(self, p, g, state, lr_mult, wd_mult):
        lr = self.value(self.lr) * lr_mult
        wd = self.value(self.weight_decay) * wd_mult
        rmsprop_update(p, g, state["running_average"], lr, self.value(self.rho),
                       self.value(self.epsilon), wd)


class AdaGrad(Optimizer):
    """AdaGrad: h += g'^2;  p -= lr * g' / sqrt(h + epsilon), with g' = g + wd * p."""

    _slots = ("history",)

    def __init__(self, lr=0.1, epsilon=1e-8, weight_decay=0, dtype=tensor_mod.float32):
        super(AdaGrad, self).__init__(lr, dtype)
        self.epsilon = _hyper("epsilon", epsilon, 0.0, low_open=True)
        self.weight_decay = _hyper("weight_decay", weight_decay, 0.0)

    def _update(self, p, g, state, lr_mult, wd_mult):
        lr = self.value(self.lr) * lr_mult
        wd = self.value(self.weight_decay) * wd_mult
        adagrad_update(p, g, state["history"], lr, self.value(self.epsilon), wd)


class Adam(Optimizer):
    """Adam with bias correction: m = b1*m + (1-b1)*g', v = b2*v + (1-b2)*g'^2,
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon), t = step_counter + 1.
    The default learning rate is SINGA's (0.1)."""

    _slots = ("m", "v")

    def __init__(self, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0,
                 dtype=tensor_mod.float32):
        super(Adam, self).__init__(lr, dtype)
        self.beta_1 = _hyper("beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _hyper("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _hyper("epsilon", epsilon, 0.0, low_open=True)
        self.weight_decay = _hyper("weight_decay", weight_decay, 0.0)

    def _update(self, p, g, state, lr_mult, wd_mult):
        lr = self.value(self.lr) * lr_mult
        wd = self.value(self.weight_decay) * wd_mult
        adam_update(p, g, state["m"], state["v"], lr, self.value(self.beta_1),
                    self.value(self.beta_2), self.value(self.epsilon), wd, self._step + 1)


def _overrides(opt, base, *methods):
    """Whether ``opt``'s class replaces any of ``methods`` that ``base`` defines (an
    optimizer written by a user may override update/apply instead of _update)."""
    cls = type(opt)
    return any(getattr(cls, m) is not getattr(base, m) for m in methods)


# ------------------------------------------------------------ parameter groups

def _is_bias(name):
    last = name.replace(":", ".").rsplit(".", 1)[-1].lower()
    return last in ("b", "bias") or last.endswith("bias")


class MultiOptimizer(Optimizer):
    """Routes each parameter to one of several optimizers (neon's ``MultiOptimizer``).

    Args:
        optimizers: a dict with a ``'default'`` entry. Other keys are tried in order:
            ``'bias'`` (any case) matches parameters whose last name part is ``b`` or
            ends with ``bias``; ``'weight'`` matches the other non-default ones named
            ``W``/``weight``; a callable key ``f(name, param) -> bool`` matches where it
            returns True; any other string matches a parameter whose dotted name equals
            it or starts with it followed by ``.`` (a layer-name prefix).
    """

    def __init__(self, optimizers):
        if "default" not in optimizers:
            raise ValueError("MultiOptimizer: the mapping needs a 'default' optimizer")
        for k, o in optimizers.items():
            if not isinstance(o, Optimizer) or isinstance(o, MultiOptimizer):
                raise ValueError("MultiOptimizer: {!r} maps to {!r}, not an optimizer".format(k, o))
        self.optimizers = dict(optimizers)
        self._route = {}
        self.dtype = self.optimizers["default"].dtype
        self._step = 0
        self._step_tensor = _number_tensor(0.0)
        self._lr_tensor = _number_tensor(0.0, self.dtype)
        self._lr_written = None
        self._epoch = 0

    # step and epoch are forwarded so schedules of every member see the same clock
    @property
    def step_counter(self):
        return self._step_tensor

    @step_counter.setter
    def step_counter(self, v):
        Optimizer.step_counter.fset(self, v)
        for o in self.optimizers.values():
            o.step_counter = self._step

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, v):
        self._epoch = v
        for o in self.optimizers.values():
            o.epoch = v

    @property
    def lr(self):
        return self.optimizers["default"].lr

    def _match(self, key, name, param):
        if callable(key):
            return bool(key(name, param))
        if name is None:
            return False
        if key.lower() == "bias":
            return _is_bias(name)
        if key.lower() == "weight":
            last = name.rsplit(".", 1)[-1]
            return last in ("W", "weight") or last.endswith("weight")
        return name == key or name.startswith(key + ".")

    def optimizer_for(self, param, name=None):
        """The optimizer that updates ``param``."""
        o = self._route.get(param)
        if o is None:
            name = param.name if name is None else name
            o = self.optimizers["default"]
            for key, cand in self.optimizers.items():
                if key != "default" and self._match(key, name, param):
                    o = cand
                    break
            self._route[param] = o
        return o

    def apply(self, param_name, param_value, param_grad):
        self.optimizer_for(param_value, param_name).apply(param_name, param_value, param_grad)

    def bind_update(self, param):
        """The bound update of the optimizer that ``param`` is routed to (see
        Optimizer.bind_update)."""
        if _overrides(self, MultiOptimizer, "update", "apply"):
            return super(MultiOptimizer, self).bind_update(param)
        return self.optimizer_for(param).bind_update(param)

    def set_param_config(self, param, lr_mult=None, wd_mult=None):
        self.optimizer_for(param).set_param_config(param, lr_mult, wd_mult)

    def get_states(self, names=None):
        states = {"step_counter": int(self._step), "epoch": int(self.epoch)}
        for key, o in self._string_keyed():
            for k, v in o.get_states(names).items():
                if "/" in k:
                    states["{}|{}".format(key, k)] = v
        return states

    def set_states(self, states, params=None):
        self.step_counter = _as_int(states.get("step_counter", 0))
        self.epoch = int(states.get("epoch", 0))
        self._refresh_lr()
        for key, o in self._string_keyed():
            sub = {k.split("|", 1)[1]: v for k, v in states.items()
                   if k.startswith(key + "|")}
            sub["step_counter"], sub["epoch"] = self._step, self.epoch
            o.set_states(sub)
            if params is not None:
                for name, p in params.items():
                    if name in o._pending:
                        o._state_of(p, name, p.data)
        if params is not None:
            left = sorted(n for _, o in self._string_keyed() for n in o._pending)
            if left:
                raise ValueError("optimizer states for unknown parameters: {}".format(left))

    def _string_keyed(self):
        # callable keys get stable names from their position in the mapping
        return [(k if isinstance(k, str) else "rule{}".format(i), o)
                for i, (k, o) in enumerate(self.optimizers.items())]


def __getattr__(name):
    # DistOpt lives in singa.dist, which builds on this module: it is looked up on first
    # use. (mpi4py itself is imported only when a DistOpt is made.)
    if name == "DistOpt":
        from .dist.distopt import DistOpt
        return DistOpt
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
