"""The CUDA reduce kernels (src/cuda/reduce.cu) through the public APIs, against the
reference (CuPy on a real GPU, NumPy otherwise) and, where the contract fixes the
result exactly (integers, argmax with NaNs, power_sum's order), the CPU device.

The shapes are chosen to reach every launch path of the kernels: a short reduced axis
(one thread per output), long rows split over several blocks (two passes), columns of
a wide and of a narrow inner axis (split too), several separated runs of reduced axes
(one pass each), empty reductions; cumsum's block scan (long rows) and per-lane walk;
softmax's per-lane, warp-per-row and block-per-row kernels; power_sum over views.
"""

import numpy as np
import pytest

from singa import autograd, tensor
from singa import singa_wrap as sw


from _gpu import N, check_on, on, tolerance
cpu = sw.GetDefaultDevice()


def data(rng, shape, dtype):
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-9, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# (shape, axes): the path each takes in reduce.cu's Pass, for (outer, R, inner)
REDUCE_CASES = [
    ((1000, 5), [1]),             # R <= 32: one thread per output
    ((7, 20), [0]),               # short column
    ((3, 70000), [1]),            # long rows, few of them: split rows, two passes
    ((1, 100000), None),          # everything into one value, split
    ((64, 300), [1]),             # one block per row
    ((20000, 40), [0]),           # wide columns, split over R
    ((50000, 3), [0]),            # narrow columns (inner < 32), split
    ((6, 200, 70), [1]),          # (outer, R, inner) column tiles
    ((4, 5, 6, 7), [0, 2]),       # two separated runs: two passes
    ((2, 3, 4, 5), [1, 3]),
    ((9, 40, 3, 50), [0, 1, 3]),  # a merged run and a separate one
    ((2, 1, 4, 1), [1, 3]),       # only size-1 axes reduced: a copy
    ((2, 1, 400, 1), [0, 2]),
    ((64, 3, 9, 9), [0, 2, 3]),   # batch-norm style
    ((), None),
]


def _ref_reduce(xp, name, x, axes, keepdims):
    ax = tuple(axes) if axes is not None else None
    a = xp.asarray(x)
    if name == "ReduceSum":
        return a.astype(xp.float64).sum(axis=ax, keepdims=keepdims) if a.dtype.kind == "f" \
            else a.sum(axis=ax, keepdims=keepdims, dtype=a.dtype)
    if name == "ReduceProd":
        return a.astype(xp.float64).prod(axis=ax, keepdims=keepdims) if a.dtype.kind == "f" \
            else a.prod(axis=ax, keepdims=keepdims, dtype=a.dtype)
    if name == "ReduceMax":
        return a.max(axis=ax, keepdims=keepdims)
    return a.min(axis=ax, keepdims=keepdims)


def _reduced(shape, axes):
    if axes is None:
        return int(np.prod(shape)) if shape else 1
    return int(np.prod([shape[a] for a in axes]))


@pytest.mark.parametrize("name", ["ReduceSum", "ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axes", REDUCE_CASES)
def test_reduce_paths(gpu, ref, rng, name, dtype, shape, axes):
    x = data(rng, shape, dtype)
    for keepdims in (False, True):
        out = check_on(gpu, getattr(sw, name)(on(gpu, x), axes, keepdims))
        want = ref.numpy(_ref_reduce(ref.xp, name, x, axes, keepdims))
        assert out.shape == want.shape and out.dtype == dtype
        if np.issubdtype(dtype, np.integer):
            np.testing.assert_array_equal(out, want)
        else:
            rtol, atol = tolerance(dtype, _reduced(shape, axes))
            np.testing.assert_allclose(out, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axes", [((1000, 5), [1]), ((3, 7000), [1]), ((2, 3000, 3), [1]),
                                        ((40, 6, 50), [0, 2]), ((5, 4), None)])
