"""Where the time of one workload's step goes: per-kernel timers and cProfile.

    PYTHONPATH=python python benchmarks/profile_step.py cifar_cnn [--steps 5] [--top 15]
    PYTHONPATH=python python benchmarks/profile_step.py alexnet --cprofile
    PYTHONPATH=python python benchmarks/profile_step.py xception --torch   # torch.profiler

Builds the singa side of benchmarks/<workload>.py, runs the warm-up, then times `steps`
steps with every public function of the `singa_wrap` extension wrapped in a timer (the
Python code calls them through the module, so the wrappers see every kernel launch).
Prints, per step: the wall time, the time inside singa_wrap calls grouped by function
(count, total, share of the step) and the remainder (Python: autograd engine, layers,
optimizer loop). With --cprofile, the same steps run under cProfile without the timers
and the top functions by own time are printed instead. With --torch, the PyTorch twin
runs under torch.profiler and its top operators by self CPU time are printed.
--cpu times with the process's CPU time (steady on a loaded machine; with --threads 1 a
kernel's CPU time is its own work), --by-shape groups the timers by argument shapes.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are dropped as in run_all.py.
"""

import argparse
import collections
import functools
import importlib
import os
import sys
import time

if any(v in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import _harness  # noqa: E402,F401  (imported for its effect: puts python/ on sys.path when needed)


# The core tensor's arithmetic operators run kernels too (ops write ``x + b``, ``dy * m``).
TENSOR_OPERATORS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                    "__truediv__", "__rtruediv__", "__neg__", "__iadd__", "__isub__",
                    "__imul__", "__itruediv__")


def wrap_kernels(sw, stats, clock=time.perf_counter, by_shape=False):
    """Replace each public function of singa_wrap and the core tensor's arithmetic
    operators by a wrapper timing it with ``clock``; return the undo. With ``by_shape``
    the calls are grouped by function and the shapes of their tensor arguments."""
    saved = []

    def make(fn, key):
        @functools.wraps(fn)
        def timed(*a, **k):
            t0 = clock()
            try:
                return fn(*a, **k)
            finally:
                name = key
                if by_shape:
                    name += " " + " ".join("x".join(map(str, x.shape())) for x in a
                                           if isinstance(x, sw.Tensor))
                st = stats[name]
                st[0] += 1
                st[1] += clock() - t0
        return timed

    for name in dir(sw):
        if name.startswith("_"):
            continue
        f = getattr(sw, name)
        if isinstance(f, type) or not callable(f):
            continue
        saved.append((sw, name, f))
        setattr(sw, name, make(f, name))
    for name in TENSOR_OPERATORS:
        f = getattr(sw.Tensor, name, None)
        if f is not None:
            saved.append((sw.Tensor, name, f))
            setattr(sw.Tensor, name, make(f, "Tensor." + name))

    def undo():
        for owner, name, f in saved:
            setattr(owner, name, f)
    return undo


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", help="mlp_batch500, mlp_batch1, cifar_cnn, alexnet, xception, "
                    "op_overhead, mlp_tiny")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (units) to profile")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="the workload's --quick size")
    ap.add_argument("--cprofile", action="store_true", help="cProfile instead of timers")
    ap.add_argument("--cpu", action="store_true",
                    help="time with the process's CPU time instead of the wall clock: on a "
                         "loaded machine a descheduled step inflates wall time, not CPU "
                         "time (with --threads 1 a kernel's CPU time is its own work)")
    ap.add_argument("--by-shape", action="store_true",
                    help="group the kernel timers by function and argument shapes")
    ap.add_argument("--torch", action="store_true", help="profile the PyTorch twin instead")
    ap.add_argument("--eager", action="store_true",
                    help="run graph-mode workloads eagerly: a replay runs the same kernels "
                         "from C++, where the per-kernel timers cannot see them")
    args = ap.parse_args()
    if args.eager:
        from singa import model
        compile_ = model.Model.compile

        def eager_compile(self, inputs, is_train=True, use_graph=False, sequential=False):
            return compile_(self, inputs, is_train=is_train, use_graph=False,
                            sequential=sequential)
        model.Model.compile = eager_compile
    mod = importlib.import_module(args.workload)

    if args.torch:
        import torch
        from torch.profiler import ProfilerActivity, profile
        torch.set_num_threads(args.threads)
        step, per = mod.torch_setup(args.quick)
        for _ in range(args.warmup):
            step()
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        wall = (time.perf_counter() - t0) / args.steps
        print("PyTorch {}: {:.2f} ms per unit under the profiler".format(args.workload,
                                                                          wall * 1e3))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
        return

    from singa import singa_wrap as sw
    sw.set_num_threads(args.threads)
    step, per = mod.singa_setup(args.quick)
    for _ in range(args.warmup):
        step()

    if args.cprofile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(args.steps):
            step()
        prof.disable()
        wall = time.perf_counter() - t0
        print("singa {}: {:.2f} ms per unit under cProfile".format(
            args.workload, wall / args.steps * 1e3))
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
        return

    stats = collections.defaultdict(lambda: [0, 0.0])
    clock = time.process_time if args.cpu else time.perf_counter
    undo = wrap_kernels(sw, stats, clock, args.by_shape)
    try:
        t0 = clock()
        for _ in range(args.steps):
            step()
        wall = clock() - t0
    finally:
        undo()
    n = args.steps
    inside = sum(v[1] for v in stats.values())
    print("singa {}: {:.3f} ms {}per unit ({} unit(s) of {} step(s)/op(s)), {} threads".format(
        args.workload, wall / n * 1e3, "of CPU time " if args.cpu else "", n, per,
        args.threads))
    print("  in singa_wrap calls: {:.3f} ms ({:.0f}%); outside (Python): {:.3f} ms ({:.0f}%)"
          .format(inside / n * 1e3, 100 * inside / wall, (wall - inside) / n * 1e3,
                  100 * (wall - inside) / wall))
    width = max([34] + [len(name) for name in stats])
    print("  {:<{w}} {:>9} {:>12} {:>7}".format("singa_wrap function", "calls/unit",
                                                "ms/unit", "share", w=width))
    for name, (cnt, tot) in sorted(stats.items(), key=lambda kv: -kv[1][1])[:args.top]:
        print("  {:<{w}} {:>9.1f} {:>12.3f} {:>6.1f}%".format(name, cnt / n, tot / n * 1e3,
                                                              100 * tot / wall, w=width))


if __name__ == "__main__":
    main()
