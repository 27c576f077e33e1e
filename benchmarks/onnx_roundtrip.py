"""CIFAR-10 CNN built with singa's layers vs the same model exported to ONNX and imported.

    PYTHONPATH=python python benchmarks/onnx_roundtrip.py [--runs 3] [--warmup 3] [--reps 10]
    PYTHONPATH=python python benchmarks/onnx_roundtrip.py --quick      # a smoke run

Issue 15 point 4: the CIFAR CNN exported and imported again (``sonnx.SONNXModel``) should
run within 10% of the time of examples/autograd/cnn.py's CifarCNN, both in graph mode.
The parent process builds CifarCNN (seed 0), exports it with ``sonnx.to_onnx`` to a
temporary file, then starts one child per variant per run, alternating which goes
first: ``layers`` builds CifarCNN afresh, ``imported`` loads the file. Each child times
two things on batch 100 of random normalised images: a training step (SGD lr 0.005,
momentum 0.9, weight decay 0.004, ``compile(use_graph=True)``, so steps after the first
replay in C++) and an inference forward (eval mode, no_grad, eager: graph mode records
training steps only), each after its own warm-up. The table gives the medians of all
timed steps side by side and imported/layers; the CPU model, core count, threads and
OpenBLAS kernel are printed and kept in --json.
"""

import os
import sys

