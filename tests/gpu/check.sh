#!/usr/bin/env bash
# The GPU check of issue 16 (point 8), for a machine with a CUDA GPU. From the tree root:
#
#   bash tests/gpu/check.sh                  # everything under $OUT (default ./gpu-check-out)
#   OUT=/tmp/gc CHECK_BUDGET_S=280 bash tests/gpu/check.sh
#
# Parts, in this order, each under `timeout` and within one budget for the whole script
# (CHECK_BUDGET_S, default 285 s: the issue's 5 minutes with a margin):
#   nvidia-smi    the GPU, driver and CUDA version            -> nvidia-smi.log
#   build-info    singa_wrap.USE_CUDA, build_info(), the GPUs singa sees, device_query(0),
#                 the versions of NumPy, PyTorch and CuPy     -> build-info.log
#   pytest        python -m pytest tests/gpu -q -rs (every op against CuPy; skips say why)
#                                                             -> pytest.log, pytest.xml
#   xceptionnet   examples/autograd/xceptionnet.py --device cuda, batch 16, a few iterations
#                                                             -> xceptionnet.log
#   mlp           examples/autograd/mlp.py --device cuda, 2 epochs (test accuracy printed)
#                                                             -> mlp.log
#   benchmark     benchmarks/gpu.py --quick (singa vs PyTorch CUDA, sgemm vs CuPy), given
#                 what is left of the budget                  -> benchmark.log, gpu_bench.json
# It stops on nothing: every part runs whatever the others did, and its status (ok, failed
# with the exit status, timed out, skipped: no budget left) goes to parts.tsv and
# summary.txt, with the line of its log that matters (the pytest counts, the loss and
# seconds per iteration, the test accuracy, the benchmark table). Without a usable GPU
# the tests skip with the reason, the GPU runs stop at once saying why, and the summary
# says there is no GPU. Exit status: 0 when every part is ok, else 1.
#
# Python: $PYTHON, else python3.12, python, python3. PYTHONPATH gets build/gpu-site (a
# folder of what the GPU machine lacks: scipy_openblas32, tqdm, ...) and python/ (the
# checkout's singa with its built extension) in front.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
BUDGET=${CHECK_BUDGET_S:-285}
START=$(date +%s)

export PYTHONPATH="$ROOT/build/gpu-site:$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
# $PYTHON, else the first of python3.12, python, python3 that imports singa's extension,
# else the first that runs at all (its parts then fail, saying why)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for c in python3.12 python python3; do
        if "$c" -c 'import singa.singa_wrap' >/dev/null 2>&1; then PY=$c; break; fi
    done
fi
if [ -z "$PY" ]; then
    for c in python3.12 python python3; do
        if "$c" -c 'import sys' >/dev/null 2>&1; then PY=$c; break; fi
    done
fi
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
export PYTHONDONTWRITEBYTECODE=1

PARTS=$OUT/parts.tsv
SUMMARY=$OUT/summary.txt
printf 'part\tstatus\trc\tseconds\tlimit_s\n' > "$PARTS"
FAILED=0

elapsed() { echo $(( $(date +%s) - START )); }

# run_part NAME LIMIT_S COMMAND...: runs COMMAND with its output in $OUT/NAME.log, under
# `timeout` for LIMIT_S seconds or what is left of the budget (5 s kept for the summary),
# whichever is less; records the part's status. LIMIT_S 0: all that is left.
run_part() {
    local name=$1 limit=$2
    shift 2
    local left=$(( BUDGET - $(elapsed) - 5 ))
    if [ "$limit" -eq 0 ] || [ "$limit" -gt "$left" ]; then limit=$left; fi
    if [ "$limit" -lt 5 ]; then
        printf '%s\tskipped (no budget left)\t-\t0\t%s\n' "$name" "$limit" >> "$PARTS"
        echo "== $name: skipped, no budget left" | tee "$OUT/$name.log"
        FAILED=$(( FAILED + 1 ))
        return 0
    fi
    echo "== $name (limit ${limit} s, at $(elapsed) s of ${BUDGET} s)"
    local t0 rc status shown="$*"
    t0=$(date +%s)
    {
        echo "\$ ${shown:0:300}"
        timeout -k 5 "$limit" "$@"
    } > "$OUT/$name.log" 2>&1 < /dev/null
    rc=$?
    case $rc in
        0) status=ok ;;
        124|137) status="timed out after ${limit} s" ;;
        *) status="failed (exit status $rc)" ;;
    esac
    [ "$rc" -eq 0 ] || FAILED=$(( FAILED + 1 ))
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$(( $(date +%s) - t0 ))" "$limit" \
        >> "$PARTS"
    echo "   $status ($(( $(date +%s) - t0 )) s)"
    tail -n 3 "$OUT/$name.log" | sed 's/^/   | /'
    return 0
}

BUILD_INFO='
import json, os, sys
print("python", sys.version.split()[0], sys.executable)
print("PYTHONPATH", os.environ.get("PYTHONPATH"))
print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
import numpy
print("numpy", numpy.__version__)
import singa
from singa import device, singa_wrap as sw
print("singa", singa.__version__, "from", os.path.dirname(singa.__file__))
print("singa_wrap.USE_CUDA", sw.USE_CUDA)
if hasattr(sw, "build_info"):
    print("build_info", json.dumps(sw.build_info()))
