"""Testing helpers: numerical gradient checks for Operations."""

import numpy as np

from . import autograd
from . import tensor


def _as_tensor(x, requires_grad):
    if isinstance(x, tensor.Tensor):
        arr = tensor.to_numpy(x).astype(np.float64)
    else:
        arr = np.asarray(x, dtype=np.float64)
    t = tensor.from_numpy(np.ascontiguousarray(arr).copy())
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


def numerical_gradient(fn, arrays, index, dy, eps=1e-6):
    """Central-difference gradient of sum(fn(*arrays) * dy) w.r.t. arrays[index]."""
    base = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    x = base[index]
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    g = grad.reshape(-1)

    def objective():
        ts = [tensor.from_numpy(a.copy()) for a in base]
        for t in ts:
            t.requires_grad = False
        y = fn(*ts)
        return float(np.sum(tensor.to_numpy(y).astype(np.float64) * dy))

    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = objective()
        flat[i] = old - eps
        minus = objective()
        flat[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return grad


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
    arrays = [tensor.to_numpy(x).astype(np.float64) if isinstance(x, tensor.Tensor)
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
            analytic = tensor.to_numpy(grads[t]) if t in grads else np.zeros_like(arrays[i])
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
