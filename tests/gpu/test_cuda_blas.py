"""GEMM on the GPU (cuBLAS: src/cuda/blas.cc) against a reference on the same inputs.

Matrix products of many shapes, transposed and strided views (which reach the kernel
without a copy, as a transposed operand or a leading dimension past the row length),
batched products (one uniform batch stride, broadcast operands, batches whose strides do
not merge), the scaled product, and the float32/float64/float16/bfloat16 dtypes. The
reference is ``ref`` (CuPy on a real GPU, NumPy otherwise) in float64 on the values the
device holds; float32 runs with TF32 off, so it is held to float32 rounding scaled by the
reduction length.
"""
import numpy as np
import pytest

from singa import singa_wrap as sw

from _gpu import tolerance


def on(gpu, a):
    return sw.from_numpy(np.ascontiguousarray(a), gpu)


def back(t):
    return np.array(sw.to_numpy(t))


def matmul_ref(ref, a, b):
    """a @ b in float64 by the reference library, as NumPy."""
    return ref.numpy(ref.xp.matmul(ref.asarray(a.astype(np.float64)), ref.asarray(b.astype(np.float64))))


def check(got, want, dtype, k):
    rtol, atol = tolerance(dtype, reduced=k)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol * scale)


def blas_calls(gpu):
    """GEMM calls so far on a device that counts them (the test device), else None."""
    calls = gpu.kernel_calls()
    return calls.get("blas", 0) if calls else None


@pytest.fixture
def rng():
    return np.random.default_rng(16)