why = getattr(sw.Platform, "GpuUnavailableReason", lambda: "")() if sw.USE_CUDA else \
    "a CPU-only build (USE_CUDA is False)"
print("get_num_gpus", device.get_num_gpus(), "ids", device.get_gpu_ids())
print("gpu_unavailable_reason", repr(why))
for label, fn in (("device_query(0)", lambda: device.device_query(0, verbose=True)),
                  ("get_gpu_mem_size(0)", lambda: device.get_gpu_mem_size(0))):
    try:
        print(label, fn())
    except Exception as e:
        print(label, "->", type(e).__name__, e)
for mod in ("torch", "cupy", "pytest", "tqdm", "scipy_openblas32"):
    try:
        m = __import__(mod)
        extra = ""
        if mod == "torch":
            extra = " cuda {} available {}".format(m.version.cuda, m.cuda.is_available())
        print(mod, getattr(m, "__version__", "?"), extra)
    except Exception as e:
        print(mod, "->", type(e).__name__, e)
ok = sw.USE_CUDA and device.get_num_gpus() > 0
print("GPU_STATUS", "usable" if ok else "none: " + (why or "get_num_gpus() is 0"))
'

echo "GPU check: tree $ROOT, output $OUT, python $PY, budget ${BUDGET} s"

run_part nvidia-smi 15 bash -c 'nvidia-smi && nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv'
run_part build-info 40 "$PY" -c "$BUILD_INFO"
run_part pytest 90 "$PY" -m pytest tests/gpu -q -rs -p no:cacheprovider \
    --junitxml="$OUT/pytest.xml"
run_part xceptionnet 50 "$PY" examples/autograd/xceptionnet.py --device cuda \
    --batch-size 16 --iters 8
run_part mlp 50 "$PY" examples/autograd/mlp.py --device cuda --epochs 2 --no-progress \
    --checkpoint "$OUT/mlp.ckpt"
# the benchmark gets what is left; its --budget stops it 5 s before its timeout, so its
# table and JSON are written whatever it reached
LEFT=$(( BUDGET - $(elapsed) - 10 ))
run_part benchmark 0 "$PY" benchmarks/gpu.py --quick --out "$OUT/gpu_bench.json" \
    --budget "$(( LEFT > 10 ? LEFT - 5 : 5 ))"

# ---------------------------------------------------------------------------- summary
gpu_line=$(grep -h '^GPU_STATUS' "$OUT/build-info.log" 2>/dev/null | head -n 1 | cut -d' ' -f2-)
[ -n "$gpu_line" ] || gpu_line="unknown (build-info did not finish)"
smi_line=$(grep -A1 '^name, driver_version' "$OUT/nvidia-smi.log" 2>/dev/null | tail -n 1)
tree_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")
{
    echo "GPU check (issue 16, point 8): $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(hostname 2>/dev/null || uname -n)"
    echo "tree: $ROOT ($tree_rev); python: $PY; total $(elapsed) s of a ${BUDGET} s budget"
    echo "GPU (nvidia-smi): ${smi_line:-none (nvidia-smi failed or absent)}"
    echo "GPU (singa): $gpu_line"
    case $gpu_line in
        usable*) ;;
        none*) echo "NO USABLE GPU: the GPU tests skipped and the GPU runs stopped (see below)" ;;
        *) echo "GPU STATUS UNKNOWN: singa's build information could not be read (build-info.log)" ;;
    esac
    echo "singa_wrap.USE_CUDA: $(grep -h '^singa_wrap.USE_CUDA' "$OUT/build-info.log" 2>/dev/null | cut -d' ' -f2-)"
    echo
    column -t -s $'\t' "$PARTS" 2>/dev/null || cat "$PARTS"
    echo
    echo "pytest tests/gpu:"
    grep -E '(passed|failed|skipped|error|no tests ran)' "$OUT/pytest.log" 2>/dev/null \
        | tail -n 1 | sed 's/^/  /'
    grep -E '^SKIPPED' "$OUT/pytest.log" 2>/dev/null | head -n 5 | sed 's/^/  /'
    grep -E '^(FAILED|ERROR)' "$OUT/pytest.log" 2>/dev/null | head -n 20 | sed 's/^/  /'
    echo "xceptionnet --device cuda:"
    grep -E '^(device:|loss:|seconds per iteration)|--device cuda:|Error' "$OUT/xceptionnet.log" \
        2>/dev/null | tail -n 4 | sed 's/^/  /'
    echo "mlp --device cuda:"
    grep -E '^(device:|epoch |test accuracy|total wall time)|--device cuda:|Error' "$OUT/mlp.log" \
        2>/dev/null | tail -n 6 | sed 's/^/  /'
    echo "benchmarks/gpu.py --quick (ratio: singa/PyTorch time, target <= 1.0; sgemm: singa/CuPy GFLOP/s, target >= 0.9):"
    sed -n '/^workload /,$p' "$OUT/benchmark.log" 2>/dev/null | sed 's/^/  /'
    grep -E 'benchmarks/gpu.py:' "$OUT/benchmark.log" 2>/dev/null | sed 's/^/  /'
    echo
    echo "parts not ok: $FAILED"
} > "$SUMMARY" 2>&1
cat "$SUMMARY"
[ "$FAILED" -eq 0 ]
