"""singa on a CUDA GPU against PyTorch CUDA on the same GPU (issue 16, point 8).

    PYTHONPATH=python python benchmarks/gpu.py                        # full run
    PYTHONPATH=python python benchmarks/gpu.py --quick --out gpu.json # ~2 min on an H200
    PYTHONPATH=python python benchmarks/gpu.py --device cpu           # dry run (no GPU needed)

Rows (time per training step, median over all timed units of all runs; ratio
singa / PyTorch, target <= 1.0):
- Xception batch 16 (299 x 299), neon AlexNet batch 128 (224 x 224), the Lasagne MLP
  batch 500: the models, initialisation and optimizers of benchmarks/xception.py,
  alexnet.py and mlp_batch500.py (singa's from examples/autograd/, PyTorch's twins from
  those scripts), softmax cross-entropy, random data of the real shapes (a few distinct
  host batches, cycled; each step copies its batch from host memory into the device's
  input tensors, on both sides);
- ``eager``: singa ``Model.compile(use_graph=False)`` against PyTorch eager;
- ``graph``: singa ``Model.compile(use_graph=True)`` (a recorded step replayed) against
  PyTorch with a CUDA graph: the documented whole-network capture (warm-up iterations on
  a side stream, then ``torch.cuda.graph`` capture of forward, backward and
  ``optimizer.step()`` on static input tensors; RMSprop with ``capturable=True``), each
  step copying its batch into the static inputs and replaying;
- ``sgemm``: singa's float32 matmul (``tensor.mult`` into a preallocated output) of
  4096 x 4096 x 4096 against ``cupy.matmul`` (``CUPY_TF32=0``); GFLOP/s, ratio singa /
  CuPy, target >= 0.9. Both also report the largest relative error of a few rows against
  a float64 NumPy product (~1e-6 is float32 arithmetic, ~1e-3 would be TF32).

PyTorch runs in full float32 by default (cuDNN convolutions and matmuls with TF32 off,
``--torch-tf32`` allows it), cuDNN's benchmark mode off (``--cudnn-benchmark``).
Timings are GPU-synchronised: ``dev.Sync()`` / ``torch.cuda.synchronize()`` /
CuPy's stream synchronise before and after each timed unit (a few steps, so one unit is
not dominated by the synchronisation). Process pattern of the CPU benchmarks
(benchmarks/_harness.py): one child process per framework, workload, mode and run,
alternating which framework goes first; each child builds its model, runs ``--warmup``
untimed units, then ``--reps`` timed ones, and prints one JSON line; the peak device
memory of each child is reported (singa ``dev.peak_bytes()``, PyTorch
``torch.cuda.max_memory_allocated()``).

``--device cpu`` (alias ``--dry-run``) runs the same code paths on singa's CPU device and
PyTorch on the CPU at tiny sizes (Xception batch 1, AlexNet batch 2, MLP batch 50,
sgemm n = 256 against NumPy when CuPy is absent; PyTorch's ``graph`` rows then run the
static-input step without a capture): a check of the script itself, not a benchmark.
Without a usable GPU, ``--device cuda`` stops at once with the reason (exit status 3).
A child that fails is recorded with its error and the run goes on (exit status 1 at
the end); ``--budget`` seconds bounds the whole run (children left are skipped, and said
so). ``--out`` gets the JSON after every child, so a killed run leaves what it measured.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _harness

_MARK = "@@GPUBENCH@@ "

# batch / steps per timed unit on the GPU; cpu_*: the dry run's
WORKLOADS = {
    "xception": dict(title="Xception batch {batch}, 299x299", batch=16, shape=(3, 299, 299),
                     classes=1000, nbatches=2, steps=2, quick_steps=2, cpu_batch=1,
                     cpu_classes=10),
    "alexnet": dict(title="neon AlexNet batch {batch}, 224x224", batch=128,
                    shape=(3, 224, 224), classes=1000, nbatches=2, steps=4, quick_steps=2,
                    cpu_batch=2, cpu_classes=1000),
    "mlp": dict(title="MLP 784-500-300-10 batch {batch}", batch=500, shape=(784,), classes=10,
                nbatches=10, steps=50, quick_steps=20, cpu_batch=50, cpu_classes=10),
}
MODES = ("eager", "graph")
SGEMM_N, SGEMM_CPU_N, SGEMM_INNER = 4096, 256, 10
TRAIN_TARGET, SGEMM_TARGET = 1.0, 0.9


# ----------------------------------------------------------------------------- children

def _singa_device(name):
    from singa import device
    return device.create_cuda_gpu() if name == "cuda" else device.get_default_device()


def _batches(workload, batch, classes):
    """The CPU benchmarks' random batches (NumPy, host memory), labels < classes."""
    spec = WORKLOADS[workload]
    if workload == "mlp":
        from mlp_batch500 import _data
        xs, ys = _data(batch, spec["nbatches"])
    else:
        from cifar_cnn import _data
        xs, ys = _data((batch,) + spec["shape"], spec["nbatches"], spec["classes"])
    return xs, ys % classes


