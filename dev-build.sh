#!/usr/bin/env bash
# Incremental developer build: compiles the extension into build/dev-<name> and
# installs it atomically into python/singa/ so `PYTHONPATH=python` picks it up.
set -euo pipefail
cd "$(dirname "$0")"
name="${1:-main}"
shift || true
dir="build/dev-$name"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$dir" -- -j2 2>&1 | grep -v "^\[" || true
so=$(ls "$dir"/singa_wrap*.so)
cp "$so" "python/singa/.tmp.$name.so"
mv "python/singa/.tmp.$name.so" "python/singa/$(basename "$so")"