def test_reduce_prod(gpu, ref, rng, dtype, shape, axes):
    if np.issubdtype(dtype, np.integer):
        x = rng.choice(np.array([-1, 1, 1, 1], dtype), size=shape)  # exact, no overflow
        x.flat[::97] = 2
    else:
        x = (1 + 0.001 * rng.standard_normal(shape)).astype(dtype)
    out = check_on(gpu, sw.ReduceProd(on(gpu, x), axes, False))
    want = ref.numpy(_ref_reduce(ref.xp, "ReduceProd", x, axes, False))
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(out, want.astype(dtype))
    else:
        rtol, atol = tolerance(dtype, _reduced(shape, axes))
        np.testing.assert_allclose(out, want, rtol=rtol, atol=atol)


def test_integer_sums_wrap_as_on_the_cpu(gpu, rng):
    x = rng.integers(2**30, 2**31 - 1, size=(3, 5000)).astype(np.int32)
    got = check_on(gpu, sw.ReduceSum(on(gpu, x), [1], False))
    np.testing.assert_array_equal(got, N(sw.ReduceSum(on(cpu, x), [1], False)))
    np.testing.assert_array_equal(got, x.sum(axis=1, dtype=np.int64).astype(np.int32))
    y = rng.integers(-(2**62), 2**62, size=(4, 300)).astype(np.int64)
    np.testing.assert_array_equal(check_on(gpu, sw.ReduceSum(on(gpu, y), [1], False)),
                                  y.sum(axis=1))  # NumPy wraps int64 sums too


def test_reduce_empty_axes_give_the_identity(gpu):
    x = np.zeros((3, 0, 2), np.float32)
    np.testing.assert_array_equal(check_on(gpu, sw.ReduceSum(on(gpu, x), [1], False)),
                                  np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(check_on(gpu, sw.ReduceProd(on(gpu, x), [1], False)),
                                  np.ones((3, 2), np.float32))
    xi = np.zeros((0, 4), np.int64)
    np.testing.assert_array_equal(check_on(gpu, sw.ReduceSum(on(gpu, xi), [0], True)),
                                  np.zeros((1, 4), np.int64))


def test_max_min_propagate_nan(gpu, ref, rng):
    x = rng.standard_normal((6, 5000)).astype(np.float32)
    x[1, 4321] = np.nan
    x[4, 0] = np.nan
    for name in ("ReduceMax", "ReduceMin"):
        got = check_on(gpu, getattr(sw, name)(on(gpu, x), [1], False))
        want = ref.numpy(_ref_reduce(ref.xp, name, x, [1], False))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])
        got0 = check_on(gpu, getattr(sw, name)(on(gpu, x.T.copy()), [0], False))
        np.testing.assert_array_equal(np.isnan(got0), np.isnan(want))


def test_reduce_views_mean_and_wrappers(gpu, ref, rng):
    base = rng.standard_normal((60, 50, 8)).astype(np.float32)
    view = sw.Transpose(on(gpu, base), [2, 0, 1]).Slice(1, 0, 60, 2)  # (8, 30, 50), strided
    nv = base.transpose(2, 0, 1)[:, 0:60:2]
    for axes in ([0], [1, 2], [0, 2], None):
        ax = tuple(axes) if axes else None
        rtol, atol = tolerance(np.float32, _reduced(nv.shape, axes))
        want = ref.numpy(ref.asarray(nv.astype(np.float64)).sum(axis=ax))
        np.testing.assert_allclose(check_on(gpu, sw.ReduceSum(view, axes, False)), want,
                                   rtol=rtol, atol=atol)
        want = ref.numpy(ref.asarray(nv.astype(np.float64)).mean(axis=ax))
        np.testing.assert_allclose(check_on(gpu, sw.ReduceMean(view, axes, False)), want,
                                   rtol=rtol, atol=atol)
    # singa.tensor and autograd entry points that reach the kernel
    t = tensor.from_numpy(base, gpu)
    rtol, atol = tolerance(np.float32, 60)
    np.testing.assert_allclose(tensor.to_numpy(tensor.sum(t, 0)), base.astype(np.float64).sum(0),
                               rtol=rtol, atol=atol)
    assert float(tensor.sum(t)) == pytest.approx(float(base.astype(np.float64).sum()),
                                                 rel=tolerance(np.float32, base.size)[0])
    assert tensor.average(t) == pytest.approx(float(base.astype(np.float64).mean()), rel=1e-5, abs=1e-6)
    y = autograd.reduce_sum(t, axes=[0, 2], keepdims=0)
    np.testing.assert_allclose(tensor.to_numpy(y), base.astype(np.float64).sum((0, 2)),
                               rtol=tolerance(np.float32, 480)[0], atol=tolerance(np.float32, 480)[1])
    np.testing.assert_allclose(sw.SumAll(on(gpu, base)), base.astype(np.float64).sum(), rtol=1e-9)


