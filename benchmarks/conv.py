"""Convolution, pooling, LRN and batch-norm kernels: reference vs oneDNN (vs PyTorch).

    PYTHONPATH=python python benchmarks/conv.py [--repeats 9] [--quick]

Rows: the layers of the seed CIFAR-10 CNN (batch 100, 3x32x32: conv5x5 3->32 pad 2,
maxpool 3/2, LRN(3), conv5x5 32->32 pad 2, avgpool 3/2, conv5x5 32->64 pad 2, avgpool 3/2),
a few Xception-like depthwise/pointwise convolutions and a batch norm. For each row, the
forward and the backward (dx, dW, db for a conv) are timed for singa's reference kernels
(im2col + OpenBLAS, plain loops) and its oneDNN kernels, and, when `import torch` works,
for PyTorch (F.conv2d etc. + autograd, same thread count; its backward is timed as
forward-with-graph + autograd.grad minus the forward). Backends alternate within each
repeat so load from other processes hits them alike; the table shows medians in ms.
"""
import argparse
import os
import statistics
import sys
import time

# OpenBLAS picks its kernel from these variables; a forced older core type would make the
# reference path slow in ways a user's machine would not see (see benchmarks/core.py).
_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _BLAS_VARS) and os.environ.get("_SINGA_BENCH_REEXEC") != "1":
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    env["_SINGA_BENCH_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402

import _harness  # noqa: E402,F401  (puts a dev build of python/ on sys.path)
from singa import singa_wrap as sw  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
except Exception:  # not installed (never a dependency), or broken
    torch = None


def T(a):
    return sw.from_numpy(np.ascontiguousarray(a))


# name, kind, input shape, params
def cases(quick):
    b = 10 if quick else 100
    xb = 1 if quick else 2
    return [
        ("cifar conv1 5x5 3->32", "conv", (b, 3, 32, 32), dict(f=32, k=5, s=1, p=2, g=1)),
        ("cifar maxpool 3/2", "maxpool", (b, 32, 32, 32), dict(k=3, s=2, p=0)),
        ("cifar LRN(3)", "lrn", (b, 32, 15, 15), dict(size=3, alpha=5e-5, beta=0.75, k=1.0)),
        ("cifar conv2 5x5 32->32", "conv", (b, 32, 15, 15), dict(f=32, k=5, s=1, p=2, g=1)),
        ("cifar avgpool 3/2 (1)", "avgpool", (b, 32, 15, 15), dict(k=3, s=2, p=0)),
        ("cifar conv3 5x5 32->64", "conv", (b, 32, 7, 7), dict(f=64, k=5, s=1, p=2, g=1)),
        ("cifar avgpool 3/2 (2)", "avgpool", (b, 64, 7, 7), dict(k=3, s=2, p=0)),
        ("xcep dw3x3 64 @147", "conv", (xb, 64, 147, 147), dict(f=64, k=3, s=1, p=1, g=64)),
        ("xcep pw 64->128 @147", "conv", (xb, 64, 147, 147), dict(f=128, k=1, s=1, p=0, g=1)),
        ("xcep dw3x3 728 @19", "conv", (xb, 728, 19, 19), dict(f=728, k=3, s=1, p=1, g=728)),
        ("xcep pw 728->728 @19", "conv", (xb, 728, 19, 19), dict(f=728, k=1, s=1, p=0, g=1)),
        ("xcep conv3x3/2 3->32 @299", "conv", (xb, 3, 299, 299),
         dict(f=32, k=3, s=2, p=0, g=1)),
        ("xcep BN 728 @19", "bn", (xb, 728, 19, 19), {}),
    ]


def singa_fns(kind, shape, p, rng):
    """(forward, backward) closures over fixed random data for singa's kernels."""
    x = T(rng.standard_normal(shape, dtype=np.float32))
    c = shape[1]
    if kind == "conv":
        W = T(rng.standard_normal((p["f"], c // p["g"], p["k"], p["k"]), dtype=np.float32))
        b = T(np.zeros(p["f"], np.float32))
        h = sw.ConvHandle(x, [p["k"]] * 2, [p["s"]] * 2, [p["p"]] * 2, c, p["f"], True, p["g"])
        dy = T(rng.standard_normal((shape[0], p["f"], h.conv_height, h.conv_width),
                                   dtype=np.float32))

        def fwd():
            return sw.CpuConvForward(x, W, b, h)

        def bwd():
            return (sw.CpuConvBackwardx(dy, W, x, h), sw.CpuConvBackwardW(dy, x, W, h),
                    sw.CpuConvBackwardb(dy, b, h))
    elif kind in ("maxpool", "avgpool"):
        h = sw.PoolingHandle(x, [p["k"]] * 2, [p["s"]] * 2, [p["p"]] * 2, kind == "maxpool")
        y = sw.CpuPoolingForward(h, x)
        dy = T(rng.standard_normal((shape[0], c, h.pooled_height, h.pooled_width),
                                   dtype=np.float32))

        def fwd():
            return sw.CpuPoolingForward(h, x)

        def bwd():
            return sw.CpuPoolingBackward(h, dy, x, y)
    elif kind == "lrn":
        a = (p["size"], p["alpha"], p["beta"], p["k"])
        y = sw.CpuLRNForward(x, *a)
        dy = T(rng.standard_normal(shape, dtype=np.float32))

        def fwd():
            return sw.CpuLRNForward(x, *a)

        def bwd():
            return sw.CpuLRNBackward(dy, x, y, *a)
    elif kind == "bn":
        h = sw.BatchNormHandle(0.9, x)
        s, b = T(np.ones(c, np.float32)), T(np.zeros(c, np.float32))
        rm, rv = T(np.zeros(c, np.float32)), T(np.ones(c, np.float32))
        y, m, v = sw.CpuBatchNormForwardTraining(h, x, s, b, rm, rv)
        dy = T(rng.standard_normal(shape, dtype=np.float32))

        def fwd():
            return sw.CpuBatchNormForwardTraining(h, x, s, b, rm, rv)

        def bwd():
            return sw.CpuBatchNormBackwardx(h, y, dy, x, s, b, m, v)
    else:
        raise ValueError(kind)
    return fwd, bwd


def torch_fns(kind, shape, p, rng):
    """The same op in PyTorch: forward without autograd, backward = autograd.grad."""
    x = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).requires_grad_()
    c = shape[1]
    if kind == "conv":
        W = torch.randn(p["f"], c // p["g"], p["k"], p["k"], requires_grad=True)
        b = torch.zeros(p["f"], requires_grad=True)
        inputs = (x, W, b)

        def op():
            return F.conv2d(x, W, b, p["s"], p["p"], 1, p["g"])
    elif kind in ("maxpool", "avgpool"):
        inputs = (x,)
        pool = F.max_pool2d if kind == "maxpool" else F.avg_pool2d

        def op():
            return pool(x, p["k"], p["s"], p["p"])
    elif kind == "lrn":
        inputs = (x,)

        def op():
            return F.local_response_norm(x, p["size"], p["alpha"], p["beta"], p["k"])
    else:  # bn
        s, b = torch.ones(c, requires_grad=True), torch.zeros(c, requires_grad=True)
        rm, rv = torch.zeros(c), torch.ones(c)
        inputs = (x, s, b)

        def op():
            return F.batch_norm(x, rm, rv, s, b, True, 0.1, 1e-5)

    with torch.no_grad():
        y0 = op()
    dy = torch.randn_like(y0)

    def fwd():
        with torch.no_grad():
            return op()

    def bwd():
        # Forward with the graph, then the gradients; main() subtracts the forward time
        # measured in the same round, so the column shows the backward alone.
        y = op()
        return torch.autograd.grad(y, inputs, dy)

    return fwd, bwd


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--quick", action="store_true", help="small batches, for a smoke test")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    backends = ["reference"] + (["dnnl"] if sw.USE_DNNL else [])
    if torch is not None:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    old = sw.get_conv_backend()
    cols = backends + (["torch"] if torch is not None else [])
    print(f"singa USE_DNNL={sw.USE_DNNL}; torch: "
          f"{torch.__version__ if torch is not None else 'not installed'}; "
          f"{args.repeats} repeats, medians in ms (fwd / bwd)")
    head = f"{'layer':28s}" + "".join(f"{c:>20s}" for c in cols)
    if "dnnl" in cols:
        head += f"{'ref/dnnl':>10s}"
    print(head)
    print("-" * len(head))
    totals = {c: [0.0, 0.0] for c in cols}
    for name, kind, shape, p in cases(args.quick):
        fns = {}
        for be in backends:
            sw.set_conv_backend(be)
            fns[be] = singa_fns(kind, shape, p, rng)
        if torch is not None:
            fns["torch"] = torch_fns(kind, shape, p, rng)
        times = {c: ([], []) for c in cols}
        reps = args.repeats if not (kind == "conv" and "reference" in cols and
                                    np.prod(shape) > 3e6) else max(3, args.repeats // 3)
        for r in range(reps + 1):  # the first round is a warm-up (primitive creation)
            for c in cols:
                if c != "torch":
                    sw.set_conv_backend(c)
                f, b = fns[c]
                tf, tb = timed(f), timed(b)
                if c == "torch":
                    tb = max(tb - tf, 0.0)  # its backward closure re-runs the forward
                if r:
                    times[c][0].append(tf)
                    times[c][1].append(tb)
        row = f"{name:28s}"
        med = {}
        for c in cols:
            mf, mb = (statistics.median(v) for v in times[c])
            med[c] = mf + mb
            totals[c][0] += mf
            totals[c][1] += mb
            row += f"{mf:9.2f} / {mb:8.2f}"
        if "dnnl" in cols:
            row += f"{med['reference'] / med['dnnl']:9.1f}x"
        print(row, flush=True)
    sw.set_conv_backend(old)
    print("-" * len(head))
    row = f"{'total':28s}" + "".join(f"{totals[c][0]:9.2f} / {totals[c][1]:8.2f}" for c in cols)
    if "dnnl" in cols:
        row += f"{sum(totals['reference']) / sum(totals['dnnl']):9.1f}x"
    print(row)
    cifar = [n for n, *_ in cases(args.quick) if n.startswith("cifar")]
    print(f"(the CIFAR rows are the {len(cifar)} conv/pool/LRN layers of one training step)")


if __name__ == "__main__":
    main()
