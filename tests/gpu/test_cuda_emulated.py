"""The CUDA reduce and index kernels (src/cuda/reduce.cu, shape.cu) run on emulated GPU
threads (tests/gpu/emu/cuda_emu.h: each block as real threads with barriers for
__syncthreads and the warp shuffles) and compared with the CPU device, on a machine
without a GPU. This runs the kernels' own code: launch geometry, split passes, shared-
memory trees, the block scan, the argmax classes, the pinned staging of index lists and
the duplicate marking of plain scatters. It cannot see what only hardware shows (the
memory model, launch limits, the kernels' speed).

Opt-in (the build takes a minute or two): SINGA_CUDA_EMU=1 builds the library with
tests/gpu/emu/build.sh (SINGA_CUDA_EMU_FLAGS adds g++ flags, e.g. an -I for
gpu/caching_allocator.h), or SINGA_CUDA_EMU_LIB names one already built.
"""
import ctypes
import os
import shlex
import subprocess

import numpy as np
import pytest

from singa import singa_wrap as sw

HERE = os.path.dirname(os.path.abspath(__file__))
cpu = sw.GetDefaultDevice()
C = ctypes
P = C.c_void_p
I64P = C.POINTER(C.c_int64)

DT = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2, np.dtype(np.int8): 3,
      np.dtype(np.float64): 4, np.dtype(np.uint8): 5, np.dtype(np.int64): 7, np.dtype(np.bool_): 8}


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    path = os.environ.get("SINGA_CUDA_EMU_LIB")
    if not path:
        if os.environ.get("SINGA_CUDA_EMU") != "1":
            pytest.skip("emulated CUDA kernels are opt-in: SINGA_CUDA_EMU=1 (or SINGA_CUDA_EMU_LIB)")
        path = str(tmp_path_factory.mktemp("emu") / "libsinga_cuda_emu.so")
        flags = shlex.split(os.environ.get("SINGA_CUDA_EMU_FLAGS", ""))
        r = subprocess.run([os.path.join(HERE, "emu", "build.sh"), path] + flags,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    lib = C.CDLL(path)
    lib.emu_error.restype = C.c_char_p
    lib.emu_live_blocks.restype = C.c_long
    return lib


def ptr(a):
    return a.ctypes.data_as(P)


def shp(s):
    a = np.array(list(s) or [0], np.int64)
    return a, a.ctypes.data_as(I64P)


def call(lib, fn, *args):
    before = lib.emu_live_blocks()
    if getattr(lib, fn)(*args) != 0:
        raise RuntimeError(lib.emu_error().decode())
    assert lib.emu_live_blocks() == before, "scratch memory leaked"
    assert lib.emu_live_events() == 0 or fn in ("emu_take", "emu_gather", "emu_scatter")


def T(a):
    return sw.from_numpy(np.array(a, copy=True, order="C"))


def N(t):
    return np.array(sw.to_numpy(t))


def close(got, want, dtype, n=1):
    if np.dtype(dtype).kind == "f":
        tol = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}[np.dtype(dtype)]
        tol *= 8 * max(1.0, np.sqrt(n))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def data(rng, shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-9, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


REDUCE = [((1000, 5), [1]), ((7, 20), [0]), ((3, 20000), [1]), ((1, 30000), [0, 1]), ((64, 300), [1]),
          ((3000, 40), [0]), ((9000, 3), [0]), ((6, 200, 70), [1]), ((4, 5, 6, 7), [0, 2]),
          ((9, 40, 3, 50), [0, 1, 3]), ((2, 1, 4, 1), [1, 3]), ((3, 0, 2), [1]), ((), [])]
KINDS = {"sum": (0, sw.ReduceSum), "max": (1, sw.ReduceMax), "min": (2, sw.ReduceMin),
         "prod": (3, sw.ReduceProd)}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axes", REDUCE)
def test_reduce(lib, rng, kind, dtype, shape, axes):
    code, entry = KINDS[kind]
    if kind in ("max", "min") and 0 in shape:
        return
    x = data(rng, shape, dtype)
    if kind == "prod":
        x = (rng.choice([-1, 1, 1, 2], size=shape) if np.dtype(dtype).kind == "i"
             else 1 + 0.01 * rng.standard_normal(shape))
        x = np.asarray(x, dtype)
    red = np.array([i in axes for i in range(len(shape))] or [0], np.int8)
    out_shape = [s for i, s in enumerate(shape) if i not in axes]
    out = np.empty(out_shape, dtype)
    xs, xp = shp(shape)
    os_, op = shp(out_shape)
    call(lib, "emu_reduce", code, DT[np.dtype(dtype)], len(shape), xp, red.ctypes.data_as(P), ptr(x),
         len(out_shape), op, ptr(out))
    want = N(entry(T(x), axes if axes else None, False)) if shape else x
    close(out, want.reshape(out.shape), dtype, x.size // max(1, out.size))


@pytest.mark.parametrize("kmin", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", [((3, 4, 5), 1), ((7, 5000), 1), ((3000, 40), 0), ((64, 33, 3), 1),
                                        ((1, 20000), 1), ((9, 1), 1)])
def test_argmax_argmin(lib, rng, kmin, dtype, shape, axis):
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "f":
        lanes = np.moveaxis(x, axis, -1)
        flat = lanes.reshape(-1, lanes.shape[-1])
        if flat.shape[0] >= 3 and flat.shape[1] >= 4:
            lanes.reshape(-1, lanes.shape[-1])  # (a view when possible)
            idx = np.unravel_index(np.arange(3), lanes.shape[:-1])
            lanes[tuple(i[0] for i in idx) + (0,)] = np.nan          # NaN first: chosen
            lanes[tuple(i[1] for i in idx) + (3,)] = np.nan          # NaN later: never
            lanes[tuple(i[2] for i in idx) + (slice(1, None),)] = np.nan
    out_shape = [s for i, s in enumerate(shape) if i != axis]
    out = np.empty(out_shape, np.int32)
    _, xp = shp(shape)
    _, op = shp(out_shape)
    call(lib, "emu_argext", kmin, DT[np.dtype(dtype)], len(shape), xp, axis, ptr(x), len(out_shape), op, ptr(out))
    want = N((sw.ArgMin if kmin else sw.ArgMax)(T(x), axis))
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape,axis", [((3, 5000), 1), ((1000, 3), 0), ((2, 70, 3), 1), ((5, 10), 1),
                                        ((4, 65), 1), ((2, 2049), 1), ((70, 33000), 0)])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(lib, rng, dtype, shape, axis, exclusive, reverse):
    x = data(rng, shape, dtype)
    if np.dtype(dtype) == np.int32:
        x[..., :5] = 2**30  # wraps, as on the CPU
    out = np.empty_like(x)
    _, xp = shp(shape)
    call(lib, "emu_cumsum", DT[np.dtype(dtype)], len(shape), xp, axis, exclusive, reverse, ptr(x), ptr(out))
    close(out, N(sw.CumSum(T(x), axis, bool(exclusive), bool(reverse))), dtype, shape[axis])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((4, 10), 1), ((8, 100), 1), ((3, 5000), 1), ((2, 7, 3), 1),
                                        ((6, 400), 0), ((9, 1024), 1), ((5, 1025), 1), ((3, 17), 1),
                                        ((20, 33000), 0), ((1200, 2, 2), 0)])
