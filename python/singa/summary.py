"""The layer-by-layer summary behind ``Model.summary``: output shapes and parameter
counts from one observed forward pass."""

import numpy as np

from . import autograd
from . import tensor as tensor_mod
from .fit import _to_tensor
from .layer import observe_calls
from .tensor import Tensor

__all__ = ["summary"]


def summary(model, inputs, print_fn=print):
    """Prints each layer's output shape and parameter count of ``model`` for an input
    (``Model.summary`` calls this).

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
        xs = [_sample(i, model) for i in inputs]
    else:
        xs = [_sample(inputs, model)]
    model._name_layers()
    rows = []
    counted = {}

    def own_params(lay):
        key = id(lay)
        if key not in counted:
            counted[key] = sum(int(np.prod(t.shape)) for t in lay.get_params().values())
        return counted[key]

    # called as each layer call returns, so a layer's row follows its children's
    def record(lay, args, out, depth):
        if lay is model:
            return
        outs = out if isinstance(out, (tuple, list)) else [out]
        shapes = [tuple(o.shape) for o in outs if isinstance(o, Tensor)]
        rows.append({"name": lay.name or type(lay).__name__, "type": type(lay).__name__,
                     "output_shape": shapes[0] if len(shapes) == 1 else shapes,
                     "params": own_params(lay), "depth": depth})

    saved = {k: tensor_mod.to_numpy(t).copy() for k, t in model.get_states().items()}
    was_training = model.training
    error = None
    try:
        model.eval()
        with autograd.no_grad(), observe_calls(record):
            if not model._initialized:
                model.initialize(*xs)
                model._initialized = True
            out = model.forward(*xs)
        model._name_states()
        model._name_layers()
    except ValueError as e:
        error = e
        out = None
    finally:
        model.train(was_training)
        states = model.get_states()
        for k, a in saved.items():
            if k in states:
                states[k].copy_from_numpy(a)
    total = sum(int(np.prod(t.shape)) for t in model.get_params().values())
    if print_fn is not None:
        _print_summary(model, xs, rows, total, out, print_fn, error)
    if error is not None:
        raise error
    rows.append({"name": "total", "type": type(model).__name__,
                 "output_shape": tuple(out.shape) if isinstance(out, Tensor) else None,
                 "params": total, "depth": -1})
    return rows


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
