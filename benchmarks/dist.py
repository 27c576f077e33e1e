"""Data-parallel training on one machine: singa's DistOpt against PyTorch DDP (gloo).

    PYTHONPATH=python python benchmarks/dist.py            # the full run (lead, idle machine)
    PYTHONPATH=python python benchmarks/dist.py --quick    # smoke test (few steps, MLP only)
    PYTHONPATH=python python benchmarks/dist.py --only torch --quick

What it measures, each rank running one kernel thread:

- weak-scaling efficiency ``T(1 x 1) / T(2 x 1)`` per training step, the batch per rank
  fixed (MLP batch 500, CIFAR-10 CNN batch 100, AlexNet batch 16: the models and
  optimizers of mlp_batch500.py, cifar_cnn.py and alexnet.py), for singa's
  ``backward_and_update`` at three bucket sizes and for DDP (its default 25 MB buckets);
- what the efficiency is made of, for benchmarks/dist_model.py: the step of 2 ranks
  without any communication (compute with the two processes sharing the machine), the
  all-reduce of all the gradients alone at each bucket size, and from these the share of
  the communication that backward hid; the all-reduce time against message size;
- bytes each rank hands to the collectives per step (``Communicator.bytes_sent``) for
  float32, float16 (``backward_and_update_half``) and top-K 1%
  (``backward_and_sparse_update``), and the MNIST test accuracy each reaches in a short
  2-rank run of the Lasagne MLP.

Results go to a JSON file (``--json``, default benchmarks/dist.json) and, for a full
run, to the "Data-parallel training" section of benchmarks/RESULTS.md (between its
markers) and to the prediction table of docs/distributed.md (dist_model.py).
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the environment first, as in
run_all.py; the CPU (lscpu's model name and flags) is recorded.
"""

import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if __name__ == "__main__" and any(v in os.environ for v in _BLAS_VARS) and \
        os.environ.get("_SINGA_BENCH_REEXEC") != "1":
    _env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    _env["_SINGA_BENCH_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _harness import dev_python_dir  # noqa: E402
from _dist_work import MARK, MODELS  # noqa: E402
import dist_model  # noqa: E402

# DistOpt's own default threshold (SINGA's, 2^21 elements) is the headline bucket size,
# as DDP runs at its own default; two more sizes show the trade-off.
DEFAULT_BUCKET = 2097152
BUCKETS = (1 << 16, DEFAULT_BUCKET, 1 << 22)   # elements per fused all-reduce (threshold)
# Timed steps per run of a full run: enough for a steady median of the short MLP step
# (10 steps of 15 ms gave medians 30% apart between runs), few for AlexNet's 1-2 s step.
FULL_REPS = {"mlp": 60, "cifar_cnn": 20, "alexnet": 10}
# Epochs of the MNIST accuracy run: top-K 1% trails plain by 0.6 points after 3 epochs
# and has caught up by 6 (measured), so the run goes on to where both have converged.
ACCURACY_EPOCHS = 6
LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "MPI_LOCALRANKID",
                 "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                 "PMIX_RANK", "PMIX_SIZE", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                 "LOCAL_WORLD_SIZE")
RESULTS_BEGIN, RESULTS_END = dist_model.RESULTS_BEGIN, dist_model.RESULTS_END
INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


# ---------------------------------------------------------------------------- machine

def cpu_info():
    """lscpu's model name, core count and flags (``/proc/cpuinfo`` without lscpu)."""
    info = {"model": "unknown", "cpus": os.cpu_count(), "flags": [], "source": None}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info.update(model=fields.get("Model name", "unknown"),
                    flags=fields.get("Flags", "").split(), source="lscpu")
        if fields.get("CPU(s)", "").isdigit():
            info["cpus"] = int(fields["CPU(s)"])
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    if not info["flags"]:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name") and info["model"] == "unknown":
                        info["model"] = line.split(":", 1)[1].strip()
                    elif line.startswith("flags"):
                        info["flags"] = line.split(":", 1)[1].split()
                        info["source"] = "/proc/cpuinfo"
                        break
        except OSError:
            pass
    return info


def child_env(threads):
    env = {k: v for k, v in os.environ.items()
           if k not in _BLAS_VARS and k not in LAUNCHER_VARS}
    env["OMP_NUM_THREADS"] = str(threads)
    py = dev_python_dir()
    if py:
        env["PYTHONPATH"] = py + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                  else "")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------- runs

