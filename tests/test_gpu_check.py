"""The GPU check's scripts (benchmarks/gpu.py, tests/gpu/check.sh) on a machine without a
GPU: syntax, the no-GPU exit, and the table's arithmetic on made-up results. (The dry
run, ``benchmarks/gpu.py --dry-run``, runs the whole script on the CPU; it takes a
minute or more, so it is not part of the suite.)"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")


def _gpu_bench():
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location("_bench_gpu", os.path.join(BENCH, "gpu.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_check_sh_parses():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    proc = subprocess.run([bash, "-n", os.path.join(ROOT, "tests", "gpu", "check.sh")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_gpu_benchmark_without_a_gpu_stops_at_once_with_the_reason(tmp_path, capsys):
    from singa import device
    if device.get_num_gpus() > 0:
        pytest.skip("a GPU is usable here")
    gpu = _gpu_bench()
    out = tmp_path / "gpu.json"
    assert gpu.main(["--quick", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "benchmarks/gpu.py:" in err and ("without CUDA" in err or "no CUDA GPU" in err)
    report = json.loads(out.read_text())
    assert report["error"] and report["rows"] == []


def test_gpu_benchmark_plan_and_options():
    gpu = _gpu_bench()
    args = gpu.parse_args(["--quick"])
    assert (args.device, args.runs, args.warmup, args.reps, args.n) == ("cuda", 1, 2, 3, 4096)
    plan = gpu._plan(args)
    assert plan[0][:2] == ("sgemm", "-") and plan[0][2] == "cupy"
    assert [(w, m) for w, m, _ in plan[1:]] == [
        (w, m) for w in ("mlp", "alexnet", "xception") for m in ("eager", "graph")]
    cpu = gpu.parse_args(["--dry-run", "--workloads", "mlp", "--modes", "graph"])
    assert (cpu.device, cpu.runs, cpu.n) == ("cpu", 1, 256)
    assert gpu._plan(cpu) == [("mlp", "graph", "torch")]
    cmd = gpu._child_cmd(cpu, "singa", "mlp", "graph")
    assert cmd[cmd.index("--batch") + 1] == "50" and cmd[cmd.index("--steps") + 1] == "1"
    full = gpu.parse_args([])
    cmd = gpu._child_cmd(full, "torch", "xception", "eager")
    assert cmd[cmd.index("--batch") + 1] == "16" and "--device" in cmd
    with pytest.raises(SystemExit):
        gpu.parse_args(["--workloads", "resnet"])


def test_gpu_benchmark_ratios_and_table(capsys):
    gpu = _gpu_bench()
    args = gpu.parse_args(["--quick"])
    train = {"workload": "mlp", "mode": "graph", "ref": "torch", "title": "MLP", "target": 1.0,
             "results": {"singa": [{"times": [0.002, 0.003, 0.004], "peak_mb": 50.0}],
                         "torch": [{"times": [0.004]}, {"error": "rc 1: boom\nValueError: x"}]}}
    gpu._summarize_row(train, args)
    assert train["ratio"] == pytest.approx(0.75) and train["met"] is True
    assert train["singa"]["peak_mb"] == 50.0 and len(train["errors"]) == 1
    n = args.n
    sgemm = {"workload": "sgemm", "mode": "-", "ref": "cupy", "title": "sgemm", "target": 0.9,
             "results": {"singa": [{"times": [2.0 * n ** 3 / 40e12], "max_rel_err": 1e-6}],
                         "cupy": [{"times": [2.0 * n ** 3 / 50e12], "max_rel_err": 1e-6}]}}
    gpu._summarize_row(sgemm, args)
    assert sgemm["singa"]["gflops"] == pytest.approx(40e3)
    assert sgemm["ratio"] == pytest.approx(0.8) and sgemm["met"] is False
    failed = {"workload": "alexnet", "mode": "eager", "ref": "torch", "title": "AlexNet",
              "target": 1.0, "results": {"singa": [{"error": "timed out after 9 s"}],
                                         "torch": [{"times": [0.1]}]}}
    gpu._summarize_row(failed, args)
    assert failed["ratio"] is None and failed["met"] is None
    gpu.print_table({"device": "cuda", "rows": [sgemm, train, failed], "skipped": []})
    out = capsys.readouterr().out
    assert "0.80" in out and "NO" in out and "0.75" in out and "failed" in out
    assert "error in mlp graph: ValueError: x" in out