def _classes(args):
    spec = WORKLOADS[args.workload]
    return spec["cpu_classes"] if args.device == "cpu" else spec["classes"]


def singa_train(args):
    """(step, sync, dev, info): ``step()`` runs ``args.steps`` training steps of the
    workload in singa on ``args.device``."""
    from singa import autograd, model, opt, tensor
    w, batch = args.workload, args.batch
    spec, classes = WORKLOADS[w], _classes(args)
    dev = _singa_device(args.device)
    dev.SetRandSeed(0)
    init = None
    if w == "xception":
        from xception import LR, MOMENTUM, WD
        ex = _harness.import_example("xceptionnet")

        class XceptionModel(model.Model):
            """The example's Xception (an autograd.Layer) as a Model, trained as the
            example trains it (softmax cross-entropy, autograd.backward + SGD)."""

            def __init__(self):
                super().__init__()
                self.net = ex.Xception(num_classes=classes)

            def forward(self, x):
                return self.net(x)

            def train_one_batch(self, x, y):
                out = self.forward(x)
                loss = autograd.softmax_cross_entropy(out, y)
                self.optimizer(loss)
                return out, loss

        net = XceptionModel()
        optimizer = opt.SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD)
    elif w == "alexnet":
        ex = _harness.import_example("alexnet")
        net, optimizer, init = ex.AlexNet(classes), ex.neon_optimizer(), ex.neon_init
    else:
        from mlp_batch500 import DROPOUT, EPS, HIDDEN, LR, RHO
        ex = _harness.import_example("mlp")
        net = ex.MLP(HIDDEN, classes, DROPOUT)
        optimizer, init = opt.RMSProp(lr=LR, rho=RHO, epsilon=EPS), ex.glorot_init
    net.set_optimizer(optimizer)
    tx = tensor.Tensor((batch,) + spec["shape"], dev, requires_grad=False)
    ty = tensor.Tensor((batch,), dev, tensor.int32, requires_grad=False)
    net.compile([tx], is_train=True, use_graph=args.mode == "graph", sequential=False)
    if init is not None:
        init(net)
    net.train()
    xs, ys = _batches(w, batch, classes)
    pos = [0]

    def step():
        for _ in range(args.steps):
            i = pos[0] % len(xs)
            pos[0] += 1
            tx.copy_from_numpy(xs[i])
            ty.copy_from_numpy(ys[i])
            net(tx, ty)

    def cuda_graph():
        """How graph mode replayed: captured pieces, nodes run one by one, any failure."""
        g = getattr(net, "_graph_step", None)
        g = g.graph if g is not None else None
        if g is None:
            return None
        return {"captured": g.captured(), "pieces": g.captured_pieces(),
                "direct_nodes": g.direct_nodes(), "nodes": len(g),
                "failure": g.capture_failure()}

    return step, dev.Sync, dev, {"device": dev.name(), "cuda_graph": cuda_graph}


def _torch_precision(torch, allow_tf32):
    """Full float32 (or TF32 allowed) in cuDNN convolutions and matmuls; returns what
    was set."""
    prec = "tf32" if allow_tf32 else "ieee"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = prec
        torch.backends.cudnn.conv.fp32_precision = prec
    else:
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        torch.backends.cudnn.allow_tf32 = allow_tf32
    return prec


