"""singa.testing: the central-difference helper every gradient test goes through
(gradcheck itself is exercised by the op tests and test_autograd_engine.py)."""

import numpy as np
import pytest

from singa import autograd, singa_wrap, tensor, testing


def _sin_loss(values, r):
    """sum(sin(x) * r) for whatever NumPy view ``values()`` returns; d/dx = cos(x) * r."""
    return lambda: float(np.sum(np.sin(values()) * r))


def test_numeric_grad_of_a_numpy_array(rng):
    x = rng.standard_normal((3, 4))
    before, r = x.copy(), rng.standard_normal((3, 4))
    g = testing.numeric_grad(_sin_loss(lambda: x, r), x)
    np.testing.assert_allclose(g, np.cos(before) * r, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)  # every element is restored


@pytest.mark.parametrize("wrap", ["tensor", "core", "core-transposed"])
def test_numeric_grad_of_a_tensor_perturbs_it_in_place(wrap, rng):
    a, r = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    if wrap == "tensor":
        x = tensor.from_numpy(a.copy())
    elif wrap == "core":
        x = singa_wrap.from_numpy(a.copy())
    else:  # a strided view: perturbing it must reach the right elements
        x = singa_wrap.from_numpy(a.T.copy()).T()
        assert not x.IsContiguous()

    def read():
        return tensor.to_numpy_view(x) if wrap == "tensor" else singa_wrap.to_numpy(x)

    g = testing.numeric_grad(_sin_loss(read, r), x)
    assert g.shape == (2, 3) and g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(a) * r, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(read(), a)


def test_numeric_grad_divides_by_the_step_actually_taken():
    # In float32, 1 + 1e-3 is stored as 1.00099993: the step is not exactly eps.
    x = np.array([1.0, 3.0], np.float32)
    g = testing.numeric_grad(lambda: float(np.sum(x.astype(np.float64) * [2.0, -5.0])), x,
                             eps=1e-3)
    np.testing.assert_allclose(g, [2.0, -5.0], rtol=1e-12)


def test_numeric_grad_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        testing.numeric_grad(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


@pytest.mark.parametrize("x,exc,words", [
    (np.arange(3), TypeError, "must hold floats"),
    ([1.0, 2.0], TypeError, "got list"),
    (np.broadcast_to(np.ones(1), (3,)), ValueError, "read-only"),
])
def test_numeric_grad_rejects_what_it_cannot_perturb(x, exc, words):
    with pytest.raises(exc, match="numeric_grad: .*" + words):
        testing.numeric_grad(lambda: 0.0, x)


def test_numerical_gradient_of_an_operation(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    dy = rng.standard_normal((2, 4))
    got_a = testing.numerical_gradient(autograd.matmul, [a, b], 0, dy)
    got_b = testing.numerical_gradient(autograd.matmul, [a, b], 1, dy)
    np.testing.assert_allclose(got_a, dy @ b.T, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got_b, a.T @ dy, rtol=1e-7, atol=1e-9)