@pytest.mark.parametrize("log", [0, 1])
def test_softmax(lib, rng, dtype, shape, axis, log):
    x = (rng.standard_normal(shape) * 30).astype(dtype)
    y = np.empty_like(x)
    _, xp = shp(shape)
    call(lib, "emu_softmax", DT[np.dtype(dtype)], len(shape), xp, axis, log, ptr(x), ptr(y))
    want = N((sw.LogSoftMax if log else sw.SoftMax)(T(x), axis))
    close(y, want, dtype, shape[axis] * (100 if log else 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,c", [(300, 10), (5, 3000), (1, 2), (70, 33)])
def test_cross_entropy_and_labels(lib, rng, dtype, n, c):
    p = (rng.random((n, c)) + 0.01).astype(dtype)
    p /= p.sum(1, keepdims=True)
    p[0, 0] = 0  # a zero probability stays finite
    y = rng.integers(0, c, size=n).astype(np.int32)
    y[0] = 0
    loss = np.empty(n, dtype)
    call(lib, "emu_cross_entropy", DT[np.dtype(dtype)], n, c, 1, ptr(p), ptr(y), ptr(loss))
    close(loss, N(sw.CrossEntropyFwd(T(p), T(y))), dtype)
    t = (rng.random((n, c)) * (rng.random((n, c)) > 0.3)).astype(dtype)
    call(lib, "emu_cross_entropy", DT[np.dtype(dtype)], n, c, 0, ptr(p), ptr(t), ptr(loss))
    close(loss, N(sw.CrossEntropyFwd(T(p), T(t))), dtype, c)
    g = p.copy()
    call(lib, "emu_subtract_at_labels", DT[np.dtype(dtype)], n, c, ptr(g), ptr(y))
    close(g, N(sw.SoftmaxCrossEntropyBwd(T(p), T(y))), dtype)


@pytest.mark.parametrize("dtype", list(DT))
def test_power_sum_views(lib, rng, dtype):
    base = (rng.random((300, 70)) > 0.5) if dtype == np.bool_ else data(rng, (300, 70), dtype)
    views = [(base, (300, 70), (70, 1)), (base, (70, 300), (1, 70)), (base, (23, 300), (3, 70)),
             (base, (300, 70), (0, 1)), (base, (), ()), (base, (4, 5, 6), (700, 2, 100))]
    for b, shape, strides in views:
        nv = np.lib.stride_tricks.as_strided(b, shape, [s * b.itemsize for s in strides])
        for power in (1, 2):
            res = C.c_double(0)
            _, sp = shp(shape)
            _, stp = shp(strides)
            call(lib, "emu_power_sum", DT[np.dtype(dtype)], len(shape), sp, stp, ptr(b), power, C.byref(res))
            v = nv.astype(np.float64)
            want = np.abs(v).sum() if power == 1 else (v * v).sum()
            np.testing.assert_allclose(res.value, want, rtol=1e-12)


def _idx(a):
    a = np.ascontiguousarray(a, np.int64)
    return a, a.ctypes.data_as(I64P)


@pytest.mark.parametrize("dtype", list(DT))
@pytest.mark.parametrize("shape,axis,k", [((5, 3), 0, 4), ((5, 3), 1, 7), ((2, 3, 4), 2, 3), ((40, 8), 0, 300),
                                          ((30, 5, 3), 0, 1000), ((6, 50, 4), 1, 257), ((3, 100), 1, 2000),
                                          ((7,), 0, 2)])
def test_take(lib, rng, dtype, shape, axis, k):
    a = (rng.random(shape) > 0.5) if dtype == np.bool_ else data(rng, shape, dtype)
    idx, ip = _idx(rng.integers(0, shape[axis], size=k))
    out = np.take(np.zeros_like(a), idx, axis=axis)
    _, sp = shp(shape)
    _, op = shp(out.shape)
    call(lib, "emu_take", DT[np.dtype(dtype)], len(shape), sp, axis, ip, k, ptr(a), out.ndim, op, ptr(out))
    np.testing.assert_array_equal(out, N(sw.Take(T(a), T(idx), axis)))


ELEM = [((3, 4), (2, 3), 0), ((3, 4), (3, 9), 1), ((5, 6, 7), (5, 6, 7), 2), ((5, 6, 7), (4, 12, 3), 1),
        ((5, 6, 7), (9, 1, 7), 0), ((40, 30), (40, 30), 0), ((2, 300), (2, 700), 1), ((1, 8, 1, 9), (1, 20, 1, 9), 1),
        ((100000, 2), (5, 2), 0)]


@pytest.mark.parametrize("dtype", list(DT))
@pytest.mark.parametrize("shape,ishape,axis", ELEM)
def test_gather_scatter(lib, rng, dtype, shape, ishape, axis):
    a = (rng.random(shape) > 0.5) if dtype == np.bool_ else data(rng, shape, dtype)
    idx, ip = _idx(rng.integers(0, min(3, shape[axis]), size=ishape))  # many duplicates
    _, sp = shp(shape)
    _, isp = shp(ishape)
    out = np.empty(ishape, a.dtype)
    call(lib, "emu_gather", DT[a.dtype], len(shape), sp, isp, ip, axis, ptr(a), ptr(out))
    np.testing.assert_array_equal(out, N(sw.GatherElements(T(a), T(idx), axis)))
    upd = (rng.random(ishape) > 0.5) if dtype == np.bool_ else data(rng, ishape, dtype)
    got = a.copy()
    call(lib, "emu_scatter", DT[a.dtype], len(shape), sp, isp, ip, axis, 0, ptr(got), ptr(upd))
    np.testing.assert_array_equal(got, N(sw.ScatterElements(T(a), T(idx), T(upd), axis)))
    if a.dtype in (np.float32, np.float64, np.int32, np.int64):
        got = a.copy()
        call(lib, "emu_scatter", DT[a.dtype], len(shape), sp, isp, ip, axis, 1, ptr(got), ptr(upd))
        close(got, N(sw.ScatterElements(T(a), T(idx), T(upd), axis, True)), a.dtype, ishape[axis])