def torch_train(args):
    """(step, sync, dev, info) for the PyTorch twin; ``graph`` on CUDA captures the
    training step into a CUDA graph (the whole-network capture of PyTorch's CUDA graphs
    documentation) and replays it."""
    import torch
    import torch.nn.functional as F
    w, batch = args.workload, args.batch
    spec, classes = WORKLOADS[w], _classes(args)
    dev = torch.device(args.device)
    capture = args.mode == "graph" and dev.type == "cuda"
    info = {"device": str(dev), "capture": capture}
    if dev.type == "cuda":
        info["fp32_precision"] = _torch_precision(torch, args.torch_tf32)
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        info["cudnn_benchmark"] = args.cudnn_benchmark
        info["gpu"] = torch.cuda.get_device_name(dev)
    if w == "xception":
        import xception
        net = xception.torch_xception(classes)
        optimizer = xception.torch_optimizer(net)
    elif w == "alexnet":
        import alexnet
        net, optimizer = alexnet.torch_alexnet()
    else:
        import mlp_batch500
        # a captured optimizer step keeps its step count on the GPU
        net, optimizer = mlp_batch500.torch_mlp_net(**({"capturable": True} if capture else {}))
    net.to(dev)  # moves the parameters in place: the optimizer holds the same tensors
    net.train()
    xs, ys = _batches(w, batch, classes)
    xs, ys = torch.from_numpy(xs), torch.from_numpy(ys).long()
    sx = torch.empty((batch,) + spec["shape"], device=dev)
    sy = torch.empty((batch,), dtype=torch.long, device=dev)
    pos = [0]

    def feed():
        i = pos[0] % len(xs)
        pos[0] += 1
        sx.copy_(xs[i])
        sy.copy_(ys[i])

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(sx), sy)
        loss.backward()
        optimizer.step()
        return loss

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if not capture:
        def step():
            for _ in range(args.steps):
                feed()
                train_step()
        return step, sync, dev, info

    feed()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            train_step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    # captured on the warm-up's stream: the per-stream library state (cuBLAS workspaces)
    # made during the warm-up is the capture's too
    with torch.cuda.graph(graph, stream=side):
        # the gradients are allocated in the graph's pool: each replay writes them anew
        loss = F.cross_entropy(net(sx), sy)
        loss.backward()
        optimizer.step()

    def step():
        for _ in range(args.steps):
            feed()
            graph.replay()
    return step, sync, dev, info


def sgemm(args):
    """(step, sync, info, check): ``step()`` runs SGEMM_INNER n x n x n float32 matmuls
    into a preallocated output; ``check()`` gives the largest relative error of a few
    rows of the product against float64 NumPy."""
    import numpy as np
    n = args.n
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((n, n), dtype=np.float32)
    b_np = rng.standard_normal((n, n), dtype=np.float32)
    rows = min(n, 8)
    want = a_np[:rows].astype(np.float64) @ b_np.astype(np.float64)

    def rel_err(got_rows):
        return float(np.abs(got_rows - want).max() / np.abs(want).max())

    if args.child == "singa":
        from singa import tensor
        dev = _singa_device(args.device)
        a, b = tensor.from_numpy(a_np, dev), tensor.from_numpy(b_np, dev)
        c = tensor.mult(a, b)

        def step():
            for _ in range(SGEMM_INNER):
                tensor.mult(a, b, c)
        return step, dev.Sync, {"device": dev.name()}, \
            lambda: rel_err(tensor.to_numpy(c)[:rows])
    if args.child == "cupy":
        os.environ["CUPY_TF32"] = "0"  # CuPy's default: full float32 GEMMs
        import cupy as cp
        a, b = cp.asarray(a_np), cp.asarray(b_np)
        c = cp.empty((n, n), cp.float32)

        def step():
            for _ in range(SGEMM_INNER):
                cp.matmul(a, b, out=c)
        stream = cp.cuda.get_current_stream()
        return step, stream.synchronize, {"version": cp.__version__, "CUPY_TF32": "0"}, \
            lambda: rel_err(cp.asnumpy(c[:rows]))
    c = np.empty((n, n), np.float32)

    def step():
        for _ in range(SGEMM_INNER):
            np.matmul(a_np, b_np, out=c)
    return step, (lambda: None), {"version": np.__version__}, lambda: rel_err(c[:rows])


