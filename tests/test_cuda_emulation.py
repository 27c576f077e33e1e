"""The CUDA device's own NN kernels and GEMM plan, checked on the host (no GPU needed).

tests/cuda_emulation/nn_kernels_emulated.cc compiles src/cuda/nn_kernels.cuh (the
__global__ pooling, batch-norm, LRN, bias and padding kernels) and src/cuda/gemm_plan.h
(the GEMM's row-major to column-major mapping and batch plan) with the host compiler, the
CUDA keywords defined away, runs every kernel block by block on odd grids and compares it
with loops written like the CPU device's. On a GPU the same kernels are also checked
against the CPU device by tests/gpu/test_cuda_nn.py and test_cuda_blas.py.
"""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "cuda_emulation", "nn_kernels_emulated.cc")


@pytest.mark.unsanitized("compiles and runs a separate host program: the sanitizers would "
                         "instrument the compiler, not singa")
def test_cuda_kernels_on_host_emulation(tmp_path):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("no host C++ compiler (g++) to build the emulation")
    exe = tmp_path / "nn_kernels_emulated"
    build = subprocess.run([cxx, "-std=c++17", "-O0", "-Wall", "-Wextra",
                            "-I", os.path.join(ROOT, "src"), SOURCE, "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("ok "), run.stdout
    assert int(run.stdout.split()[1]) >= 100  # every check ran
