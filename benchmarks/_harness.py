"""Shared driver of the side-by-side benchmarks (singa vs PyTorch).

A workload script defines two builders, ``singa_setup(quick)`` and ``torch_setup(quick)``,
each returning ``(step, per)``: ``step()`` runs the measured unit of work once (a training
step, an epoch, or a loop of tiny ops) and ``per`` is the number of units it contains
(the reported time is ``elapsed / per``). It then calls :func:`main`.

The parent process starts one child per framework per run, alternating singa and PyTorch,
so neither library's threads, allocator state or page cache favour the other. Each child
builds its model, runs ``--warmup`` untimed steps, then ``--reps`` timed steps, and prints
one JSON line: the timings, its peak RSS (``ru_maxrss``) and a few facts (versions,
OpenBLAS kernel). Both frameworks run with the same number of threads (2 by default).
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

THREADS = 2
_MARK = "@@BENCH@@ "
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dev_python_dir():
    """``python/`` of this checkout when it holds a built extension (``./dev-build.sh``),
    else None. Benchmarks measure that build rather than an older installed singa."""
    pkg = os.path.join(ROOT, "python", "singa")
    try:
        built = any(f.startswith("singa_wrap") and f.endswith(".so") for f in os.listdir(pkg))
    except OSError:
        built = False
    return os.path.dirname(pkg) if built else None


_DEV = dev_python_dir()
if _DEV:
    sys.path.insert(0, _DEV)


def import_example(module):
    """Import a model module from examples/autograd (the benchmarks reuse their models)."""
    # Loaded by file path under another name: benchmarks/alexnet.py would shadow
    # examples/autograd/alexnet.py on sys.path.
    name = "_example_" + module
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "examples", "autograd", module + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def torch_available():
    return importlib.util.find_spec("torch") is not None


# --------------------------------------------------------------------------- child side

def _child(fw, setup, args):
    info = {}
    if fw == "singa":
        import numpy as np
        from singa import singa_wrap as sw
        import singa
        sw.set_num_threads(args.threads)
        info.update(version=singa.__version__, numpy=np.__version__,
                    openblas=sw.openblas_corename(), threads=sw.get_num_threads())
        try:
            info["conv_backend"] = sw.get_conv_backend()
        except Exception:  # older extension builds have no backend switch
            pass
        if hasattr(sw, "build_info"):
            build = sw.build_info()
            info["build"] = build["build"]
            info["kernel_isa"] = build["kernels"]["elementwise"]
    else:
        import torch
        torch.set_num_threads(args.threads)
        info.update(version=torch.__version__, threads=torch.get_num_threads())
    step, per = setup(args.quick)
    for _ in range(args.warmup):
        step()
    times, cpu = [], []
    for _ in range(args.reps):
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) / per)
        cpu.append((time.process_time() - c0) / per)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux
    print(_MARK + json.dumps({"fw": fw, "times": times, "cpu": cpu, "rss_mb": rss_mb, "info": info}),
          flush=True)


# -------------------------------------------------------------------------- parent side

def _run_child(script, fw, args):
    cmd = [sys.executable, script, "--child", fw, "--warmup", str(args.warmup),
           "--reps", str(args.reps), "--threads", str(args.threads)]
    if args.quick:
        cmd.append("--quick")
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    raise RuntimeError("{} child of {} failed (rc {}):\n{}\n{}".format(
        fw, os.path.basename(script), proc.returncode, proc.stdout[-2000:],
        proc.stderr[-4000:]))


def summarize(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)}


def fmt_time(seconds, unit):
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    v = seconds * scale
    return "{:.3g}".format(v) if v < 100 else "{:.0f}".format(v)


def fmt_stat(st, unit):
    if st is None:
        return ""
    return "{} {} ({}-{})".format(fmt_time(st["median"], unit), unit,
                                  fmt_time(st["min"], unit), fmt_time(st["max"], unit))


def main(name, title, singa_setup, torch_setup, unit="ms", target=None,
         runs=3, warmup=2, reps=5, quick_runs=2, quick_warmup=1, quick_reps=2):
    """Parse the command line and either act as a child or drive the comparison.

    Args:
        name: short workload name (the JSON key run_all.py uses).
        title: one-line description printed in the table.
        unit: 's', 'ms' or 'us' for printing.
        target: the issue's target ratio singa/PyTorch (None if there is none).
        runs, warmup, reps: defaults; quick_*: the --quick defaults.
    """
    ap = argparse.ArgumentParser(description=title)
    ap.add_argument("--runs", type=int, default=None,
                    help="processes per framework, alternating (default {})".format(runs))
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed steps in each process (default {})".format(warmup))
    ap.add_argument("--reps", type=int, default=None,
                    help="timed steps in each process (default {})".format(reps))
    ap.add_argument("--quick", action="store_true",
                    help="smaller run counts (and sizes where noted) for smoke tests")
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--no-torch", action="store_true", help="singa only")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--child", choices=("singa", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    q = args.quick
    if args.runs is None:
        args.runs = quick_runs if q else runs
    if args.warmup is None:
        args.warmup = quick_warmup if q else warmup
    if args.reps is None:
        args.reps = quick_reps if q else reps

    if args.child:
        _child(args.child, singa_setup if args.child == "singa" else torch_setup, args)
        return None

    script = os.path.abspath(sys.modules["__main__"].__file__)
    fws = ["singa"] + (["torch"] if torch_available() and not args.no_torch else [])
    results = {fw: [] for fw in fws}
    print("{}: {} run(s) x {} timed step(s) after {} warm-up step(s), {} threads{}".format(
        name, args.runs, args.reps, args.warmup, args.threads, ", quick" if q else ""),
        flush=True)
    for r in range(args.runs):
        order = fws if r % 2 == 0 else fws[::-1]  # alternate who goes first
        for fw in order:
            res = _run_child(script, fw, args)
            results[fw].append(res)
            print("  run {} {:<5}: median {} {} (CPU time {} {})  peak RSS {:.0f} MB".format(
                r + 1, fw, fmt_time(statistics.median(res["times"]), unit), unit,
                fmt_time(statistics.median(res["cpu"]), unit), unit, res["rss_mb"]),
                flush=True)

    out = {"name": name, "title": title, "unit": unit, "target": target,
           "runs": args.runs, "reps": args.reps, "warmup": args.warmup, "quick": q,
           "threads": args.threads}
    for fw in ("singa", "torch"):
        if fw not in results:
            out[fw] = None
            continue
        samples = [t for res in results[fw] for t in res["times"]]
        cpu = [t for res in results[fw] for t in res["cpu"]]
        out[fw] = dict(summarize(samples), cpu=summarize(cpu),
                       rss_mb=max(res["rss_mb"] for res in results[fw]),
                       info=results[fw][0]["info"])
    s, t = out["singa"], out["torch"]
    out["ratio"] = s["median"] / t["median"] if t else None
    out["rss_ratio"] = s["rss_mb"] / t["rss_mb"] if t else None
    # CPU time (all threads, spin-waiting included) is less sensitive than wall time to
    # other processes sharing the cores; a cross-check when the machine is loaded.
    out["cpu_ratio"] = s["cpu"]["median"] / t["cpu"]["median"] if t else None

    print()
    print("{:<46} {:>28} {:>28} {:>8} {:>7} {:>18}".format(
        "workload (median of all timed steps)", "singa median (min-max)",
        "PyTorch median (min-max)", "ratio", "target", "peak RSS s/t MB"))
    print("{:<46} {:>28} {:>28} {:>8} {:>7} {:>18}".format(
        title[:46], fmt_stat(s, unit), fmt_stat(t, unit),
        "{:.2f}".format(out["ratio"]) if out["ratio"] else "",
        "<= {}".format(target) if target else "",
        "{:.0f} / {}".format(s["rss_mb"], "{:.0f}".format(t["rss_mb"]) if t else "-")))
    print("CPU time per unit (all threads): singa {}{}".format(
        fmt_stat(s["cpu"], unit), ", PyTorch {} (ratio {:.2f})".format(
            fmt_stat(t["cpu"], unit), out["cpu_ratio"]) if t else ""))
    if t is None:
        print("(PyTorch is not installed or --no-torch: singa only)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out
