#!/usr/bin/env bash
# Prepares the GPU check (tests/gpu/check.sh) here, on a machine without a GPU, for the
# GPU machine the device tool lends: CPython 3.12, CUDA 13 (driver 580), CuPy and torch
# installed, but neither scipy-openblas32 nor the oneDNN wheels, and no package registry.
#  - Builds singa_wrap for CPython 3.12 with the CUDA device for sm_90 (the H200), without
#    oneDNN (its 52 MB library would not fit the 64 MiB the tool carries; the GPU runs no
#    oneDNN code) and portable (the GPU machine's CPU is not this one), into python/singa/.
#  - Gathers what the GPU machine lacks into build/gpu-site/: scipy_openblas32 (the
#    extension links its OpenBLAS), tqdm, and pytest with its dependencies.
# Then run there, from the tree root, carrying the two paths it prints:
#   PYTHONPATH=build/gpu-site:python bash tests/gpu/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# The first Python 3.12 that runs (a pyenv shim on PATH may name a version it won't start).
py312=${PY312:-}
if [ -z "$py312" ]; then
  for cand in $(command -v python3.12 2>/dev/null) /root/.pyenv/versions/3.12*/bin/python3.12 \
              /usr/bin/python3.12 /usr/local/bin/python3.12; do
    if [ -x "$cand" ] && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      py312=$cand
      break
    fi
  done
fi
[ -n "$py312" ] || { echo "prepare.sh: no Python 3.12 found (set PY312)" >&2; exit 1; }
venv=build/py312-venv
[ -x "$venv/bin/python" ] || "$py312" -m venv "$venv"
"$venv/bin/pip" install -q "pybind11>=2.12" "numpy>=1.26" "scipy-openblas32>=0.3.27" "cmake>=3.18" "ninja>=1.10"
# cmake and ninja from the venv (its bin/ first on PATH)
PATH="$(pwd)/$venv/bin:$PATH" cmake -S . -B build/gpu-cp312 -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSINGA_USE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DSINGA_USE_DNNL=OFF -DSINGA_NATIVE=OFF \
  -DPython_EXECUTABLE="$(pwd)/$venv/bin/python" > /dev/null
PATH="$(pwd)/$venv/bin:$PATH" cmake --build build/gpu-cp312 -- -j2
so=$(ls build/gpu-cp312/singa_wrap*.so)
cp "$so" python/singa/
rm -rf build/gpu-site
"$venv/bin/pip" install -q --target build/gpu-site "scipy-openblas32>=0.3.27" "tqdm>=4.60" "pytest>=7"
rm -rf build/gpu-site/bin
echo "carry: python/singa/$(basename "$so") build/gpu-site"
du -sh "python/singa/$(basename "$so")" build/gpu-site
