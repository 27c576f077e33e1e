#!/usr/bin/env bash
# Builds the CUDA reduce/index kernels, compiled by g++ on emulated threads (cuda_emu.h),
# into a shared library for tests/gpu/test_cuda_emulated.py: build.sh OUT.so [g++ flags].
# Needs g++ >= 11 (C++20 <barrier>) and the CUDA runtime headers (no GPU, no libcudart).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="$1"
shift
cuda_inc="${CUDA_HOME:-/usr/local/cuda}/include"
g++ -std=c++20 -O1 -fPIC -shared -pthread -Wall -Wextra -Wno-unknown-pragmas \
  -I "$root/src" -I "$cuda_inc" "$@" \
  -include "$root/tests/gpu/emu/cuda_emu.h" \
  -x c++ "$root/src/cuda/reduce.cu" -x c++ "$root/src/cuda/softmax_loss.cu" \
  -x c++ "$root/src/cuda/shape.cu" \
  -x none "$root/tests/gpu/emu/emu_lib.cc" \
  -Wl,--no-undefined -o "$out"
