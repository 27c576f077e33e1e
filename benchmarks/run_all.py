"""Run every side-by-side benchmark (singa vs PyTorch) and write benchmarks/RESULTS.md.

    PYTHONPATH=python python benchmarks/run_all.py            # both tables (~10-15 min)
    PYTHONPATH=python python benchmarks/run_all.py --isa avx2 # the AVX2-forced table only
    PYTHONPATH=python python benchmarks/run_all.py --quick    # smoke test (~2-3 min)
    PYTHONPATH=python python benchmarks/run_all.py --only cifar_cnn,alexnet --output /tmp/r.md
    PYTHONPATH=python python benchmarks/run_all.py --quick --runs 2   # a loaded machine

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment of the processes
this script starts (and only there): on a user's machine they are unset, and a forced core
type makes OpenBLAS use older kernels. The kernel OpenBLAS then picks is recorded. Tests and
CI never do this.

Two tables: one on the machine's own instruction set, one with AVX2 forced on an AVX-512
machine (ISA_LIMITS: oneDNN's, PyTorch's and singa's own kernels' dispatch limited to AVX2).
On a machine without AVX-512 the two are the same table, written once, and the AVX-512 table
of the report being replaced is kept beside it with its date and CPU.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _harness import dev_python_dir  # noqa: E402  (also puts a dev build on sys.path)
from dist_model import RESULTS_BEGIN, RESULTS_END  # noqa: E402  (dist.py's section)
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PEAK_GFLOPS = 490.0  # the measured fp32 FMA peak of this machine class (2 cores)

# (script, PyTorch 2.13 reference from the issue, PyTorch tuned by hand)
WORKLOADS = [
    ("mlp_batch500", "1.29 s", "1.28 s"),
    ("mlp_batch1", "3.8 ms", "1.04 ms"),
    ("cifar_cnn", "53 ms", "46 ms"),
    ("alexnet", "415 ms", "286 ms"),
    ("xception", "633 ms", "461 ms"),
    ("op_overhead", "1.17 us", ""),
    ("mlp_tiny", "95 us", ""),
    ("mlp_tiny_graph", "95 us", ""),
]
# What "AVX2 forced" sets for the benchmark processes: oneDNN's dispatch, PyTorch's ATen
# kernels and its MKL, OpenBLAS's kernels, and singa's own kernels (their runtime dispatch
# in a portable build; a native -march=native build has one code path, which the report
# then names).
ISA_LIMITS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
              "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
              "SINGA_CPU_ISA": "avx2"}
AVX512_BEGIN = "<!-- run_all.py: AVX-512 table: begin -->"
AVX512_END = "<!-- run_all.py: AVX-512 table: end -->"
INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def child_env(threads, isa="native"):
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS and k not in ISA_LIMITS}
    if isa == "avx2":
        env.update(ISA_LIMITS)
    env["OMP_NUM_THREADS"] = str(threads)
    py = dev_python_dir()
    if py:
        env["PYTHONPATH"] = py + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def machine():
    info = {"cpu": platform.processor() or "unknown", "cores": os.cpu_count(), "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for line in text.splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["flags"] = [f for f in INTERESTING_FLAGS if f in flags]
                break
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    return info


# ------------------------------------------------------------------------------- sgemm

def sgemm_child(fw, n, reps, threads):
    """Print the GFLOP/s of each of `reps` n x n sgemm calls (after two warm-up calls)."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if fw == "singa":
        from singa import singa_wrap as sw
        sw.set_num_threads(threads)
        ta, tb = sw.from_numpy(a), sw.from_numpy(b)

        def fn():
            sw.Mult(ta, tb)
        # The machine's own ceiling, measured in the same process with the same threads.
        extra = {"openblas": sw.openblas_corename(), "backend": sw.get_gemm_backend(),
                 "fma_peak": sw.fma_peak_gflops(), "lanes": sw.fma_peak_lanes()}
    else:
        import torch
        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)

        def fn():
            torch.mm(ta, tb)
        extra = {}
    for _ in range(2):
        fn()
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        rates.append(2.0 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    print(json.dumps(dict(extra, gflops=rates)))


def sgemm(fw, n, reps, threads, isa):
    cmd = [sys.executable, os.path.abspath(__file__), "--sgemm-child", fw, "--sgemm-n", str(n),
           "--sgemm-reps", str(reps), "--threads", str(threads)]
    p = subprocess.run(cmd, env=child_env(threads, isa), capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ report

def fmt(st, unit):
    sys.path.insert(0, HERE)
    from _harness import fmt_stat
    return fmt_stat(st, unit)


def write_report(path, mach, load_before, load_after, passes, args, blas_env, elapsed):
    """passes: [(isa, results, gemm)] in the order run ("native" and/or "avx2")."""
    first = next((r for _, res, _ in passes for r in res.values() if r), None)
    sinfo = first["singa"]["info"] if first else {}
    tinfo = first["torch"]["info"] if first and first["torch"] else None
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = ["# Benchmark results: singa vs PyTorch (CPU)", ""]
    lines.append("Written by `benchmarks/run_all.py`{} on {} ({:.0f} s).".format(
        " --quick" if args.quick else "", when, elapsed))
    lines.append("")
    # The load before the run is what other jobs put on the machine; the one after also
    # counts the benchmarks' own two threads.
    loaded = load_before[0] > 1.5
    if loaded:
        lines += ["> **The machine was loaded when this run started** (load average {:.2f} "
                  "before, {:.2f} after, on {} cores; other jobs were running). The "
                  "absolute times are inflated and noisy and the ratios are only indicative; "
                  "rerun on an idle machine for figures to compare with the issue's "
                  "references.".format(load_before[0], load_after[0], mach["cores"]), ""]
    if args.quick:
        lines += ["> `--quick` run: few processes and timed steps per workload, and the MLP "
                  "batch-500 epoch extrapolated from 10 steps; a rough measurement.", ""]
    lines += ["## Machine and versions", ""]
    lines.append("- CPU: {}, {} cores; flags: {}".format(mach["cpu"], mach["cores"],
                                                        " ".join(mach["flags"]) or "?"))
    lines.append("- load average (1/5/15 min): before {}, after {}".format(
        "/".join("{:.2f}".format(x) for x in load_before),
        "/".join("{:.2f}".format(x) for x in load_after)))
    lines.append("- Linux {}, Python {}".format(mach["kernel"], mach["python"]))
    lines.append("- singa {} (conv backend: {}; build: {}), NumPy {}".format(
        sinfo.get("version", "?"), sinfo.get("conv_backend", "?"), sinfo.get("build", "?"),
        sinfo.get("numpy", "?")))
    lines.append("- OpenBLAS kernel chosen (`singa_wrap.openblas_corename()`): **{}**".format(
        sinfo.get("openblas", "?")))
    lines.append("- environment: {} removed for the benchmark processes (set here: {})".format(
        " and ".join("`{}`".format(v) for v in BLAS_VARS),
        ", ".join("{}={}".format(k, v) for k, v in blas_env.items()) or "neither"))
    lines.append("- PyTorch: {}".format(tinfo["version"] if tinfo else "not installed"))
    lines.append("- command: `python benchmarks/run_all.py {}`".format(" ".join(sys.argv[1:])))
    lines.append("- threads: {} for both frameworks (`singa_wrap.set_num_threads`, "
                 "`torch.set_num_threads`, OMP_NUM_THREADS)".format(args.threads))
    lines.append("")
    lines.append("Time ratio and RSS ratio are singa / PyTorch (< 1: singa is faster / "
                 "smaller). Medians over all timed steps of all processes; min-max in "
                 "brackets. Targets from issue 17 (6 before it): time ratio as listed, on the "
                 "machine's own ISA and with AVX2 forced; peak RSS <= 0.7x. The CPU-time "
                 "ratio (process CPU time over all threads, spin-waiting included) is a "
                 "cross-check that depends less on other load than wall time does.")
    native_avx512 = "avx512f" in mach["flags"]
    for isa, results, gemm in passes:
        section = _workload_section(isa, native_avx512, mach, when, results, gemm)
        if isa == "native" and native_avx512:
            section = [AVX512_BEGIN] + section + [AVX512_END]
        lines += [""] + section
    if not native_avx512:
        lines += _kept_avx512_table(path)
    lines += ["", "Profiles and what dominates each workload: see `benchmarks/README.md`.", ""]
    text = "\n".join(lines) + _kept_sections(path)
    with open(path, "w") as f:
        f.write(text)


def _workload_section(isa, native_avx512, mach, when, results, gemm):
    if isa == "avx2" and native_avx512:
        title = ("## Workloads with AVX2 forced ({})".format(
            ", ".join("{}={}".format(k, v) for k, v in ISA_LIMITS.items())))
    elif native_avx512:
        title = "## Workloads on this machine's own ISA (AVX-512; {}, {})".format(mach["cpu"], when)
    else:
        title = "## Workloads on this machine's own ISA (AVX2 only; {}, {})".format(mach["cpu"], when)
    lines = [title, ""]
    lines.append("| workload | singa median (min-max) | PyTorch median (min-max) | ratio | "
                 "target | peak RSS singa / torch | RSS ratio | CPU-time ratio | PyTorch in the "
                 "issue (default / tuned) | runs x steps |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for name, ref, tuned in WORKLOADS:
        r = results.get(name)
        if r is None:
            if name in results:
                lines.append("| {} | failed | | | | | | | {} / {} | |".format(name, ref, tuned or "-"))
            continue
        s, t = r["singa"], r["torch"]
        lines.append("| {} | {} | {} | {} | {} | {:.0f} / {} MB | {} | {} | {} / {} | {} x {} "
                     "|".format(
            r["title"], fmt(s, r["unit"]), fmt(t, r["unit"]),
            "**{:.2f}**".format(r["ratio"]) if r["ratio"] else "",
            "<= {}".format(r["target"]) if r["target"] else "-", s["rss_mb"],
            "{:.0f}".format(t["rss_mb"]) if t else "-",
            "{:.2f}".format(r["rss_ratio"]) if r["rss_ratio"] else "",
            "{:.2f}".format(r["cpu_ratio"]) if r.get("cpu_ratio") else "",
            ref, tuned or "-", r["runs"], r["reps"]))
    first = next((r for r in results.values() if r), None)
    sinfo = first["singa"]["info"] if first else {}
    if sinfo.get("kernel_isa"):
        lines += ["", "singa's own kernels ({} build) ran their `{}` code path; OpenBLAS ran "
                  "its `{}` kernels.".format(sinfo.get("build", "?"), sinfo["kernel_isa"],
                                            sinfo.get("openblas", "?"))]
    lines += ["", "### sgemm n = 2048", ""]
    peak = (gemm.get("singa") or {}).get("fma_peak")
    if gemm:
        lines.append("| library | GFLOP/s median (min-max) | % of the measured peak{} | "
                     "% of the issue's {:.0f} GFLOP/s |".format(
                         " ({:.0f} GFLOP/s)".format(peak) if peak else "", PEAK_GFLOPS))
        lines.append("|---|---|---|---|")
        for fw, g in gemm.items():
            if g is None:
                continue
            m = statistics.median(g["gflops"])
            if fw == "singa":
                label = "singa ({})".format("oneDNN sgemm" if g.get("backend") == "dnnl" else
                                            "OpenBLAS " + g.get("openblas", ""))
            else:
                label = "PyTorch (MKL)"
            lines.append("| {} | {:.0f} ({:.0f}-{:.0f}) | {} | {:.0f}% |".format(
                label, m, min(g["gflops"]), max(g["gflops"]),
                "{:.0f}%".format(100 * m / peak) if peak else "-", 100 * m / PEAK_GFLOPS))
        lines.append("")
        lines.append(
            "Target: singa >= 80% of the measured peak. The peak is measured on this machine "
            "by `singa_wrap.fma_peak_gflops()` (independent {}-lane FMA chains on every thread, "
            "best of 5); the issue's {:.0f} GFLOP/s was measured on its own machine.".format(
                (gemm.get("singa") or {}).get("lanes", 16), PEAK_GFLOPS))
    return lines


def _kept_avx512_table(path):
    """The AVX-512 table of the report being replaced (written on an AVX-512 machine)."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return []
    if AVX512_BEGIN not in old or AVX512_END not in old:
        return []
    inner = old.split(AVX512_BEGIN, 1)[1].split(AVX512_END, 1)[0].strip("\n")
    return ["", "Kept from the last run on an AVX-512 machine (this one has no AVX-512):", "",
            AVX512_BEGIN, inner, AVX512_END]


def _kept_sections(path):
    """Sections other scripts write into the report (dist.py's, between its markers),
    carried over from the file being replaced."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return ""
    if RESULTS_BEGIN not in old or RESULTS_END not in old:
        return ""
    inner = old.split(RESULTS_BEGIN, 1)[1].split(RESULTS_END, 1)[0]
    return "\n" + RESULTS_BEGIN + inner + RESULTS_END + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--only", default=None, help="comma-separated workload names")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--isa", choices=("both", "native", "avx2"), default="both",
                    help="the machine's own ISA, AVX2 forced (ISA_LIMITS), or both tables")
    ap.add_argument("--runs", type=int, default=None, help="override every script's --runs")
    ap.add_argument("--warmup", type=int, default=None, help="override every --warmup")
    ap.add_argument("--reps", type=int, default=None, help="override every --reps")
    ap.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--sgemm-child", choices=("singa", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--sgemm-n", type=int, default=2048, help=argparse.SUPPRESS)
    ap.add_argument("--sgemm-reps", type=int, default=15, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sgemm_child:
        sgemm_child(args.sgemm_child, args.sgemm_n, args.sgemm_reps, args.threads)
        return

    t_start = time.perf_counter()
    blas_env = {k: os.environ[k] for k in BLAS_VARS if k in os.environ}
    mach = machine()
    load_before = os.getloadavg()
    print("machine: {}, {} cores, load {:.2f}".format(mach["cpu"], mach["cores"], load_before[0]))
    names = [w[0] for w in WORKLOADS]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    isas = ["native", "avx2"] if args.isa == "both" else [args.isa]
    if "avx512f" not in mach["flags"]:
        isas = ["native"]       # the machine's own ISA is AVX2 (or less): one table
    passes = []
    for isa in isas:
        print("\n==== {} ====".format("AVX2 forced" if isa == "avx2" else "this machine's ISA"),
              flush=True)
        passes.append((isa, run_workloads(names, args, isa), run_sgemm(args, isa)))
    load_after = os.getloadavg()
    write_report(args.output, mach, load_before, load_after, passes, args, blas_env,
                 time.perf_counter() - t_start)
    print("\nwrote {}".format(os.path.relpath(args.output)))


def run_workloads(names, args, isa):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = os.path.join(tmp, name + ".json")
            cmd = [sys.executable, os.path.join(HERE, name + ".py"), "--json", out,
                   "--threads", str(args.threads)]
            if args.quick:
                cmd.append("--quick")
            if args.no_torch:
                cmd.append("--no-torch")
            for opt in ("runs", "warmup", "reps"):
                if getattr(args, opt) is not None:
                    cmd += ["--" + opt, str(getattr(args, opt))]
            print("\n$ python " + " ".join([os.path.relpath(cmd[1])] + [c for c in cmd[2:] if c != out
                                                         and c != "--json"]), flush=True)
            p = subprocess.run(cmd, env=child_env(args.threads, isa))
            if p.returncode != 0 or not os.path.exists(out):
                print("{} failed (rc {})".format(name, p.returncode), flush=True)
                results[name] = None
                continue
            with open(out) as f:
                results[name] = json.load(f)
    return results


def run_sgemm(args, isa):
    print("\nsgemm n={}".format(args.sgemm_n), flush=True)
    reps = 5 if args.quick else args.sgemm_reps
    gemm = {"singa": sgemm("singa", args.sgemm_n, reps, args.threads, isa)}
    if not args.no_torch:
        import importlib.util
        if importlib.util.find_spec("torch") is not None:
            gemm["torch"] = sgemm("torch", args.sgemm_n, reps, args.threads, isa)
    for fw, g in gemm.items():
        if g:
            print("  {}: {:.0f} GFLOP/s median".format(fw, statistics.median(g["gflops"])))
    return gemm


if __name__ == "__main__":
    main()