class Runner:
    def __init__(self, args):
        self.args = args
        self.mpiexec = shutil.which("mpiexec") or os.path.join(os.path.dirname(
            sys.executable), "mpiexec")
        self.tmp = tempfile.mkdtemp(prefix="singa-dist-bench-")
        self.log = []

    def run(self, task, ranks):
        """Runs ``task`` (a dict for _dist_work.py) on ``ranks`` processes; rank 0's
        result, or {"error": ...} when the run failed (recorded, not fatal)."""
        task = dict(task, threads=self.args.threads, quick=self.args.quick)
        path = os.path.join(self.tmp, "task{}.json".format(len(self.log)))
        with open(path, "w") as f:
            json.dump(task, f)
        cmd = [sys.executable, os.path.join(HERE, "_dist_work.py"), path]
        if ranks > 1:
            cmd = [self.mpiexec, "-n", str(ranks)] + cmd
        label = "{} x{} {}".format(task["task"], ranks, " ".join(
            "{}={}".format(k, task[k]) for k in ("model", "mode", "threshold") if k in task))
        try:
            proc = subprocess.run(cmd, env=child_env(self.args.threads), capture_output=True,
                                  text=True, timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            result = {"error": "timed out after {} s".format(self.args.timeout)}
        else:
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
            if proc.returncode == 0 and lines:
                result = json.loads(lines[-1][len(MARK):])
            else:
                result = {"error": "rc {}: {}".format(proc.returncode,
                                                      (proc.stderr or proc.stdout)[-1500:])}
        med = statistics.median(result["times"]) if result.get("times") else None
        print("  {:<58} {}".format(label[:58], "{:.4g} s/step".format(med) if med else
                                   result.get("error", "done").splitlines()[-1][:100]
                                   if "error" in result else "done"), flush=True)
        self.log.append({"label": label, "ranks": ranks, "task": task, "result": result})
        return result


def median(result, key="times"):
    vals = result.get(key) if result else None
    return statistics.median(vals) if vals else None


def merged(trials):
    """One result from repeated runs of a configuration: every trial's timed steps
    together (their median is the figure) and each trial's own median beside them."""
    ok = [r for r in trials if "error" not in r]
    if not ok:
        return trials[0]
    out = dict(ok[0])
    for key in ("times", "comm_only"):
        if all(r.get(key) for r in ok):
            out[key] = [v for r in ok for v in r[key]]
    out["trial_medians"] = [median(r) for r in ok]
    return out


def scaling(runner, model, frameworks, buckets, reps, warmup, trials):
    """Every run of one model; the figures dist_model.py and the tables read. The four
    runs the efficiencies come from (1 and 2 processes of each framework, at the default
    bucket) are repeated ``trials`` times, interleaved, so a slow spell of the machine
    falls on both frameworks alike."""
    steps = {"task": "singa_steps", "model": model, "reps": reps, "warmup": warmup,
             "threshold": DEFAULT_BUCKET}
    torch_task = {"task": "torch_steps", "model": model, "reps": reps, "warmup": warmup}
    out = {"model": model, "batch_per_rank": MODELS[model][0][0], "trials": trials}
    key_runs = {"singa_one": [], "singa_two": [], "torch_one": [], "torch_two": []}
    for _ in range(trials):
        if "singa" in frameworks:
            key_runs["singa_one"].append(runner.run(dict(steps, mode="local"), 1))
            key_runs["singa_two"].append(runner.run(dict(steps, mode="plain"), 2))
        if "torch" in frameworks:
            key_runs["torch_one"].append(runner.run(torch_task, 1))
            key_runs["torch_two"].append(runner.run(dict(torch_task, port=free_port()), 2))
    if "singa" in frameworks:
        s = {"one": merged(key_runs["singa_one"]),
             "two_local": runner.run(dict(steps, mode="local"), 2), "buckets": {}}
        for b in buckets:
            s["buckets"][str(b)] = merged(key_runs["singa_two"]) if b == DEFAULT_BUCKET \
                else runner.run(dict(steps, mode="plain", threshold=b), 2)
        for mode in ("half", "topk"):
            s[mode] = runner.run(dict(steps, mode=mode), 2)
        out["singa"] = summarize_singa(s, buckets)
        out["singa"]["trial_medians"] = {"t1": s["one"].get("trial_medians"),
                                         "t2": s["buckets"][str(DEFAULT_BUCKET)]
                                         .get("trial_medians")}
    if "torch" in frameworks:
        one, two = merged(key_runs["torch_one"]), merged(key_runs["torch_two"])
        t1, t2 = median(one), median(two)
        out["torch"] = {"t1": t1, "t2": t2, "efficiency": t1 / t2 if t1 and t2 else None,
                        "trial_medians": {"t1": one.get("trial_medians"),
                                          "t2": two.get("trial_medians")},
                        "errors": [r["error"] for r in key_runs["torch_one"] +
                                   key_runs["torch_two"] if "error" in r]}
    return out


def summarize_singa(s, buckets):
    t1, t2_local = median(s["one"]), median(s["two_local"])
    res = {"t1": t1, "t2_local": t2_local, "grad_elements": s["one"].get("grad_elements"),
           "buckets": {}, "errors": []}
    for run in [s["one"], s["two_local"], s["half"], s["topk"]] + list(s["buckets"].values()):
        if "error" in run:
            res["errors"].append(run["error"])
    for b in buckets:
        r = s["buckets"][str(b)]
        t2, comm = median(r), median(r, "comm_only")
        entry = {"t2": t2, "comm_only": comm,
                 "efficiency": t1 / t2 if t1 and t2 else None,
                 "overlap": overlap(t2_local, comm, t2),
                 "bytes_per_step": median(r, "bytes_sent")}
        res["buckets"][str(b)] = entry
    plain = res["buckets"].get(str(DEFAULT_BUCKET), {})
    res["efficiency"] = plain.get("efficiency")
    base = plain.get("bytes_per_step")
    for mode in ("half", "topk"):
        b = median(s[mode], "bytes_sent")
        res[mode] = {"t2": median(s[mode]), "bytes_per_step": b,
                     "of_plain": b / base if b is not None and base else None}
    return res


def overlap(t_local, t_comm, t_step):
    """Share of the communication that ran hidden behind backward (0 to 1): a step
    costs ``t_local + t_comm`` with none hidden, ``t_local`` with all of it."""
    if not (t_local and t_comm and t_step):
        return None
    return min(1.0, max(0.0, (t_local + t_comm - t_step) / t_comm))


def accuracy(runner, modes, epochs, train_samples):
    task = {"task": "singa_accuracy", "epochs": epochs, "batch": 100,
            "threshold": DEFAULT_BUCKET, "train_samples": train_samples}
    res = {m: runner.run(dict(task, mode=m), 2) for m in modes}
    plain = res.get("plain", {}).get("accuracy")
    out = {}
    for m, r in res.items():
        acc = r.get("accuracy")
        out[m] = {"accuracy": acc, "accuracy_by_epoch": r.get("accuracy_by_epoch"),
                  "bytes_sent": r.get("bytes_sent"), "steps": r.get("steps"),
                  "points_below_plain": 100 * (plain - acc) if acc is not None and plain
                  is not None else None, "error": r.get("error")}
    return {"epochs": epochs, "train_samples": train_samples, "batch_per_rank": 100,
            "modes": out}


def pingpong(runner, quick):
    sizes = [1 << k for k in (range(8, 21, 4) if quick else range(6, 25, 2))]
    r = runner.run({"task": "singa_pingpong", "sizes": sizes, "reps": 5 if quick else 20}, 2)
    return dict(r, fit=dist_model.fit_alpha_beta(r.get("all_reduce", []), 2))


# ----------------------------------------------------------------------------- report

def _pct(v):
    return "{:.0f}%".format(100 * v) if v is not None else "-"


def _ms(v):
    return "{:.1f} ms".format(1e3 * v) if v is not None else "-"


def markdown(res):
    lines = ["## Data-parallel training (benchmarks/dist.py)", "",
             "Written by `benchmarks/dist.py` on {}{}. CPU: {} ({} logical CPUs; flags: {}). "
             "One kernel thread per rank; batch per rank fixed (weak scaling); efficiency = "
             "step time of 1 process / step time of 2 ranks. singa: `backward_and_update`, "
             "buckets of {} elements unless stated; PyTorch: DDP on gloo, default buckets. "
             "Step times are medians; the 1x1 and 2x1 columns of both frameworks pool {} "
             "interleaved trials (each trial's median: `trial_medians` in the JSON)."
             .format(res["date"], " (--quick: indicative only)" if res["quick"] else "",
                     res["cpu"]["model"], res["cpu"]["cpus"],
                     " ".join(f for f in INTERESTING_FLAGS if f in res["cpu"]["flags"]),
                     DEFAULT_BUCKET, max([m.get("trials", 1) for m in res["models"]] or [1])),
             ""]
    lines += ["| model (batch per rank) | singa 1x1 | singa 2x1 | singa efficiency | "
              "PyTorch 1x1 | PyTorch DDP 2x1 | DDP efficiency | singa 2x1 no comm | "
              "comm hidden |",
              "|---|---|---|---|---|---|---|---|---|"]
    for m in res["models"]:
        s, t = m.get("singa", {}), m.get("torch", {})
        b = s.get("buckets", {}).get(str(DEFAULT_BUCKET), {})
        lines.append("| {} ({}) | {} | {} | **{}** | {} | {} | **{}** | {} | {} |".format(
            m["model"], m["batch_per_rank"], _ms(s.get("t1")), _ms(b.get("t2")),
            _pct(s.get("efficiency")), _ms(t.get("t1")), _ms(t.get("t2")),
            _pct(t.get("efficiency")), _ms(s.get("t2_local")), _pct(b.get("overlap"))))
    lines += ["", "Bucket size (elements; 2 ranks): efficiency / all-reduce alone / share "
              "hidden.", "", "| model | " + " | ".join(str(b) for b in res["buckets"]) + " |",
              "|---|" + "---|" * len(res["buckets"])]
    for m in res["models"]:
        cells = []
        for b in res["buckets"]:
            e = m.get("singa", {}).get("buckets", {}).get(str(b), {})
            cells.append("{} / {} / {}".format(_pct(e.get("efficiency")),
                                               _ms(e.get("comm_only")), _pct(e.get("overlap"))))
        lines.append("| {} | {} |".format(m["model"], " | ".join(cells)))
    lines += ["", "Bytes each rank hands to the collectives per step (issue: half 50%, "
              "top-K 1% <= 2.5% of float32).", "",
              "| model | float32 | float16 | of float32 | top-K 1% | of float32 |",
              "|---|---|---|---|---|---|"]
    for m in res["models"]:
        s = m.get("singa", {})
        b = s.get("buckets", {}).get(str(DEFAULT_BUCKET), {}).get("bytes_per_step")
        h, k = s.get("half", {}), s.get("topk", {})
        lines.append("| {} | {} | {} | {} | {} | {} |".format(
            m["model"], _mb(b), _mb(h.get("bytes_per_step")), _pct(h.get("of_plain")),
            _mb(k.get("bytes_per_step")), _pct(k.get("of_plain"))))
    acc = res.get("accuracy")
    if acc:
        lines += ["", "MNIST MLP, 2 ranks x batch {}, {} epoch(s){}: test accuracy (issue: "
                  "within 0.5 points of plain).".format(
                      acc["batch_per_rank"], acc["epochs"],
                      " on the first {} training samples".format(acc["train_samples"])
                      if acc["train_samples"] else ""), "",
                  "| update | accuracy | points below plain | bytes sent per rank | "
                  "accuracy after each epoch |",
                  "|---|---|---|---|---|"]
        for mode, r in acc["modes"].items():
            curve = r.get("accuracy_by_epoch") or []
            lines.append("| {} | {} | {} | {} | {} |".format(
                mode, "{:.2f}%".format(100 * r["accuracy"]) if r["accuracy"] is not None
                else (r["error"] or "-").splitlines()[-1][:60],
                "{:.2f}".format(r["points_below_plain"]) if r["points_below_plain"]
                is not None else "-", _mb(r["bytes_sent"]),
                " ".join("{:.2f}".format(100 * a) for a in curve) or "-"))
    fit = (res.get("pingpong") or {}).get("fit")
    if fit:
        lines += ["", "All-reduce on this machine (2 ranks, shared memory): alpha {:.1f} us, "
                  "{:.2f} GB/s (least squares over {} sizes).".format(
                      1e6 * fit["alpha"], 1e-9 / fit["beta"] if fit["beta"] else float("inf"),
                      fit["points"])]
    errors = [e for m in res["models"] for fw in ("singa", "torch")
              for e in m.get(fw, {}).get("errors", [])]
    if errors:
        lines += ["", "Runs that failed ({}); first: `{}`".format(
            len(errors), errors[0].splitlines()[-1][:200])]
    return "\n".join(lines) + "\n"


def _mb(v):
    return "{:.3g} MB".format(v / 1e6) if v is not None else "-"


def write_section(path, text):
    """Puts ``text`` between the markers in ``path`` (appended when they are absent)."""
    try:
        with open(path) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = ""
    block = RESULTS_BEGIN + "\n" + text + RESULTS_END + "\n"
    if RESULTS_BEGIN in doc and RESULTS_END in doc:
        head, rest = doc.split(RESULTS_BEGIN, 1)
        tail = rest.split(RESULTS_END, 1)[1].lstrip("\n")
        doc = head + block + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="few steps, the MLP only, a short accuracy run: a smoke test")
    ap.add_argument("--only", choices=("singa", "torch"), default=None,
                    help="one framework's runs only")
    ap.add_argument("--models", default=None,
                    help="comma-separated subset of " + ",".join(MODELS))
    ap.add_argument("--reps", type=int, default=None, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps per run")
    ap.add_argument("--threads", type=int, default=1, help="kernel threads per rank")
    ap.add_argument("--trials", type=int, default=None,
                    help="interleaved repeats of the runs the efficiencies come from "
                         "(default 3; 1 with --quick)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run")
    ap.add_argument("--json", default=os.path.join(HERE, "dist.json"))
    ap.add_argument("--results", default=None,
                    help="markdown file for the section (default: RESULTS.md on a full run)")
    ap.add_argument("--doc", default=None,
                    help="document for the prediction table (default: docs/distributed.md "
                         "on a full run)")
    args = ap.parse_args()
    q = args.quick
    warmup = args.warmup or (1 if q else 3)
    models = args.models.split(",") if args.models else (["mlp"] if q else list(MODELS))
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error("unknown model(s) {}; choose from {}".format(unknown, list(MODELS)))
    if args.doc:  # checked now, not after the runs: the table goes between its markers
        try:
            with open(args.doc) as f:
                marked = dist_model.DOC_BEGIN in f.read()
        except OSError as e:
            ap.error("--doc {}: {}".format(args.doc, e.strerror))
        if not marked:
            ap.error("--doc {}: has no {} ... {} markers for the prediction table".format(
                args.doc, dist_model.DOC_BEGIN, dist_model.DOC_END))
    frameworks = [args.only] if args.only else ["singa", "torch"]
    runner = Runner(args)
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "quick": q,
           "cpu": cpu_info(), "threads_per_rank": args.threads, "buckets": list(BUCKETS),
           "default_bucket": DEFAULT_BUCKET, "reps": args.reps or (3 if q else FULL_REPS),
           "warmup": warmup,
           "command": " ".join(["python"] + sys.argv), "models": []}
    print("dist.py: {} on {}".format(", ".join(models), res["cpu"]["model"]), flush=True)
    for model in models:
        reps = args.reps or (3 if q else FULL_REPS[model])
        res["models"].append(scaling(runner, model, frameworks, BUCKETS, reps, warmup,
                                     args.trials or (1 if q else 3)))
    if "singa" in frameworks:
        res["pingpong"] = pingpong(runner, q)
        res["accuracy"] = accuracy(runner, ("plain", "half", "topk"), 1 if q else ACCURACY_EPOCHS,
                                   5000 if q else 0)
    res["runs"] = runner.log
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    text = markdown(res)
    print()
    print(text)
    results = args.results or (None if q else os.path.join(HERE, "RESULTS.md"))
    if results:
        write_section(results, text)
        print("wrote the section of", results)
    doc = args.doc or (None if q else os.path.join(ROOT, "docs", "distributed.md"))
    if doc:
        dist_model.update_document(doc, res, os.path.relpath(args.json, ROOT))
        print("wrote the prediction table of", doc)
    print("results:", args.json)


if __name__ == "__main__":
    main()
