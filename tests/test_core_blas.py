"""Matrix products and row/column helpers of singa_wrap against NumPy."""
import numpy as np
import pytest

from singa import singa_wrap as sw

from _core import N, gemm_backends


def T(a):
    a = np.asarray(a)
    return sw.from_numpy(a if a.flags.c_contiguous else a.copy())


@pytest.fixture(autouse=True, params=gemm_backends())
def gemm_backend(request):
    """Every test here runs on each float32 GEMM library compiled in."""
    old = sw.get_gemm_backend()
    sw.set_gemm_backend(request.param)
    yield request.param
    sw.set_gemm_backend(old)


MATMUL_SHAPES = [
    ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((1, 1), (1, 1)),
    ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (2, 4, 5)),
    ((3, 0), (0, 4)), ((0, 3), (3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((1, 3, 4), (6, 4, 2)),
    ((65, 130), (130, 33)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mult(sa, sb, dtype, rng):
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    out = N(sw.Mult(T(a), T(b)))
    assert out.shape == want.shape and out.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def test_mult_int_and_half_compute_in_float32(rng):
    a = rng.integers(-3, 4, size=(3, 4)).astype(np.int32)
    b = rng.integers(-3, 4, size=(4, 2)).astype(np.int32)
    out = N(sw.Mult(T(a), T(b)))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a @ b)
    h = T(a.astype(np.float32)).AsType(sw.kFloat16)
    np.testing.assert_array_equal(N(sw.Mult(h, T(b.astype(np.float32)))), a @ b)


@pytest.mark.parametrize("m,k,n", [(300, 200, 130), (130, 200, 301), (70, 90, 4000)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mult_large_enough_to_split_over_threads(m, k, n, ta, tb, dtype, rng):
    # Products above ~4 MFLOP are split into row or column blocks, one per thread (with
    # OpenBLAS); each block must address its slice of the (possibly transposed) operands.
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    va = sw.Transpose(T(np.ascontiguousarray(a.T))) if ta else T(a)
    vb = sw.Transpose(T(np.ascontiguousarray(b.T))) if tb else T(b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(N(sw.Mult(va, vb)), want, rtol=tol, atol=tol * np.abs(want).max())
    c = rng.standard_normal((m, n)).astype(dtype)
    tc = T(c.copy())  # from_numpy shares the array's memory
    sw.MultWithScale(0.5, va, vb, 2.0, tc)
    np.testing.assert_allclose(N(tc), 0.5 * want + 2.0 * c, rtol=tol,
                               atol=tol * np.abs(want).max())


def _alloc_during(fn):
    dev = sw.GetDefaultDevice()
    before = dev.bytes_in_use()
    dev.ResetPeak()
    out = fn()
    return dev.peak_bytes() - before, out


@pytest.mark.parametrize("ta,tb", [(True, False), (False, True), (True, True)])
def test_mult_transposed_views_without_copies(ta, tb, rng):
    a, b = rng.standard_normal((64, 48)).astype(np.float32), rng.standard_normal((48, 32)).astype(np.float32)
    va = sw.Transpose(T(np.ascontiguousarray(a.T))) if ta else T(a)
    vb = sw.Transpose(T(np.ascontiguousarray(b.T))) if tb else T(b)
    assert va.IsContiguous() != ta and vb.IsContiguous() != tb
    extra, out = _alloc_during(lambda: sw.Mult(va, vb))
    assert extra == out.MemSize()  # only the result was allocated: no operand copies
    np.testing.assert_allclose(N(out), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("m", [1, 16, 64, 65])
def test_mult_few_rows_by_a_large_transposed_matrix(m, rng):
    # A @ B^T with few rows of A and a B of 16 MB or more runs oneDNN on the transpose
    # (C^T = B A^T, then copied transposed); 65 rows take the plain call
    a = rng.standard_normal((m, 2000)).astype(np.float32)
    b = rng.standard_normal((2100, 2000)).astype(np.float32)
    vb = sw.Transpose(T(b))
    want = a.astype(np.float64) @ b.T.astype(np.float64)
    extra, out = _alloc_during(lambda: sw.Mult(T(a), vb))
    assert extra == out.MemSize()  # no copy of the 16 MB operand
    np.testing.assert_allclose(N(out), want, rtol=1e-4, atol=1e-3)
    tc = T(np.full((m, 2100), np.nan, np.float32))  # beta 0: the old values are never read
    sw.MultWithScale(-0.5, T(a), vb, 0.0, tc)
    np.testing.assert_allclose(N(tc), -0.5 * want, rtol=1e-4, atol=1e-3)
    tc = T(np.ones((m, 2100), np.float32))
    sw.MultWithScale(1.0, T(a), vb, 2.0, tc)
    np.testing.assert_allclose(N(tc), want + 2.0, rtol=1e-4, atol=1e-3)


def test_mult_batched_transposed_view(rng):
    a = rng.standard_normal((3, 5, 4)).astype(np.float32)
    b = rng.standard_normal((3, 5, 6)).astype(np.float32)
    va = sw.Transpose(T(a), [0, 2, 1])  # (3, 4, 5) batched transpose
    extra, out = _alloc_during(lambda: sw.Mult(va, T(b)))
    assert extra == out.MemSize()
    np.testing.assert_allclose(N(out), a.transpose(0, 2, 1) @ b, rtol=1e-4, atol=1e-4)


def test_mult_strided_views(rng):
    a = rng.standard_normal((8, 10)).astype(np.float32)
    b = rng.standard_normal((10, 12)).astype(np.float32)
    va = T(a).Slice(0, 0, 8, 2).Slice(1, 0, 10, 2)  # (4, 5) strided both ways: needs a copy
    vb = T(b).Slice(0, 0, 10, 2)                     # (5, 12) row-strided: leading dim 24
    np.testing.assert_allclose(N(sw.Mult(va, vb)), a[::2, ::2] @ b[::2], rtol=1e-4, atol=1e-5)
    bb = T(b[:1]).Broadcast([5, 12])                 # zero row stride
    np.testing.assert_allclose(N(sw.Mult(va, bb)), a[::2, ::2] @ np.broadcast_to(b[:1], (5, 12)),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0)])
def test_mult_with_scale(alpha, beta, rng):
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    c = rng.standard_normal((3, 5)).astype(np.float32)
    want = alpha * (a @ b) + beta * c
    tc = T(c.copy())
    sw.MultWithScale(alpha, T(a), T(b), beta, tc)
    np.testing.assert_allclose(N(tc), want, rtol=1e-5, atol=1e-5)
    tc = T(c.copy())
    sw.Mult(alpha, sw.Transpose(T(np.ascontiguousarray(a.T))), T(b), beta, tc)
    np.testing.assert_allclose(N(tc), want, rtol=1e-5, atol=1e-5)
    # a non-contiguous output is written through the view
    base = T(np.ascontiguousarray(c.T))
    sw.MultWithScale(alpha, T(a), T(b), beta, sw.Transpose(base))
    np.testing.assert_allclose(N(base), want.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [2.5, -1.0])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_axpy(alpha, as_tensor, rng):
    x, y = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    a = T(np.array([alpha], np.float32)) if as_tensor else alpha
    ty = T(y.copy())
    sw.Axpy(a, T(x), ty)
    np.testing.assert_allclose(N(ty), alpha * x + y, rtol=1e-6)
    # broadcast x, into a transposed y
    ty = T(np.ascontiguousarray(y.T))
    sw.Axpy(a, T(x[:, :1]), sw.Transpose(ty))
    np.testing.assert_allclose(N(ty).T, alpha * x[:, :1] + y, rtol=1e-6)
    # 0-d alpha tensor and float64 y
    y64 = y.astype(np.float64)
    ty = T(y64.copy())
    sw.Axpy(T(np.array(alpha)), T(x), ty)
    np.testing.assert_allclose(N(ty), alpha * x.astype(np.float64) + y64, rtol=1e-7)


def test_axpy_int_y(rng):
    ty = T(np.arange(6, dtype=np.int32))
    sw.Axpy(2.0, T(np.ones(6, np.int32)), ty)
    np.testing.assert_array_equal(N(ty), np.arange(6) + 2)


ROWCOL = [
    ("AddColumn", lambda m, v: m + v[:, None], True),
    ("AddRow", lambda m, v: m + v[None, :], False),
    ("MultColumn", lambda m, v: m * v[:, None], True),
    ("MultRow", lambda m, v: m * v[None, :], False),
    ("DivColumn", lambda m, v: m / v[:, None], True),
    ("DivRow", lambda m, v: m / v[None, :], False),
]


@pytest.mark.parametrize("name,ref,column", ROWCOL, ids=[r[0] for r in ROWCOL])
def test_row_column_ops(name, ref, column, rng):
    m = rng.standard_normal((4, 6)).astype(np.float32)
    v = rng.uniform(0.5, 2, size=4 if column else 6).astype(np.float32)
    tm = T(m.copy())
    getattr(sw, name)(T(v), tm)
    np.testing.assert_allclose(N(tm), ref(m, v), rtol=1e-6)
    # into a transposed matrix view
    base = T(np.ascontiguousarray(m.T))
    getattr(sw, name)(T(v), sw.Transpose(base))
    np.testing.assert_allclose(N(base).T, ref(m, v), rtol=1e-6)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5), (0.0, 3.0)])
def test_add_with_scale(alpha, beta, rng):
    m = rng.standard_normal((3, 5)).astype(np.float32)
    vc, vr = rng.standard_normal(3).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    tm = T(m.copy())
    sw.AddColumnWithScale(alpha, beta, T(vc), tm)
    np.testing.assert_allclose(N(tm), alpha * vc[:, None] + beta * m, rtol=1e-5, atol=1e-6)
    tm = T(m.copy())
    sw.AddRowWithScale(alpha, beta, T(vr), tm)
    np.testing.assert_allclose(N(tm), alpha * vr[None] + beta * m, rtol=1e-5, atol=1e-6)


def test_default_gemm_backend_is_onednn_when_compiled_in_and_env_overrides():
    import os
    import subprocess
    import sys
    code = "from singa import singa_wrap as sw; print(sw.get_gemm_backend())"
    env = {k: v for k, v in os.environ.items() if k != "SINGA_GEMM_BACKEND"}
    default = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    assert default == ("dnnl" if "dnnl" in gemm_backends() else "openblas")
    env["SINGA_GEMM_BACKEND"] = "openblas"
    forced = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True).stdout.strip()
    assert forced == "openblas"
