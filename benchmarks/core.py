"""singa core kernels vs NumPy, side by side in one process.

    PYTHONPATH=python python benchmarks/core.py [--repeats 15] [--quick]

Rows: element-wise add/mul/exp on 1e6 and 1e7 float32 elements, a reduction over
axes (0, 2, 3) and over all axes of a (64, 128, 32, 32) tensor, and sgemm at
n = 256/1024/2048. Each row is warmed up, then timed `repeats` times; the table
shows medians, min-max and singa/NumPy (time ratio: < 1 means singa is faster;
for GEMM the GFLOP/s are shown as well).
"""
import argparse
import os
import statistics
import sys
import time

# OpenBLAS picks its kernel from these variables; a stale setting (e.g. a forced
# core type) would make both libraries slow in ways that say nothing about singa.
_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _BLAS_VARS) and os.environ.get("_SINGA_BENCH_REEXEC") != "1":
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    env["_SINGA_BENCH_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402

import _harness  # noqa: E402,F401  (puts a dev build of python/ on sys.path)
from singa import singa_wrap as sw  # noqa: E402


def timeit(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def numpy_blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
    infos = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    return ", ".join(f"{i.get('architecture')} ({os.path.basename(i['filepath'])}, "
                     f"{i.get('num_threads')} threads)" for i in infos) or "not OpenBLAS"


def cases(quick):
    rng = np.random.default_rng(0)
    sizes = [10**6] if quick else [10**6, 10**7]
    for n in sizes:
        a = rng.standard_normal(n, dtype=np.float32)
        b = rng.standard_normal(n, dtype=np.float32)
        ta, tb = sw.from_numpy(a), sw.from_numpy(b)
        out, tout = np.empty_like(a), sw.Tensor([n])
        label = f"1e{len(str(n)) - 1}"
        yield f"add {label}", lambda: np.add(a, b), lambda: sw.Add(ta, tb), None
        yield f"mul {label}", lambda: np.multiply(a, b), lambda: sw.EltwiseMult(ta, tb), None
        yield f"exp {label}", lambda: np.exp(a), lambda: sw.Exp(ta), None
        yield (f"add {label} (out=)", lambda: np.add(a, b, out=out),
               lambda: sw.AddWithRet(ta, tb, tout), None)
    x = rng.standard_normal((64, 128, 32, 32), dtype=np.float32)
    tx = sw.from_numpy(x)
    yield "sum axes (0,2,3)", lambda: x.sum(axis=(0, 2, 3)), lambda: sw.ReduceSum(tx, [0, 2, 3], False), None
    yield "sum all axes", lambda: x.sum(), lambda: sw.ReduceSum(tx, None, False), None
    for n in ([256, 1024] if quick else [256, 1024, 2048]):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = sw.from_numpy(a), sw.from_numpy(b)
        yield f"sgemm n={n}", lambda: a @ b, lambda: sw.Mult(ta, tb), 2.0 * n ** 3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for smoke tests")
    ap.add_argument("--threads", type=int, default=0,
                    help="singa threads (OpenMP and its OpenBLAS); default: all cores. "
                         "1 compares per-core speed on a busy machine, where every OpenMP "
                         "region waits for its slowest, descheduled thread")
    args = ap.parse_args()
    if args.threads:
        sw.set_num_threads(args.threads)

    print(f"singa OpenBLAS kernel: {sw.openblas_corename()}; numpy BLAS: {numpy_blas()}")
    print(f"threads: singa {sw.get_num_threads()}, cpus {os.cpu_count()}; numpy {np.__version__}")
    hdr = f"{'case':<20} {'numpy median':>13} {'(min-max) ms':>17} {'singa median':>13} {'(min-max) ms':>17} {'singa/numpy':>11}"
    print(hdr)
    print("-" * len(hdr))
    slower = []
    for name, fnp, fsg, flops in cases(args.quick):
        # One library at a time, with a pause between: OpenBLAS worker threads (NumPy
        # and singa each load their own OpenBLAS) spin for a while after a call and
        # would otherwise steal cores from the other library's measurement.
        time.sleep(0.3)
        tn = timeit(fnp, args.repeats)
        time.sleep(0.3)
        ts = timeit(fsg, args.repeats)
        mn, ms = statistics.median(tn), statistics.median(ts)
        ratio = ms / mn
        line = (f"{name:<20} {mn * 1e3:>10.3f} ms {min(tn) * 1e3:>7.3f}-{max(tn) * 1e3:<8.3f} "
                f"{ms * 1e3:>10.3f} ms {min(ts) * 1e3:>7.3f}-{max(ts) * 1e3:<8.3f} {ratio:>10.2f}x")
        if flops:
            line += f"   GFLOP/s numpy {flops / mn / 1e9:.1f}, singa {flops / ms / 1e9:.1f}"
        print(line, flush=True)
        if ratio > 1.10:
            slower.append(name)
    print("\nall rows within 10% of NumPy or faster" if not slower
          else f"\nslower than NumPy by more than 10%: {', '.join(slower)}")


if __name__ == "__main__":
    main()