def test_reduce_half_precision_inputs(gpu, rng):
    x = rng.standard_normal((8, 3000)).astype(np.float32)
    for code in (sw.kFloat16, sw.kBFloat16):
        h = on(gpu, x).AsType(code)
        got = N(sw.ReduceSum(h, [1], False).AsType(sw.kFloat32))
        want = N(sw.ReduceSum(on(cpu, x).AsType(code), [1], False).AsType(sw.kFloat32))
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=0.5)


# ---- argmax / argmin ----

ARG_CASES = [((3, 4, 5), 1), ((7, 5000), 1), ((5000, 40), 0), ((64, 33, 3), 1),
             ((1, 300000), 1), ((9, 1), 1), ((70,), 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", ARG_CASES)
def test_argmax_argmin(gpu, ref, rng, dtype, shape, axis):
    # few distinct values: many ties, and the first index must win
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    for name, fn in (("ArgMax", "argmax"), ("ArgMin", "argmin")):
        got = check_on(gpu, getattr(sw, name)(on(gpu, x), axis))
        assert got.dtype == np.int32
        want = ref.numpy(getattr(ref.xp, fn)(ref.asarray(x), axis=axis))
        np.testing.assert_array_equal(got, want)


def _cpu_arg(x, axis, kmin):
    """The CPU kernel's rule: from element 0, move on only to a strictly better element."""
    x = np.moveaxis(x, axis, -1)
    out = np.zeros(x.shape[:-1], np.int32)
    for pos in np.ndindex(*x.shape[:-1]):
        lane = x[pos]
        best, bv = 0, lane[0]
        for r in range(1, lane.shape[0]):
            if (lane[r] < bv) if kmin else (lane[r] > bv):
                best, bv = r, lane[r]
        out[pos] = best
    return out


@pytest.mark.parametrize("shape,axis", [((4, 6000), 1), ((6000, 4), 0), ((5, 9), 1)])
def test_argmax_with_nan_matches_the_cpu(gpu, rng, shape, axis):
    x = rng.standard_normal(shape).astype(np.float32)
    lanes = np.moveaxis(x, axis, -1)  # a view: writes reach x
    lanes[0, 0] = np.nan               # NaN first: the answer
    lanes[1, 3] = np.nan               # NaN later: never chosen
    lanes[2, :] = np.nan
    lanes[2, 0] = -np.inf              # only NaNs after element 0
    lanes[3, 1:] = lanes[3, 1]         # ties
    for name, kmin in (("ArgMax", False), ("ArgMin", True)):
        got = check_on(gpu, getattr(sw, name)(on(gpu, x), axis))
        np.testing.assert_array_equal(got, _cpu_arg(x, axis, kmin))
        np.testing.assert_array_equal(got, N(getattr(sw, name)(on(cpu, x), axis)))


# ---- cumsum ----

def _ref_cumsum(xp, x, axis, exclusive, reverse):
    a = xp.asarray(x)
    acc = a.astype(xp.float64) if a.dtype.kind == "f" else a
    if reverse:
        acc = xp.flip(acc, axis)
    c = xp.cumsum(acc, axis=axis, dtype=acc.dtype)
    if exclusive:
        c = c - acc
    if reverse:
        c = xp.flip(c, axis)
    return c


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", [((3, 1000), 1), ((1000, 3), 0), ((2, 70, 3), 1),
                                        ((5, 10), 1), ((5000,), 0), ((2, 3000), -1), ((4, 65), 1),
                                        ((70, 33000), 0)])