def _child(args):
    info = {}
    if args.child == "singa":
        import singa
        from singa import singa_wrap as sw
        info.update(version=singa.__version__, use_cuda=bool(sw.USE_CUDA))
        if args.device == "cpu":
            sw.set_num_threads(args.threads)
    elif args.child == "torch":
        import torch
        info.update(version=torch.__version__, cuda=torch.version.cuda)
        if args.device == "cpu":
            torch.set_num_threads(args.threads)
    check, dev = None, None
    if args.workload == "sgemm":
        step, sync, more, check = sgemm(args)
        per = SGEMM_INNER
    else:
        step, sync, dev, more = (singa_train if args.child == "singa" else torch_train)(args)
        per = args.steps
    info.update(more)
    t_setup = time.perf_counter()
    for _ in range(args.warmup):
        step()
    sync()
    info["warmup_s"] = time.perf_counter() - t_setup
    times = []
    for _ in range(args.reps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) / per)
    for k, v in list(info.items()):
        if callable(v):  # known only after the steps ran
            info[k] = v()
    out = {"fw": args.child, "times": times, "info": info}
    if check is not None:
        out["max_rel_err"] = check()
    if args.child == "singa" and dev is not None and hasattr(dev, "peak_bytes"):
        out["peak_mb"] = dev.peak_bytes() / 2 ** 20
    elif args.child == "torch" and args.device == "cuda":
        import torch
        out["peak_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print(_MARK + json.dumps(out), flush=True)


# ------------------------------------------------------------------------------- parent

def gpu_unavailable_reason():
    """None where singa sees a usable GPU, else why not (without creating a device)."""
    try:
        from singa import device
        from singa import singa_wrap as sw
    except Exception as e:  # an extension that does not load
        return "singa does not import: {}: {}".format(type(e).__name__, e)
    if not sw.USE_CUDA:
        return "singa was built without CUDA (singa_wrap.USE_CUDA is False)"
    why = getattr(sw.Platform, "GpuUnavailableReason", lambda: "")()
    if why:
        return "no CUDA GPU: " + why
    if device.get_num_gpus() == 0:
        return "no CUDA GPU: get_num_gpus() is 0"
    return None


def _gpu_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _cupy_available():
    import importlib.util
    return importlib.util.find_spec("cupy") is not None


def _plan(args):
    """The rows: (workload, mode, reference framework)."""
    rows = []
    if "sgemm" in args.workloads:
        ref = "cupy" if _cupy_available() else ("numpy" if args.device == "cpu" else "cupy")
        rows.append(("sgemm", "-", ref))
    for w in args.workloads:
        if w == "sgemm":
            continue
        for m in args.modes:
            rows.append((w, m, "torch"))
    return rows


def _child_cmd(args, fw, workload, mode):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", fw, "--workload", workload,
           "--mode", mode if mode != "-" else "eager", "--device", args.device,
           "--warmup", str(args.warmup), "--reps", str(args.reps),
           "--threads", str(args.threads)]
    if workload == "sgemm":
        cmd += ["--n", str(args.n)]
    else:
        spec = WORKLOADS[workload]
        cpu = args.device == "cpu"
        batch = spec["cpu_batch"] if cpu else spec["batch"]
        steps = 1 if cpu else (spec["quick_steps"] if args.quick else spec["steps"])
        cmd += ["--batch", str(batch), "--steps", str(steps)]
    if args.torch_tf32:
        cmd.append("--torch-tf32")
    if args.cudnn_benchmark:
        cmd.append("--cudnn-benchmark")
    return cmd


def _run_child(cmd, timeout, threads):
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-1500:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"error": "timed out after {:.0f} s\n{}".format(timeout, tail)}
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            res = json.loads(line[len(_MARK):])
            res["wall_s"] = wall
            return res
    return {"error": "rc {}: {}".format(proc.returncode,
                                        (proc.stderr.strip() or proc.stdout.strip())[-1500:]),
            "wall_s": wall}


def _stats(results, sgemm_n=None):
    samples = [t for r in results if "times" in r for t in r["times"]]
    if not samples:
        return None
    st = _harness.summarize(samples)
    if sgemm_n:
        flop = 2.0 * sgemm_n ** 3
        st["gflops"] = flop / st["median"] / 1e9
        st["gflops_max"] = flop / st["min"] / 1e9
    peaks = [r["peak_mb"] for r in results if "peak_mb" in r]
    if peaks:
        st["peak_mb"] = max(peaks)
    errs = [r["max_rel_err"] for r in results if "max_rel_err" in r]
    if errs:
        st["max_rel_err"] = max(errs)
    return st


