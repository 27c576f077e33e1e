"""Host-side checks of the CUDA element-wise code that need no GPU (tests/gpu/host_checks/):
the strided-offset helper (cuda/strided.cuh: axis merging, 32- and 64-bit index paths,
the ValueError past its axis limit) built with the host compiler, and elementwise.cu's
dtype conversions against the CPU's Cast for every pair of dtypes, with CUDA's float16
conversions (the host emulation of the device instructions) against core's, built with
nvcc (minutes: SINGA_SLOW_TESTS=1)."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = os.path.join(ROOT, "tests", "gpu", "host_checks")
SRC = os.path.join(ROOT, "src")


def _build_and_run(cmd, exe, timeout):
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run([exe], capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.mark.unsanitized("compiles and runs a separate host program: the sanitizers would "
                         "instrument the compiler, not singa")
def test_strided_offsets(tmp_path):
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no host C++ compiler")
    exe = str(tmp_path / "strided_check")
    out = _build_and_run([cxx, "-std=c++17", "-O1", "-I", SRC, os.path.join(CHECKS, "strided_check.cc"),
                          os.path.join(SRC, "core", "common.cc"), "-o", exe], exe, 300)
    assert "ValueError" in out and "offsets checked" in out


@pytest.mark.skipif(os.environ.get("SINGA_SLOW_TESTS") != "1",
                    reason="builds elementwise.cu with nvcc (minutes): set SINGA_SLOW_TESTS=1")
def test_conversions_match_the_cpu(tmp_path):
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None)
    if nvcc is None:
        pytest.skip("no nvcc")
    exe = str(tmp_path / "cast_check")
    out = _build_and_run([nvcc, "-std=c++17", "-arch=sm_90", "--expt-relaxed-constexpr", "-Xcompiler=-fopenmp",
                          "-O1", "-I", SRC, os.path.join(CHECKS, "cast_check.cu"),
                          os.path.join(SRC, "core", "common.cc"), "-o", exe], exe, 1800)
    assert "0 mismatches" in out