# OpenBLAS picks its kernel and blocking from the CPU unless these are set; the other
# benchmarks drop them too (run_all.py, profile_step.py) so numbers compare across them.
if any(v in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    _env = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import _harness  # noqa: E402  (puts this checkout's python/ first when it holds a build)

BATCH, CLASSES, NBATCHES = 100, 10, 4
LR, MOMENTUM, WD = 0.005, 0.9, 0.004
TARGET = 1.10
_MARK = "@@ROUNDTRIP@@ "
VARIANTS = ("layers", "imported")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def export_cifar_cnn(path, batch):
    """CifarCNN as the layers child builds it (seed 0), exported to ``path``."""
    from singa import autograd, device, sonnx, tensor
    import numpy as np
    cnn = _harness.import_example("cnn")
    device.get_default_device().SetRandSeed(0)
    net = cnn.CifarCNN(CLASSES)
    x = tensor.from_numpy(np.zeros((batch, 3, 32, 32), np.float32))
    net.compile([x], is_train=False, use_graph=False)
    with autograd.set_grad_enabled(True), autograd.train(False):
        y = net.forward(x)
    sonnx.save(sonnx.to_onnx([x], [y], model_name="cifar_cnn"), path)


def build(variant, model_path):
    if variant == "layers":
        return _harness.import_example("cnn").CifarCNN(CLASSES)
    from singa import sonnx
    return sonnx.SONNXModel(model_path)


def timed(fn, warmup, reps):
    """Wall and CPU seconds of each of ``reps`` calls of fn after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def child(args):
    import numpy as np
    from singa import autograd, opt, tensor
    from singa import singa_wrap as sw
    import cifar_cnn  # benchmarks/cifar_cnn.py: the same training step and data
    sw.set_num_threads(args.threads)
    net = build(args.child, args.model)
    sgd = opt.SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD)
    step, net = cifar_cnn.singa_model_step(net, sgd, (args.batch, 3, 32, 32), CLASSES)
    train_wall, train_cpu = timed(step, args.warmup, args.reps)

    net.eval()
    xs, _ = cifar_cnn._data((args.batch, 3, 32, 32), 1, CLASSES)
    x = tensor.from_numpy(xs[0])

    def infer():
        with autograd.no_grad():
            out = net.forward(x)
        tensor.to_numpy(out)  # waits for the result
    infer_wall, infer_cpu = timed(infer, args.warmup, args.reps)
    info = {"openblas": sw.openblas_corename(), "threads": sw.get_num_threads(),
            "numpy": np.__version__}
    try:
        info["conv_backend"] = sw.get_conv_backend()
    except Exception:  # builds without the backend switch
        pass
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(_MARK + json.dumps({"variant": args.child, "train": train_wall,
                              "train_cpu": train_cpu, "infer": infer_wall,
                              "infer_cpu": infer_cpu, "rss_mb": rss_mb, "info": info}),
          flush=True)


def run_child(variant, model_path, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", variant, "--model",
           model_path, "--warmup", str(args.warmup), "--reps", str(args.reps),
           "--threads", str(args.threads), "--batch", str(args.batch)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    raise RuntimeError("{} child failed (rc {}):\n{}\n{}".format(
        variant, proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:]))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="processes per variant (default 3)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed steps before each timed series (default 3)")
    ap.add_argument("--reps", type=int, default=None, help="timed steps per series (default 10)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 100)")
    ap.add_argument("--quick", action="store_true",
                    help="1 run, 1 warm-up, 2 timed steps, batch 16: a smoke test")
    ap.add_argument("--threads", type=int, default=_harness.THREADS)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    defaults = dict(runs=1, warmup=1, reps=2, batch=16) if args.quick else \
        dict(runs=3, warmup=3, reps=10, batch=BATCH)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


def main():
    args = parse_args()
    if args.child:
        child(args)
        return None
    print("onnx_roundtrip: CIFAR-10 CNN batch {}, {} run(s) x {} timed step(s) after {} "
          "warm-up step(s), {} threads{}".format(args.batch, args.runs, args.reps,
                                                 args.warmup, args.threads,
                                                 ", quick" if args.quick else ""), flush=True)
    print("CPU: {} ({} logical cores)".format(cpu_model(), os.cpu_count()), flush=True)
    results = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="singa_roundtrip_") as tmp:
        path = os.path.join(tmp, "cifar_cnn.onnx")
        export_cifar_cnn(path, args.batch)
        for r in range(args.runs):
            order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
            for v in order:
                res = run_child(v, path, args)
                results[v].append(res)
                print("  run {} {:<8}: train step median {:.1f} ms, inference median {:.1f} ms,"
                      " peak RSS {:.0f} MB".format(r + 1, v,
                                                  1e3 * statistics.median(res["train"]),
                                                  1e3 * statistics.median(res["infer"]),
                                                  res["rss_mb"]), flush=True)

    out = {"name": "onnx_roundtrip", "batch": args.batch, "runs": args.runs,
           "reps": args.reps, "warmup": args.warmup, "threads": args.threads,
           "quick": args.quick, "target": TARGET, "cpu": cpu_model(),
           "cores": os.cpu_count(), "info": results["layers"][0]["info"]}
    for v in VARIANTS:
        out[v] = {}
        for what in ("train", "infer", "train_cpu", "infer_cpu"):
            samples = [t for res in results[v] for t in res[what]]
            out[v][what] = _harness.summarize(samples)
        out[v]["rss_mb"] = max(res["rss_mb"] for res in results[v])
    print()
    print("{:<34} {:>24} {:>24} {:>9} {:>8}".format(
        "median of all timed steps", "singa layers (min-max)", "ONNX imported (min-max)",
        "imp/lay", "target"))
    out["ratio"] = {}
    for what, title in (("train", "training step (graph mode)"),
                        ("infer", "inference forward (eager)")):
        a, b = out["layers"][what], out["imported"][what]
        ratio = b["median"] / a["median"]
        out["ratio"][what] = ratio
        out["ratio"][what + "_cpu"] = (out["imported"][what + "_cpu"]["median"]
                                       / out["layers"][what + "_cpu"]["median"])
        print("{:<34} {:>24} {:>24} {:>9.3f} {:>8}".format(
            title, _harness.fmt_stat(a, "ms"), _harness.fmt_stat(b, "ms"), ratio,
            "<= {}".format(TARGET)))
    print("CPU time ratio (all threads): training {:.3f}, inference {:.3f}; OpenBLAS {}, "
          "{} threads".format(out["ratio"]["train_cpu"], out["ratio"]["infer_cpu"],
                              out["info"].get("openblas"), out["info"].get("threads")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