def _summarize_row(row, args):
    sg = _stats(row["results"]["singa"], args.n if row["workload"] == "sgemm" else None)
    rf = _stats(row["results"][row["ref"]], args.n if row["workload"] == "sgemm" else None)
    row["singa"], row["reference"] = sg, rf
    row["errors"] = [r["error"] for fw in row["results"] for r in row["results"][fw]
                     if "error" in r]
    if sg and rf:
        if row["workload"] == "sgemm":
            row["ratio"] = sg["gflops"] / rf["gflops"]
            row["met"] = row["ratio"] >= SGEMM_TARGET
        else:
            row["ratio"] = sg["median"] / rf["median"]
            row["met"] = row["ratio"] <= TRAIN_TARGET
    else:
        row["ratio"], row["met"] = None, None
    return row


def _fmt(st, sgemm):
    if st is None:
        return "failed"
    if sgemm:
        return "{:.4g} GFLOP/s".format(st["gflops"])
    return _harness.fmt_stat(st, "ms")


def print_table(report):
    print()
    print("{:<36} {:<6} {:>26} {:>30} {:>7} {:>7} {:>4}".format(
        "workload (time per training step)", "mode", "singa median (min-max)", "reference",
        "ratio", "target", "met"))
    for row in report["rows"]:
        sgemm = row["workload"] == "sgemm"
        ref = "{} {}".format({"torch": "PyTorch", "cupy": "CuPy", "numpy": "NumPy"}[row["ref"]],
                             _fmt(row.get("reference"), sgemm))
        mode = row["mode"]
        if row["ref"] == "torch" and mode == "graph":
            mode = "graph" if report["device"] == "cuda" else "graph*"
        print("{:<36} {:<6} {:>26} {:>30} {:>7} {:>7} {:>4}".format(
            row["title"][:36], mode, _fmt(row.get("singa"), sgemm), ref,
            "{:.2f}".format(row["ratio"]) if row.get("ratio") else "-",
            (">= {}" if sgemm else "<= {}").format(row["target"]),
            {True: "yes", False: "NO", None: "-"}[row.get("met")]))
    for row in report["rows"]:
        if row["workload"] == "sgemm" and row.get("singa") and row.get("reference"):
            print("sgemm max relative error vs float64: singa {:.1e}, {} {:.1e}".format(
                row["singa"].get("max_rel_err", float("nan")), row["ref"],
                row["reference"].get("max_rel_err", float("nan"))))
    if report["device"] == "cpu":
        print("(dry run on the CPU at tiny sizes: not a benchmark; graph*: PyTorch's "
              "static-input step without a CUDA graph)")
    for row in report["rows"]:
        for e in row.get("errors", []):
            print("error in {} {}: {}".format(row["workload"], row["mode"],
                                              e.strip().splitlines()[-1] if e.strip() else e))
    if report.get("skipped"):
        print("skipped (budget of {} s spent): {}".format(report["budget_s"],
                                                          ", ".join(report["skipped"])))


