"""Reductions, softmax and cross-entropy kernels of singa_wrap against NumPy."""
import numpy as np
import pytest

from singa import singa_wrap as sw


def T(a):
    a = np.asarray(a)
    return sw.from_numpy(a if a.flags.c_contiguous else a.copy())


def N(t):
    return np.array(sw.to_numpy(t))


REDUCERS = [("ReduceSum", np.sum), ("ReduceMean", np.mean),
            ("ReduceMax", np.max), ("ReduceMin", np.min)]

AXES = [
    ((5,), None), ((5,), 0), ((5,), -1),
    ((3, 4), 0), ((3, 4), 1), ((3, 4), (0, 1)), ((3, 4), None),
    ((2, 3, 4, 5), (0, 2, 3)), ((2, 3, 4, 5), (0, 2)), ((2, 3, 4, 5), (1, 3)),
    ((2, 3, 4, 5), (-1, 0)), ((2, 3, 4, 5), (3, 1, 0)), ((2, 1, 4, 1), (1, 3)),
    ((2, 1, 4, 1), (0, 2)), ((7, 1000), 1), ((1000, 7), 0), ((40, 50, 30), (0, 2)),
    ((3, 0, 2), 2), ((), None), ((64, 3, 9, 9), (0, 2, 3)),
]


@pytest.mark.parametrize("name,ref", REDUCERS, ids=[r[0] for r in REDUCERS])
@pytest.mark.parametrize("shape,axes", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce(name, ref, shape, axes, keepdims, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    if name in ("ReduceMax", "ReduceMin") and x.size == 0:
        with pytest.raises(ValueError, match=name):
            getattr(sw, name)(T(x), axes, keepdims)
        return
    ax = tuple(axes) if isinstance(axes, (tuple, list)) else axes
    want = ref(x.astype(np.float64), axis=ax, keepdims=keepdims)
    pyaxes = list(axes) if isinstance(axes, tuple) else axes
    out = N(getattr(sw, name)(T(x), pyaxes, keepdims))
    assert out.shape == np.shape(want) and out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,ref", REDUCERS, ids=[r[0] for r in REDUCERS])
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_reduce_dtypes(name, ref, dtype, rng):
    x = rng.integers(-50, 50, size=(4, 5, 6)).astype(dtype)
    out = N(getattr(sw, name)(T(x), [0, 2], False))
    want = ref(x.astype(np.float64), axis=(0, 2))
    if name == "ReduceMean" and dtype == np.int32:
        assert out.dtype == np.float32
    else:
        assert out.dtype == dtype
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_reduce_float16(rng):
    x = rng.standard_normal((4, 6)).astype(np.float16)
    h = T(x.astype(np.float32)).AsType(sw.kFloat16)
    out = N(sw.ReduceSum(h, [1], False))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float64), x.astype(np.float64).sum(1), atol=1e-2)


@pytest.mark.parametrize("name,ref", REDUCERS, ids=[r[0] for r in REDUCERS])
def test_reduce_noncontiguous(name, ref, rng):
    base = rng.standard_normal((6, 5, 8)).astype(np.float32)
    view = sw.Transpose(T(base), [2, 0, 1]).Slice(1, 0, 6, 2)  # (8, 3, 5)
    nv = base.transpose(2, 0, 1)[:, 0:6:2]
    for axes in ([0], [1, 2], [0, 2], None):
        ax = tuple(axes) if axes else None
        np.testing.assert_allclose(N(getattr(sw, name)(view, axes, False)), ref(nv, axis=ax),
                                   rtol=1e-5, atol=1e-5)
    bview = T(base[:1]).Broadcast([4, 5, 8])
    np.testing.assert_allclose(N(getattr(sw, name)(bview, [0, 2], True)),
                               ref(np.broadcast_to(base[:1], (4, 5, 8)), axis=(0, 2), keepdims=True),
                               rtol=1e-5, atol=1e-5)


def test_sum_precision_long_axis():
    x = np.full(3_000_000, 0.1, dtype=np.float32)
    got = N(sw.ReduceSum(T(x), None, False))
    assert abs(float(got) - 3_000_000 * np.float64(np.float32(0.1))) < 1.0


