"""Testing helpers: forward checks against NumPy and central-difference gradients.

``numeric_grad`` is the one finite-difference routine: ``numerical_gradient`` and
``gradcheck`` (Operations on Tensors) and the core kernel tests (plain functions of NumPy
arrays or core tensors) all differentiate through it.
"""

import numpy as np

from . import autograd
from . import singa_wrap as singa
from . import tensor

__all__ = ["tensor_from", "check_forward", "numeric_grad", "numerical_gradient", "gradcheck"]


def _as_tensor(arr, requires_grad):
    """A float64 Tensor with its own copy of ``arr``'s values."""
    t = tensor.from_numpy(np.array(arr, dtype=np.float64))
    t.requires_grad = requires_grad
    t.stores_grad = requires_grad
    return t


def tensor_from(a, requires_grad=True, stores_grad=False):
    """A Tensor with the values of array ``a`` and the given autograd flags."""
    t = tensor.from_numpy(np.ascontiguousarray(a))
    t.requires_grad = requires_grad
    t.stores_grad = stores_grad
    return t


def check_forward(fn, ref, arrays, rtol=1e-5, atol=1e-6):
    """Checks ``fn`` (on float32 Tensors) against the NumPy reference ``ref`` (computed in
    float64), with ``autograd.training`` off and on; restores the flag afterwards."""
    expected = np.asarray(ref(*[np.asarray(a, np.float64) for a in arrays]))
    old = autograd.training
    try:
        for mode in (False, True):
            autograd.training = mode
            y = fn(*[tensor_from(np.asarray(a, np.float32)) for a in arrays])
            got = tensor.to_numpy(y)
            assert got.shape == expected.shape, (got.shape, expected.shape)
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    finally:
        autograd.training = old


def _writable_values(x):
    """A NumPy array sharing ``x``'s memory, so that writing to it changes ``x``."""
    if isinstance(x, np.ndarray):
        view = x
    elif isinstance(x, (tensor.Tensor, singa.Tensor)):
        core = x.data if isinstance(x, tensor.Tensor) else x
        view = singa.to_numpy(core)
        if view.__array_interface__["data"][0] != core.data_ptr():
            raise ValueError("numeric_grad: the tensor's values are not in host memory; "
                             "move it to the CPU first")
    else:
        raise TypeError("numeric_grad: x must be a NumPy array, a Tensor or a core tensor, "
                        "got {}".format(type(x).__name__))
    if view.dtype.kind != "f":
        raise TypeError("numeric_grad: x must hold floats (an eps step cannot change "
                        "{} values)".format(view.dtype))
    if not view.flags.writeable:
        raise ValueError("numeric_grad: x is read-only; pass a writable copy")
    return view


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient d f() / d x.

    Args:
        f: a function of no arguments returning a scalar; it reads ``x`` (directly, or by
            building tensors from it) each time it is called.
        x: a float NumPy array, Tensor or core tensor (on the CPU). Each element is moved
            by +-eps in place and restored, so ``x`` ends with its original values.
        eps: the step (the default suits float64 values).

    Returns:
        a float64 NumPy array of x's shape.
    """
    view = _writable_values(x)
    grad = np.zeros(view.shape, dtype=np.float64)
    for i in np.ndindex(view.shape):
        old = view[i]
        try:
            view[i] = old + eps
            up = float(view[i])
            plus = float(f())
            view[i] = old - eps
            down = float(view[i])
            minus = float(f())
        finally:
            view[i] = old
        # divide by the step actually stored: x +- eps rounds to x's precision
        grad[i] = (plus - minus) / (up - down)
    return grad


def numerical_gradient(fn, arrays, index, dy, eps=1e-6):
    """Central-difference gradient of sum(fn(*arrays) * dy) w.r.t. arrays[index]."""
    base = [np.array(a, dtype=np.float64) for a in arrays]

    def objective():
        # from_numpy shares memory: copies keep fn from changing the arrays perturbed here
        ts = [tensor.from_numpy(a.copy()) for a in base]
        for t in ts:
            t.requires_grad = False
        y = fn(*ts)
        return np.sum(tensor.to_numpy(y).astype(np.float64, copy=False) * dy)

    return numeric_grad(objective, base[index], eps)


def gradcheck(fn, inputs, wrt=None, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Checks the autograd gradients of ``fn`` against central differences in float64.

    Args:
        fn: maps Tensors to one output Tensor using autograd operations.
        inputs: NumPy arrays (or Tensors); they are converted to float64.
        wrt: indices of the inputs to check (all by default); the others get
            ``requires_grad=False``.
        eps, atol, rtol: step and tolerances.

    Returns:
        True; raises AssertionError naming the input and the worst element otherwise.
    """
    arrays = [tensor.to_numpy(x).astype(np.float64, copy=False) if isinstance(x, tensor.Tensor)
              else np.asarray(x, dtype=np.float64) for x in inputs]
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    old = autograd.training
    autograd.training = True
    try:
        ts = [_as_tensor(a, i in wrt) for i, a in enumerate(arrays)]
        y = fn(*ts)
        rng = np.random.RandomState(seed)
        dy = rng.uniform(-1.0, 1.0, size=y.shape)
        grads = autograd.gradients(y, tensor.from_numpy(dy.astype(np.float64)))
        for i in wrt:
            t = ts[i]
            analytic = tensor.to_numpy(grads[id(t)]) if id(t) in grads else np.zeros_like(arrays[i])
            numeric = numerical_gradient(fn, arrays, i, dy, eps)
            if analytic.shape != numeric.shape:
                raise AssertionError("gradcheck: gradient of input {} has shape {}, expected {}"
                                     .format(i, analytic.shape, numeric.shape))
            err = np.abs(analytic - numeric)
            bound = atol + rtol * np.abs(numeric)
            if np.any(err > bound):
                j = np.unravel_index(np.argmax(err - bound), err.shape)
                raise AssertionError(
                    "gradcheck: input {} element {}: analytic {:.8g} vs numerical {:.8g} "
                    "(max abs error {:.3g})".format(i, j, analytic[j], numeric[j], err.max()))
    finally:
        autograd.training = old
    return True