def _write(report, path):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1)
        os.replace(tmp, path)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: a dry run of the same code at tiny sizes")
    ap.add_argument("--dry-run", action="store_true", help="the same as --device cpu")
    ap.add_argument("--quick", action="store_true", help="1 run, fewer steps per unit")
    ap.add_argument("--runs", type=int, default=None,
                    help="processes per framework and row (default 2, --quick 1)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed units per process (default 3, --quick 2)")
    ap.add_argument("--reps", type=int, default=None,
                    help="timed units per process (default 5, --quick 3)")
    ap.add_argument("--workloads", default="sgemm,mlp,alexnet,xception",
                    help="comma-separated subset of sgemm,mlp,alexnet,xception (run in "
                         "that order)")
    ap.add_argument("--modes", default="eager,graph", help="eager, graph or both")
    ap.add_argument("--n", type=int, default=None, help="sgemm size (default 4096; cpu 256)")
    ap.add_argument("--torch-tf32", action="store_true",
                    help="let PyTorch use TF32 in convolutions and matmuls")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="torch.backends.cudnn.benchmark = True")
    ap.add_argument("--threads", type=int, default=_harness.THREADS,
                    help="CPU threads of each framework on --device cpu")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole run: children that would start after it "
                         "are skipped, a running one is stopped at it")
    ap.add_argument("--child-timeout", type=float, default=300.0)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--child", choices=("singa", "torch", "cupy", "numpy"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="eager", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.dry_run:
        args.device = "cpu"
    q, cpu = args.quick, args.device == "cpu"
    if args.runs is None:
        args.runs = 1 if (q or cpu) else 2
    if args.warmup is None:
        args.warmup = 1 if cpu else (2 if q else 3)
    if args.reps is None:
        args.reps = 1 if cpu else (3 if q else 5)
    if args.n is None:
        args.n = SGEMM_CPU_N if cpu else SGEMM_N
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [w for w in args.workloads if w not in WORKLOADS and w != "sgemm"]
    bad += [m for m in args.modes if m not in MODES]
    if bad:
        ap.error("unknown workload or mode: {}".format(", ".join(bad)))
    if args.warmup < 1 or args.reps < 1 or args.runs < 1:
        ap.error("--runs, --warmup and --reps must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        _child(args)
        return 0
    t_start = time.perf_counter()
    report = {"device": args.device, "quick": args.quick, "runs": args.runs,
              "warmup": args.warmup, "reps": args.reps, "sgemm_n": args.n,
              "torch_tf32": args.torch_tf32, "cudnn_benchmark": args.cudnn_benchmark,
              "budget_s": args.budget, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "rows": [], "skipped": []}
    if args.device == "cuda":
        why = gpu_unavailable_reason()
        report["gpu"] = _gpu_name()
        if why:
            report["error"] = why
            _write(report, args.out)
            print("benchmarks/gpu.py: {} (--device cpu runs the dry run)".format(why),
                  file=sys.stderr)
            return 3
    rows = []
    for w, m, ref in _plan(args):
        if w == "sgemm":
            title = "sgemm {0}x{0}x{0} float32".format(args.n)
            target = SGEMM_TARGET
        else:
            spec = WORKLOADS[w]
            title = spec["title"].format(batch=spec["cpu_batch"] if args.device == "cpu"
                                         else spec["batch"])
            target = TRAIN_TARGET
        rows.append({"workload": w, "mode": m, "ref": ref, "title": title, "target": target,
                     "results": {"singa": [], ref: []}})
    report["rows"] = rows
    print("gpu.py on {}{}: {} run(s) x {} timed unit(s) after {} warm-up unit(s)".format(
        args.device, " ({})".format(report.get("gpu")) if report.get("gpu") else "",
        args.runs, args.reps, args.warmup), flush=True)
    for r in range(args.runs):
        for k, row in enumerate(rows):
            fws = ["singa", row["ref"]]
            for fw in (fws if (r + k) % 2 == 0 else fws[::-1]):
                name = "{} {} {} run {}".format(row["workload"], row["mode"], fw, r + 1)
                timeout = args.child_timeout
                if args.budget is not None:
                    left = args.budget - (time.perf_counter() - t_start)
                    if left < 5:
                        report["skipped"].append(name)
                        continue
                    timeout = min(timeout, left)
                res = _run_child(_child_cmd(args, fw, row["workload"], row["mode"]),
                                 timeout, args.threads)
                row["results"][fw].append(res)
                if "error" in res:
                    print("  {:<32} FAILED: {}".format(name, res["error"].strip().splitlines()[-1]
                                                      if res["error"].strip() else ""),
                          flush=True)
                else:
                    med = statistics.median(res["times"])
                    shown = ("{:.4g} GFLOP/s".format(2.0 * args.n ** 3 / med / 1e9)
                             if row["workload"] == "sgemm"
                             else _harness.fmt_time(med, "ms") + " ms/step")
                    print("  {:<32} {}  (process {:.1f} s{})".format(
                        name, shown, res.get("wall_s", 0.0),
                        ", peak {:.0f} MB".format(res["peak_mb"]) if "peak_mb" in res else ""),
                        flush=True)
                _summarize_row(row, args)
                report["elapsed_s"] = time.perf_counter() - t_start
                _write(report, args.out)
    for row in rows:
        _summarize_row(row, args)
    report["elapsed_s"] = time.perf_counter() - t_start
    report["failed"] = sum(len(row["errors"]) for row in rows)
    _write(report, args.out)
    print_table(report)
    print("total {:.0f} s".format(report["elapsed_s"]))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
