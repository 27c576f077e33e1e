"""Element-wise autograd operations (autograd/ops_unary.py, ops_binary.py and
ops_activation.py): unary math, binary arithmetic, variadic ops and parameterised
activations. Every entry gets a forward check against NumPy (float32) and a
central-difference gradient check (float64, ``singa.testing.gradcheck``)."""

import math

import numpy as np
import pytest

from singa import autograd, tensor, testing
from singa.testing import tensor_from as _t


def check_forward(fn, ref, arrays, rtol=1e-5, atol=1e-6):
    testing.check_forward(fn, ref, arrays, rtol, atol)


def _away_from(x, points, gap=0.05):
    """Moves samples that lie within ``gap`` of a kink to a safe distance."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, 2, -2) * gap
    return x


DOMAINS = {
    "real": lambda rng, s: _away_from(rng.uniform(-2, 2, s), [0.0]),
    "unit": lambda rng, s: rng.uniform(-0.9, 0.9, s),
    "pos": lambda rng, s: rng.uniform(0.5, 3.0, s),
    "gt1": lambda rng, s: rng.uniform(1.2, 3.0, s),
    "tan": lambda rng, s: rng.uniform(-1.2, 1.2, s),
}

UNARY_SHAPES = [(3, 4), (5,), (1,), (2, 1, 3), (1, 1)]


def _softplus(x):
    return np.log1p(np.exp(x))


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


_erf = np.vectorize(math.erf)

# (name, functional op, NumPy reference, input domain)
UNARY = [
    ("relu", autograd.relu, lambda x: np.maximum(x, 0), "real"),
    ("tanh", autograd.tanh, np.tanh, "real"),
    ("sigmoid", autograd.sigmoid, lambda x: 1 / (1 + np.exp(-x)), "real"),
    ("identity", autograd.identity, lambda x: x, "real"),
    ("cos", autograd.cos, np.cos, "real"),
    ("cosh", autograd.cosh, np.cosh, "real"),
    ("acos", autograd.acos, np.arccos, "unit"),
    ("acosh", autograd.acosh, np.arccosh, "gt1"),
    ("sin", autograd.sin, np.sin, "real"),
    ("sinh", autograd.sinh, np.sinh, "real"),
    ("asin", autograd.asin, np.arcsin, "unit"),
    ("asinh", autograd.asinh, np.arcsinh, "real"),
    ("tan", autograd.tan, np.tan, "tan"),
    ("atan", autograd.atan, np.arctan, "real"),
    ("atanh", autograd.atanh, np.arctanh, "unit"),
    ("abs", autograd.abs, np.abs, "real"),
    ("exp", autograd.exp, np.exp, "real"),
    ("softsign", autograd.softsign, lambda x: x / (1 + np.abs(x)), "real"),
    ("softplus", autograd.softplus, _softplus, "real"),
    ("mish", autograd.mish, lambda x: x * np.tanh(_softplus(x)), "real"),
    ("sqrt", autograd.sqrt, np.sqrt, "pos"),
    ("log", autograd.log, np.log, "pos"),
    ("negative", autograd.negative, np.negative, "real"),
    ("reciprocal", autograd.reciprocal, np.reciprocal, "pos"),
    ("reciprocal_neg", autograd.reciprocal, np.reciprocal, "real"),
    ("erf", autograd.erf, _erf, "real"),
    # parameterised activations
    ("elu", autograd.elu, _elu, "real"),
    ("elu_alpha", lambda x: autograd.elu(x, 0.5), lambda x: _elu(x, 0.5), "real"),
    ("selu", autograd.selu, lambda x: 1.0507 * _elu(x, 1.67326), "real"),
    ("selu_params", lambda x: autograd.selu(x, 1.5, 2.0), lambda x: 2.0 * _elu(x, 1.5), "real"),
    ("leakyrelu", autograd.leakyrelu, lambda x: np.where(x > 0, x, 0.01 * x), "real"),
    ("leakyrelu_a", lambda x: autograd.leakyrelu(x, 0.3),
     lambda x: np.where(x > 0, x, 0.3 * x), "real"),
    ("hardsigmoid", autograd.hardsigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1), "real"),
    ("hardsigmoid_params", lambda x: autograd.hardsigmoid(x, 0.5, 0.2),
     lambda x: np.clip(0.5 * x + 0.2, 0, 1), "real"),
    ("clip", lambda x: autograd.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), "real"),
    ("clip_min_only", lambda x: autograd.clip(x, -0.5), lambda x: np.maximum(x, -0.5), "real"),
    ("clip_max_only", lambda x: autograd.clip(x, None, 0.7), lambda x: np.minimum(x, 0.7), "real"),
]

# Kinks of the piecewise ops, kept away from by the gradient check.
KINKS = {"clip": [-0.5, 0.7], "clip_min_only": [-0.5], "clip_max_only": [0.7],
         "hardsigmoid": [-2.5, 2.5], "hardsigmoid_params": [-0.4, 1.6]}


def _sample(domain, shape, seed=0, kinks=()):
    x = DOMAINS[domain](np.random.default_rng(seed), shape)
    return _away_from(x, kinks) if kinks else x


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward(name, fn, ref, domain, shape):
    x = _sample(domain, shape, kinks=KINKS.get(name, ()))
    check_forward(fn, ref, [x])


@pytest.mark.parametrize("shape", [(3, 4), (1,), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_grad(name, fn, ref, domain, shape):
    x = _sample(domain, shape, seed=1, kinks=KINKS.get(name, ()))
    assert testing.gradcheck(fn, [x])


# ------------------------------------------------------------- softmax


@pytest.mark.parametrize("shape,axis", [((3, 4), 1), ((3, 4), 0), ((3, 4), -1), ((5,), 0),
                                        ((2, 3, 4), 2), ((2, 3, 4), 1), ((1, 1), 1)])
def test_softmax(shape, axis):
    x = np.random.default_rng(2).normal(size=shape)
    ax = axis if len(shape) > 1 else 0
    check_forward(lambda t: autograd.softmax(t, axis), lambda a: _softmax(a, ax), [x])
    assert testing.gradcheck(lambda t: autograd.softmax(t, axis), [x])


def test_softmax_default_axis_is_1():
    x = np.random.default_rng(3).normal(size=(2, 3, 2))
    check_forward(autograd.softmax, lambda a: _softmax(a, 1), [x])


# ------------------------------------------------- piecewise-constant ops

HALVES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.2, 0.3, 1.7, -0.7, 0.0, 3.49])


def _round_away(x):
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


ZERO_GRAD = [
    ("sign", autograd.sign, np.sign),
    ("ceil", autograd.ceil, np.ceil),
    ("floor", autograd.floor, np.floor),
    ("round", autograd.round, _round_away),
    ("rounde", autograd.rounde, np.round),
]


@pytest.mark.parametrize("name,fn,ref", ZERO_GRAD, ids=[z[0] for z in ZERO_GRAD])
def test_piecewise_constant(name, fn, ref):
    check_forward(fn, ref, [HALVES.reshape(3, 4)])
    check_forward(fn, ref, [HALVES[:1]])
    # Documented: the gradient is zero everywhere (not None: the input still gets one).
    autograd.training = True
    x = _t(HALVES.reshape(3, 4), stores_grad=True)
    grads = autograd.gradients(fn(x), _t(np.ones((3, 4), np.float32)))
    np.testing.assert_array_equal(tensor.to_numpy(grads[id(x)]), np.zeros((3, 4)))


def _no_grad_for(fn, arrays):
    """The op is documented as not differentiable: its inputs receive no gradient."""
    autograd.training = True
    ts = [_t(np.asarray(a, np.float32), stores_grad=True) for a in arrays]
    y = fn(*ts)
    grads = autograd.gradients(y, _t(np.ones(y.shape, np.float32)))
    for t in ts:
        assert id(t) not in grads


def test_not():
    x = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 3.0]])
    check_forward(autograd._not, lambda a: (a == 0).astype(np.float64), [x])
    _no_grad_for(autograd._not, [x])


BIN_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (3, 4)),
              ((3, 1), (1, 4)), ((1,), (1,))]

LOGICAL = [
    ("less", autograd.less, np.less),
    ("greater", autograd.greater, np.greater),
    ("equal", autograd.equal, np.equal),
    ("_and", autograd._and, lambda a, b: np.logical_and(a != 0, b != 0)),
    ("_or", autograd._or, lambda a, b: np.logical_or(a != 0, b != 0)),
    ("_xor", autograd._xor, lambda a, b: np.logical_xor(a != 0, b != 0)),
]


@pytest.mark.parametrize("sa,sb", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref", LOGICAL, ids=[z[0] for z in LOGICAL])
def test_logical(name, fn, ref, sa, sb):
    rng = np.random.default_rng(4)
    # Small integers so equal/and/or/xor meet both outcomes.
    a = rng.integers(-1, 2, sa).astype(np.float64)
    b = rng.integers(-1, 2, sb).astype(np.float64)
    check_forward(fn, lambda x, y: ref(x, y).astype(np.float64), [a, b])
    _no_grad_for(fn, [a, b])


# ---------------------------------------------------------------- binary

BINARY = [
    ("add", autograd.add, np.add, "real", "real"),
    ("sub", autograd.sub, np.subtract, "real", "real"),
    ("mul", autograd.mul, np.multiply, "real", "real"),
    ("div", autograd.div, np.divide, "real", "pos"),
    ("div_neg", autograd.div, lambda a, b: a / -b, "real", "pos"),
    ("pow", autograd.pow, np.power, "pos", "real"),
    ("max", autograd.max, np.maximum, "real", "real"),
    ("min", autograd.min, np.minimum, "real", "real"),
]


@pytest.mark.parametrize("sa,sb", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref,da,db", BINARY, ids=[b[0] for b in BINARY])
def test_binary(name, fn, ref, da, db, sa, sb):
    a = _sample(da, sa, seed=5)
    b = _sample(db, sb, seed=6)
    if name == "div_neg":
        b = -b
        ref = np.divide
    if name in ("max", "min"):
        # Keep a and b apart so the gradient is well defined.
        b = b + np.where(np.abs(np.broadcast_to(b, np.broadcast_shapes(sa, sb))
                                - np.broadcast_to(a, np.broadcast_shapes(sa, sb))).min() < 0.1,
                         0.37, 0.0)
    check_forward(fn, ref, [a, b])
    assert testing.gradcheck(fn, [a, b])


def test_binary_gradient_of_only_one_input():
    a, b = _sample("real", (3, 4)), _sample("real", (4,), seed=3)
    assert testing.gradcheck(autograd.mul, [a, b], wrt=[1])
    assert testing.gradcheck(autograd.mul, [a, b], wrt=[0])


MATMUL_SHAPES = [((2, 3), (3, 4)), ((1, 3), (3, 1)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                 ((2, 2, 3), (3, 4)), ((2, 2, 3), (2, 3, 4)), ((1, 2, 3), (3, 1, 3, 4)),
                 ((4, 3), (2, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb):
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    check_forward(autograd.matmul, np.matmul, [a, b], rtol=1e-5, atol=1e-5)
    assert testing.gradcheck(autograd.matmul, [a, b])


@pytest.mark.parametrize("sx,ss", [((3, 4), (4,)), ((3, 4), (1,)), ((3, 4), (3, 4)),
                                   ((2, 3, 4), (3, 1))], ids=str)
def test_prelu(sx, ss):
    x = _sample("real", sx, seed=8)
    s = np.random.default_rng(9).uniform(0.05, 0.5, ss)
    check_forward(autograd.prelu, lambda a, sl: np.where(a > 0, a, a * sl), [x, s])
    assert testing.gradcheck(autograd.prelu, [x, s])


@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (2, 3, 4)], ids=str)
def test_cossim(shape):
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=shape), rng.normal(size=shape)

    def ref(x, y):
        return (x * y).sum(-1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
    check_forward(autograd.cossim, ref, [a, b])
    assert testing.gradcheck(autograd.cossim, [a, b])


@pytest.mark.parametrize("ishape", [(2, 3), (4,), (1,)], ids=str)
def test_embedding(ishape):
    rng = np.random.default_rng(11)
    w = rng.normal(size=(5, 4))
    idx = rng.integers(0, 5, ishape)
    idx.reshape(-1)[0] = idx.reshape(-1)[-1]  # a repeated index accumulates
    check_forward(autograd.embedding, lambda i, t: t[i.astype(np.int64)], [idx, w])
    assert testing.gradcheck(autograd.embedding, [idx, w], wrt=[1])
    # The indices get no gradient.
    autograd.training = True
    x, t = _t(idx.astype(np.float32), stores_grad=True), _t(w.astype(np.float32), stores_grad=True)
    grads = autograd.gradients(autograd.embedding(x, t),
                               _t(np.ones(ishape + (4,), np.float32)))
    assert id(x) not in grads
    expected = np.zeros((5, 4))
    np.add.at(expected, idx.reshape(-1), 1.0)
    np.testing.assert_allclose(tensor.to_numpy(grads[id(t)]), expected)


# -------------------------------------------------------------- variadic

VARIADIC = [
    ("sum", autograd.sum, lambda *xs: np.sum(np.broadcast_arrays(*xs), axis=0)),
    ("mean", autograd.mean, lambda *xs: np.mean(np.broadcast_arrays(*xs), axis=0)),
    ("max", autograd.max, lambda *xs: np.max(np.broadcast_arrays(*xs), axis=0)),
    ("min", autograd.min, lambda *xs: np.min(np.broadcast_arrays(*xs), axis=0)),
]
VARIADIC_SHAPES = [[(3, 4)], [(3, 4), (3, 4)], [(3, 4), (4,), (3, 1)], [(1,), (2, 3), (1, 3)]]


@pytest.mark.parametrize("shapes", VARIADIC_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref", VARIADIC, ids=[v[0] for v in VARIADIC])
def test_variadic(name, fn, ref, shapes):
    rng = np.random.default_rng(12)
    # Distinct values, well apart, so max/min have a unique winner.
    n = sum(int(np.prod(s)) for s in shapes)
    vals = rng.permutation(n) * 0.25 - n * 0.1
    arrays, pos = [], 0
    for s in shapes:
        k = int(np.prod(s))
        arrays.append(vals[pos:pos + k].reshape(s))
        pos += k
    check_forward(lambda *ts: fn(*ts), ref, arrays)
    check_forward(lambda *ts: fn(list(ts)), ref, arrays)  # SINGA also takes a list
    assert testing.gradcheck(lambda *ts: fn(*ts), arrays)


def test_variadic_needs_an_input():
    for fn in (autograd.sum, autograd.mean, autograd.max, autograd.min):
        with pytest.raises(ValueError):
            fn()