SHAPES = [
    ((1, 1), (1, 1)),
    ((3, 4), (4, 5)),
    ((1, 7), (7, 9)),      # one row: the leading dimension is tightened
    ((9, 7), (7, 1)),      # one column
    ((33, 65), (65, 17)),  # odd sizes
    ((64, 1), (1, 48)),    # K = 1: an outer product
    ((128, 256), (256, 96)),
    ((7,), (7, 5)),        # vector @ matrix
    ((5, 7), (7,)),        # matrix @ vector
    ((7,), (7,)),          # dot
]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_matmul_shapes(gpu, ref, rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    before = blas_calls(gpu)
    y = sw.Mult(on(gpu, a), on(gpu, b))
    assert y.device().id() == gpu.id()
    got = back(y)
    assert got.shape == np.matmul(a, b).shape
    check(got, matmul_ref(ref, a, b), np.float32, sa[-1])
    if before is not None:
        assert blas_calls(gpu) > before  # the device's gemm ran, no CPU fallback


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_transposed_views(gpu, ref, rng, ta, tb):
    M, K, N = 37, 29, 23
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    av, bv = on(gpu, a), on(gpu, b)
    if ta:
        av = sw.Transpose(av)
    if tb:
        bv = sw.Transpose(bv)
    got = back(sw.Mult(av, bv))
    check(got, matmul_ref(ref, a.T if ta else a, b.T if tb else b), np.float32, K)


def test_strided_row_views(gpu, ref, rng):
    """Column slices: row-major operands whose leading dimension exceeds their width."""
    big_a = rng.standard_normal((20, 50)).astype(np.float32)
    big_b = rng.standard_normal((31, 40)).astype(np.float32)
    av = on(gpu, big_a).Slice(1, 5, 36)   # (20, 31), ld 50
    bv = on(gpu, big_b).Slice(1, 3, 19)   # (31, 16), ld 40
    got = back(sw.Mult(av, bv))
    check(got, matmul_ref(ref, big_a[:, 5:36], big_b[:, 3:19]), np.float32, 31)


def test_strided_transposed_view(gpu, ref, rng):
    big = rng.standard_normal((30, 45)).astype(np.float32)
    av = sw.Transpose(on(gpu, big).Slice(1, 2, 40))  # (38, 30) transposed, ld 45
    b = rng.standard_normal((30, 11)).astype(np.float32)
    got = back(sw.Mult(av, on(gpu, b)))
    check(got, matmul_ref(ref, big[:, 2:40].T, b), np.float32, 30)


BATCHED = [
    ((4, 5, 6), (4, 6, 7)),          # one uniform stride
    ((3, 2, 5, 6), (3, 2, 6, 4)),    # two batch axes that merge
    ((4, 5, 6), (6, 7)),             # b shared (the batch collapses into one GEMM)
    ((5, 6), (4, 6, 7)),             # a shared: batch stride 0
    ((2, 1, 5, 6), (1, 3, 6, 4)),    # broadcast on both: strides that do not merge
    ((3, 1, 4, 5), (3, 2, 5, 2)),    # a broadcast on the inner axis only
]


@pytest.mark.parametrize("sa,sb", BATCHED, ids=[f"{a}x{b}" for a, b in BATCHED])
def test_batched(gpu, ref, rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    got = back(sw.Mult(on(gpu, a), on(gpu, b)))
    check(got, matmul_ref(ref, a, b), np.float32, sa[-1])


def test_batched_transposed_view(gpu, ref, rng):
    """Batch of transposed matrices: (B, K, M) viewed as (B, M, K)."""
    a = rng.standard_normal((3, 8, 5)).astype(np.float32)
    b = rng.standard_normal((3, 8, 6)).astype(np.float32)
    av = sw.Transpose(on(gpu, a), [0, 2, 1])
    got = back(sw.Mult(av, on(gpu, b)))
    check(got, matmul_ref(ref, a.transpose(0, 2, 1), b), np.float32, 8)


def test_batched_against_cpu_device(gpu, rng):
    """The same product on the CPU device (singa's own reference kernels) agrees."""
    a = rng.standard_normal((2, 3, 16, 24)).astype(np.float32)
    b = rng.standard_normal((3, 24, 8)).astype(np.float32)
    got = back(sw.Mult(on(gpu, a), on(gpu, b)))
    cpu = back(sw.Mult(sw.from_numpy(a), sw.from_numpy(b)))
    check(got, cpu.astype(np.float64), np.float32, 24)


def test_float64(gpu, ref, rng):
    a = rng.standard_normal((40, 33))
    b = rng.standard_normal((33, 21))
    y = sw.Mult(on(gpu, a), on(gpu, b))
    assert y.data_type() == sw.kFloat64
    check(back(y), matmul_ref(ref, a, b), np.float64, 33)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("batched", [False, True], ids=["2d", "batched"])
def test_half_dtypes(gpu, ref, rng, dtype, batched):
    """16-bit operands stay 16-bit and accumulate in float32 (so K = 256 stays accurate)."""
    code = sw.kFloat16 if dtype == "float16" else sw.kBFloat16
    sa, sb = ((3, 24, 256), (3, 256, 20)) if batched else ((24, 256), (256, 20))
    a32 = rng.standard_normal(sa).astype(np.float32)
    b32 = rng.standard_normal(sb).astype(np.float32)
    a = on(gpu, a32).AsType(code)
    b = on(gpu, b32).AsType(code)
    y = sw.Mult(a, b)
    assert y.data_type() == code
    # The reference multiplies the values the device holds (already rounded to 16 bits).
    ah, bh = back(a.AsType(sw.kFloat32)), back(b.AsType(sw.kFloat32))
    want = matmul_ref(ref, ah, bh)
    got = back(y.AsType(sw.kFloat32))
    # The result is rounded once to 16 bits: its own rounding, plus float32 accumulation.
    rel = 2.0 ** -8 if dtype == "float16" else 2.0 ** -7
    np.testing.assert_allclose(got, want, rtol=rel, atol=rel)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (0.5, 1.0), (-1.0, 3.0)])
def test_mult_with_scale(gpu, ref, rng, alpha, beta):
    a = rng.standard_normal((12, 9)).astype(np.float32)
    b = rng.standard_normal((9, 14)).astype(np.float32)
    c0 = rng.standard_normal((12, 14)).astype(np.float32)
    c = on(gpu, c0)
    sw.MultWithScale(alpha, on(gpu, a), on(gpu, b), beta, c)
    want = alpha * matmul_ref(ref, a, b) + beta * c0.astype(np.float64)
    check(back(c), want, np.float32, 9)


def test_empty_and_zero_k(gpu):
    a = on(gpu, np.zeros((0, 4), np.float32))
    b = on(gpu, np.ones((4, 3), np.float32))
    assert back(sw.Mult(a, b)).shape == (0, 3)
    a = on(gpu, np.zeros((2, 0), np.float32))
    b = on(gpu, np.zeros((0, 3), np.float32))
    np.testing.assert_array_equal(back(sw.Mult(a, b)), np.zeros((2, 3), np.float32))
