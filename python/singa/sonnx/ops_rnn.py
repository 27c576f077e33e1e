"""Handlers for ONNX's RNN, GRU and LSTM, unrolled over time with autograd operations
(so gradients reach the weights through every step)."""

import numpy as np

from .. import autograd
from ..tensor import _DTYPE_TO_NP, Tensor
from .ops_math import affine
from .registry import register

__all__ = []

_ACTIVATIONS = {"Sigmoid": autograd.sigmoid, "Tanh": autograd.tanh, "Relu": autograd.relu}
_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _activations(node, directions):
    names = node.getattr("activations")
    per_dir = _DEFAULTS[node.op_type]
    if names is None:
        names = per_dir * directions
    fns = []
    for name in names:
        if name not in _ACTIVATIONS:
            raise node.error("activation {!r} is not supported (Sigmoid, Tanh, Relu)".format(
                name))
        fns.append(_ACTIVATIONS[name])
    return [fns[d * len(per_dir):(d + 1) * len(per_dir)] for d in range(directions)]


def _pick(t, d, rows=None):
    """Direction d of a (directions, ...) tensor, optionally rows [a, b) of it."""
    y = autograd.reshape(autograd.slice(t, [d], [d + 1], [0]), list(t.shape[1:]))
    if rows is not None:
        y = autograd.slice(y, [rows[0]], [rows[1]], [0])
    return y


def _linear(x, w, b=None):
    """x @ w^T (+ b)."""
    y = autograd.matmul(x, autograd.transpose(w, [1, 0]))
    return y if b is None else autograd.add(y, b)


def _clip(node, t):
    c = node.getattr("clip")
    return t if c is None else autograd.clip(t, -c, c)


def _run_direction(node, xs, w, r, b, h, c, p, acts, hidden):
    op = node.op_type
    n = _GATES[op]
    ws = [_pick(w, 0, (k * hidden, (k + 1) * hidden)) for k in range(n)]
    rs = [_pick(r, 0, (k * hidden, (k + 1) * hidden)) for k in range(n)]
    wb = [None] * n if b is None else \
        [_pick(b, 0, (k * hidden, (k + 1) * hidden)) for k in range(n)]
    rb = [None] * n if b is None else \
        [_pick(b, 0, ((n + k) * hidden, (n + k + 1) * hidden)) for k in range(n)]
    peep = None if p is None else [_pick(p, 0, (k * hidden, (k + 1) * hidden))
                                   for k in range(3)]
    outs = []
    for x in xs:
        if op == "RNN":
            h = acts[0](_clip(node, autograd.add(_linear(x, ws[0], wb[0]),
                                                 _linear(h, rs[0], rb[0]))))
        elif op == "GRU":
            z = acts[0](_clip(node, autograd.add(_linear(x, ws[0], wb[0]),
                                                 _linear(h, rs[0], rb[0]))))
            rg = acts[0](_clip(node, autograd.add(_linear(x, ws[1], wb[1]),
                                                  _linear(h, rs[1], rb[1]))))
            if node.getattr("linear_before_reset", 0):
                recur = autograd.mul(rg, _linear(h, rs[2], rb[2]))
            else:
                recur = _linear(autograd.mul(rg, h), rs[2], rb[2])
            cand = acts[1](_clip(node, autograd.add(_linear(x, ws[2], wb[2]), recur)))
            h = autograd.add(autograd.mul(affine(z, -1.0, 1.0), cand), autograd.mul(z, h))
        else:
            def gate(k, act, peephole=None, state=None):
                pre = autograd.add(_linear(x, ws[k], wb[k]), _linear(h, rs[k], rb[k]))
                if peephole is not None:
                    pre = autograd.add(pre, autograd.mul(peephole, state))
                return act(_clip(node, pre))
            i = gate(0, acts[0], peep and peep[0], c)
            f = gate(2, acts[0], peep and peep[2], c)
            if node.getattr("input_forget", 0):
                f = affine(i, -1.0, 1.0)
            cand = gate(3, acts[1])
            c = autograd.add(autograd.mul(f, c), autograd.mul(i, cand))
            o = gate(1, acts[0], peep and peep[1], c)
            h = autograd.mul(o, acts[2](c))
        outs.append(h)
    return outs, h, c


@register("RNN", "GRU", "LSTM")
def _recurrent(node, ins):
    x, w, r, b = ins.t(0), ins.t(1), ins.t(2), ins.t(3)
    steps_axis = 1 if node.getattr("layout", 0) else 0
    if ins.has(4) and (ins.host(4, "sequence_lens") != x.shape[steps_axis]).any():
        raise node.error("sequence_lens shorter than the input is not supported (every "
                         "sequence runs all {} steps)".format(x.shape[steps_axis]))
    h0, c0 = ins.t(5), ins.t(6) if node.op_type == "LSTM" else None
    p = ins.t(7) if node.op_type == "LSTM" else None
    batch_first = bool(node.getattr("layout", 0))
    if batch_first:
        x = autograd.transpose(x, [1, 0, 2])
        h0 = None if h0 is None else autograd.transpose(h0, [1, 0, 2])
        c0 = None if c0 is None else autograd.transpose(c0, [1, 0, 2])
    hidden = node.getattr("hidden_size", r.shape[-1])
    direction = node.getattr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    acts = _activations(node, dirs)
    steps, batch = x.shape[0], x.shape[1]
    xs = [autograd.reshape(s, [batch, x.shape[2]])
          for s in autograd.split(x, 0, [1] * steps)] if steps > 1 else \
        [autograd.reshape(x, [batch, x.shape[2]])]
    zeros = Tensor(device=x.device, data=np.zeros((batch, hidden), _DTYPE_TO_NP[x.dtype]),
                   dtype=x.dtype, requires_grad=False)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        h = zeros if h0 is None else _pick(h0, d)
        c = zeros if c0 is None else _pick(c0, d)
        def pick(t, d=d):
            return None if t is None else autograd.slice(t, [d], [d + 1], [0])
        outs, h, c = _run_direction(node, xs[::-1] if reverse else xs, pick(w), pick(r),
                                    pick(b), h, c, pick(p), acts[d], hidden)
        ys.append(outs[::-1] if reverse else outs)
        hs.append(h)
        cs.append(c)
    # Y: (steps, directions, batch, hidden)
    per_step = [autograd.cat([autograd.reshape(ys[d][t], [1, 1, batch, hidden])
                              for d in range(dirs)], 1) for t in range(steps)]
    y = autograd.cat(per_step, 0) if steps > 1 else per_step[0]
    y_h = autograd.cat([autograd.reshape(h, [1, batch, hidden]) for h in hs], 0)
    y_c = autograd.cat([autograd.reshape(c, [1, batch, hidden]) for c in cs], 0)
    if batch_first:
        y = autograd.transpose(y, [2, 0, 1, 3])
        y_h = autograd.transpose(y_h, [1, 0, 2])
        y_c = autograd.transpose(y_c, [1, 0, 2])
    return (y, y_h, y_c) if node.op_type == "LSTM" else (y, y_h)