@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_cumsum(gpu, ref, rng, dtype, shape, axis, exclusive, reverse):
    x = data(rng, shape, dtype)
    got = check_on(gpu, sw.CumSum(on(gpu, x), axis, exclusive, reverse))
    want = ref.numpy(_ref_cumsum(ref.xp, x, axis, exclusive, reverse))
    assert got.dtype == dtype and got.shape == x.shape
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(got, want)
    else:
        rtol, atol = tolerance(dtype, x.shape[axis])
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def test_cumsum_int_wraps_as_on_the_cpu(gpu, rng):
    x = rng.integers(2**29, 2**31 - 1, size=(2, 3000)).astype(np.int32)
    got = check_on(gpu, sw.CumSum(on(gpu, x), 1))
    np.testing.assert_array_equal(got, N(sw.CumSum(on(cpu, x), 1)))


# ---- softmax ----

def _ref_softmax(xp, x, axis, log):
    a = xp.asarray(x).astype(xp.float64)
    m = a.max(axis=axis, keepdims=True)
    e = xp.exp(a - m)
    s = e.sum(axis=axis, keepdims=True)
    return (a - m - xp.log(s)) if log else e / s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((4, 10), 1), ((8, 100), 1), ((3, 5000), 1), ((2, 7, 3), 1),
                                        ((6, 4000), 0), ((37, 1024), -1), ((5, 1025), 1), ((1, 16), 1),
                                        ((3, 17), 1), ((20, 33000), 0), ((1200, 2, 2), 0)])
def test_softmax(gpu, ref, rng, dtype, shape, axis):
    x = (rng.standard_normal(shape) * 30).astype(dtype)  # large logits: max subtracted
    rtol, atol = tolerance(dtype, shape[axis])
    y = check_on(gpu, sw.SoftMax(on(gpu, x), axis))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref.numpy(_ref_softmax(ref.xp, x, axis, False)),
                               rtol=rtol * 4, atol=atol)
    ly = check_on(gpu, sw.LogSoftMax(on(gpu, x), axis))
    np.testing.assert_allclose(ly, ref.numpy(_ref_softmax(ref.xp, x, axis, True)),
                               rtol=rtol * 4, atol=atol * 100)