@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -1), ((5,), 0)])
def test_sum_average_axis(shape, axis, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(N(sw.Sum(T(x), axis)), x.sum(axis), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(sw.Average(T(x), axis)), x.mean(axis), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_sum_all(dtype, rng):
    x = rng.integers(-9, 10, size=(7, 11)).astype(dtype)
    assert sw.SumAll(T(x)) == pytest.approx(float(x.astype(np.float64).sum()))
    assert sw.SumAsFloat(T(x)) == pytest.approx(float(x.astype(np.float64).sum()))
    assert sw.SumAll(sw.Transpose(T(x)).Slice(0, 0, 11, 3)) == pytest.approx(
        float(x.T[::3].astype(np.float64).sum()))
    assert sw.SumAll(T(np.zeros((0, 3), dtype))) == 0


def test_sum_rows_columns(rng):
    m = rng.standard_normal((4, 7)).astype(np.float32)
    # SINGA: SumColumns adds the columns together (one value per row), SumRows the rows.
    np.testing.assert_allclose(N(sw.SumColumns(T(m))), m.sum(1), rtol=1e-5)
    np.testing.assert_allclose(N(sw.SumRows(T(m))), m.sum(0), rtol=1e-5)
    np.testing.assert_allclose(N(sw.SumRows(sw.Transpose(T(m)))), m.T.sum(0), rtol=1e-5)


def test_argmax(rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    for ax in (0, 1, 2, -1):
        out = N(sw.ArgMax(T(x), ax))
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, np.argmax(x, axis=ax))
    np.testing.assert_array_equal(N(sw.ArgMax(sw.Transpose(T(x)), 1)), np.argmax(x.T, axis=1))


@pytest.mark.parametrize("src,dst", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)),
                                     ((2, 3, 4), (1, 4)), ((2, 3, 4), ()), ((5, 1, 3), (1, 3))])
def test_sum_to_shape(src, dst, rng):
    x = rng.standard_normal(src).astype(np.float32)
    lead = len(src) - len(dst)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(dst) if d == 1 and src[lead + i] != 1)
    want = x.sum(axis=axes, keepdims=True).reshape(dst)
    out = N(sw.SumToShape(T(x), list(dst)))
    assert out.shape == dst
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape,axis", [((4, 10), 1), ((4, 10), 0), ((2, 3, 5), 1), ((2, 3, 5), -1),
                                        ((3, 1000), 1), ((5,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax(shape, axis, dtype, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x.reshape(-1)[0] = 80  # large values must not overflow
    want = _softmax(x.astype(np.float64), axis)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    y = sw.SoftMax(T(x), axis)
    np.testing.assert_allclose(N(y), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(N(sw.LogSoftMax(T(x), axis)), np.log(want), rtol=tol, atol=tol * 10)
    dy = rng.standard_normal(shape).astype(dtype)
    s = (dy * want).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(N(sw.SoftMaxBackward(T(dy), axis, y)), want * (dy - s),
                               rtol=tol * 10, atol=tol)


def test_softmax_default_axis_and_views(rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_allclose(N(sw.SoftMax(T(x))), _softmax(x, 1), rtol=1e-5)
    np.testing.assert_allclose(N(sw.SoftMax(sw.Transpose(T(x)), 1)), _softmax(x.T, 1), rtol=1e-5)


def _probs(rng, n, c, dtype=np.float32):
    return _softmax(rng.standard_normal((n, c)), 1).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_int_labels(dtype, rng):
    p = _probs(rng, 6, 5, dtype)
    y = rng.integers(0, 5, size=6).astype(np.int32)
    want = -np.log(p[np.arange(6), y].astype(np.float64))
    np.testing.assert_allclose(N(sw.CrossEntropyFwd(T(p), T(y))), want, rtol=1e-5)
    # labels given as floats holding whole numbers, or as a (N, 1) column
    np.testing.assert_allclose(N(sw.CrossEntropyFwd(T(p), T(y.astype(np.float32)))), want, rtol=1e-5)
    np.testing.assert_allclose(N(sw.CrossEntropyFwd(T(p), T(y.reshape(6, 1)))), want, rtol=1e-5)
    g = p.astype(np.float64).copy()
    g[np.arange(6), y] -= 1
    np.testing.assert_allclose(N(sw.SoftmaxCrossEntropyBwd(T(p), T(y))), g, rtol=1e-5, atol=1e-6)


def test_cross_entropy_one_hot_and_soft(rng):
    p = _probs(rng, 5, 4)
    y = rng.integers(0, 4, size=5)
    onehot = np.eye(4, dtype=np.float32)[y]
    want = -np.log(p[np.arange(5), y].astype(np.float64))
    np.testing.assert_allclose(N(sw.CrossEntropyFwd(T(p), T(onehot))), want, rtol=1e-5)
    np.testing.assert_allclose(N(sw.SoftmaxCrossEntropyBwd(T(p), T(onehot))), p - onehot,
                               rtol=1e-5, atol=1e-6)
    soft = _probs(rng, 5, 4)
    np.testing.assert_allclose(N(sw.CrossEntropyFwd(T(p), T(soft))),
                               -(soft * np.log(p.astype(np.float64))).sum(1), rtol=1e-5)


def test_cross_entropy_zero_probability_is_finite():
    p = np.array([[0.0, 1.0]], np.float32)
    out = N(sw.CrossEntropyFwd(T(p), T(np.array([0], np.int32))))
    assert np.isfinite(out).all() and out[0] > 80