def test_softmax_through_tensor_and_autograd(gpu, rng):
    x = rng.standard_normal((16, 40)).astype(np.float32)
    want = np.exp(x - x.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    t = tensor.from_numpy(x, gpu)
    np.testing.assert_allclose(tensor.to_numpy(tensor.softmax(t)), want, rtol=1e-5, atol=1e-7)
    autograd.training = True
    try:
        t.requires_grad = True
        t.stores_grad = True
        y = autograd.softmax(t, 1)
        np.testing.assert_allclose(tensor.to_numpy(y), want, rtol=1e-5, atol=1e-7)
    finally:
        autograd.training = False


# ---- cross-entropy ----

def _probs(rng, n, c, dtype):
    p = rng.random((n, c)).astype(dtype) + 0.01
    return (p / p.sum(1, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c", [(300, 10), (5, 3000), (1, 2), (2000, 33)])
def test_cross_entropy_labels_and_backward(gpu, ref, rng, dtype, n, c):
    p = _probs(rng, n, c, dtype)
    y = rng.integers(0, c, size=n).astype(np.int32)
    got = check_on(gpu, sw.CrossEntropyFwd(on(gpu, p), on(gpu, y)))
    want = ref.numpy(-ref.xp.log(ref.asarray(p)[ref.xp.arange(n), ref.asarray(y)]))
    rtol, atol = tolerance(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol * 10, atol=atol)
    g = check_on(gpu, sw.SoftmaxCrossEntropyBwd(on(gpu, p), on(gpu, y)))
    wg = p.copy()
    wg[np.arange(n), y] -= 1
    np.testing.assert_allclose(g, wg, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c", [(300, 10), (5, 3000), (64, 33)])
def test_cross_entropy_soft_targets(gpu, ref, rng, dtype, n, c):
    p = _probs(rng, n, c, dtype)
    t = _probs(rng, n, c, dtype)
    t[:, ::3] = 0  # zero targets are skipped
    got = check_on(gpu, sw.CrossEntropyFwd(on(gpu, p), on(gpu, t)))
    want = ref.numpy(-(ref.asarray(t.astype(np.float64)) * ref.xp.log(ref.asarray(p.astype(np.float64)))).sum(1))
    rtol, atol = tolerance(dtype, c)
    np.testing.assert_allclose(got, want, rtol=rtol * 10, atol=atol * 10)
    onehot = np.eye(c, dtype=dtype)[rng.integers(0, c, size=n)]
    np.testing.assert_allclose(check_on(gpu, sw.CrossEntropyFwd(on(gpu, p), on(gpu, onehot))),
                               -np.log((p * onehot).sum(1)), rtol=rtol * 10, atol=atol)


def test_cross_entropy_zero_probability_is_finite(gpu):
    p = np.array([[0.0, 1.0]], np.float32)
    out = check_on(gpu, sw.CrossEntropyFwd(on(gpu, p), on(gpu, np.array([0], np.int32))))
    assert np.isfinite(out).all() and out[0] > 80
    np.testing.assert_array_equal(out, N(sw.CrossEntropyFwd(on(cpu, p), on(cpu, np.array([0], np.int32)))))


def test_softmax_cross_entropy_autograd(gpu, rng):
    x = rng.standard_normal((32, 10)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=32)]
    autograd.training = True
    try:
        tx = tensor.from_numpy(x, gpu)
        tx.requires_grad = True
        tx.stores_grad = True
        loss = autograd.softmax_cross_entropy(tx, tensor.from_numpy(y, gpu))
        sm = np.exp(x - x.max(1, keepdims=True))
        sm /= sm.sum(1, keepdims=True)
        want = -np.log((sm * y).sum(1)).mean()
        assert float(tensor.to_numpy(loss).reshape(-1)[0]) == pytest.approx(want, rel=1e-5)
    finally:
        autograd.training = False


# ---- power_sum (L1 / L2) ----

def _views(gpu, base):
    """(singa view, NumPy view) pairs: contiguous, transposed, stepped slice, broadcast."""
    t = on(gpu, base)
    return [(t, base),
            (sw.Transpose(t), base.T),
            (sw.Transpose(t).Slice(0, 1, base.shape[1], 3), base.T[1::3]),
            (on(gpu, base[:1]).Broadcast(list(base.shape)), np.broadcast_to(base[:1], base.shape))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.int8, np.uint8,
                                   np.float16, np.bool_])
def test_power_sum_views_and_dtypes(gpu, rng, dtype):
    if dtype == np.bool_:
        base = rng.random((300, 70)) > 0.5
    elif np.issubdtype(dtype, np.integer):
        base = rng.integers(0 if dtype == np.uint8 else -100, 100, size=(300, 70)).astype(dtype)
    else:
        base = rng.standard_normal((300, 70)).astype(dtype)
    for t, nv in _views(gpu, base):
        v = nv.astype(np.float64)
        np.testing.assert_allclose(t.L1(), np.abs(v).sum() / v.size, rtol=1e-12)
        np.testing.assert_allclose(t.L2(), np.sqrt((v * v).sum()) / v.size, rtol=1e-12)


def test_power_sum_bfloat16_and_large(gpu, rng):
    x = rng.standard_normal((1 << 20) + 77).astype(np.float32)
    t = on(gpu, x)
    v = x.astype(np.float64)
    np.testing.assert_allclose(t.L1(), np.abs(v).sum() / v.size, rtol=1e-12)
    np.testing.assert_allclose(t.L2(), np.sqrt((v * v).sum()) / v.size, rtol=1e-12)
    # fixed order: the same value every time
    assert len({t.L2() for _ in range(5)}) == 1
    b = t.AsType(sw.kBFloat16)
    bv = N(b.AsType(sw.kFloat32)).astype(np.float64)
    np.testing.assert_allclose(b.L1(), np.abs(bv).sum() / bv.size, rtol=1e-12)
    assert on(gpu, np.zeros((0, 3), np.float32)).L2() == 0
    assert on(gpu, np.array(3.0, np.float32)).L1() == 3.0


def test_l1_l2_through_tensor(gpu, rng):
    x = rng.standard_normal((40, 30)).astype(np.float32)
    t = tensor.from_numpy(x, gpu)
    v = x.astype(np.float64)
    assert t.l1() == pytest.approx(np.abs(v).sum() / v.size, rel=1e-12)
    assert t.l2() == pytest.approx(np.sqrt((v * v).sum()) / v.size, rel=1e-12)
