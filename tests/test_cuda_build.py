"""A CUDA build (-DSINGA_USE_CUDA=ON) on a machine without a GPU: what it holds and how it
says that no GPU is usable. The CI's CUDA stage runs this file against such a build; in a
CPU-only build every test here is skipped."""

import os
import subprocess
import sys

import pytest

from singa import device, singa_wrap as sw

from _fatbin import gpu_code
from _launcher import env_with_this_singa

pytestmark = pytest.mark.skipif(not sw.USE_CUDA, reason="a CPU-only build (USE_CUDA is False)")

no_gpu = pytest.mark.skipif(sw.USE_CUDA and sw.Platform.GetNumGPUs() > 0,
                            reason="a GPU is usable here")


def test_the_extension_holds_machine_code_for_every_architecture_it_names():
    archs = sw.build_info()["cuda"]["architectures"].split(",")
    code = gpu_code(sw.__file__)
    cubins = {sm for kind, sm in code if kind == "elf"}
    assert cubins, "no GPU machine code in {}".format(sw.__file__)
    for arch in archs:
        number = int(arch.split("-")[0])
        assert number in cubins, "no sm_{} code ({} found)".format(number, sorted(cubins))
        if not arch.endswith("-real"):  # "90" is real and virtual: PTX too
            assert ("ptx", number) in code


@no_gpu
def test_without_a_gpu_there_are_none_and_the_reason_says_why():
    assert device.get_num_gpus() == 0
    assert device.get_gpu_ids() == []
    why = sw.Platform.GpuUnavailableReason()
    assert why and ("driver" in why or "GPU" in why), why


@no_gpu
@pytest.mark.parametrize("call", [
    lambda: device.create_cuda_gpu(),
    lambda: device.create_cuda_gpu_on(0),
    lambda: device.create_cuda_gpus(1),
    lambda: device.create_cuda_gpus_on([0]),
])
def test_creating_a_gpu_raises_saying_none_was_found_and_why(monkeypatch, call):
    monkeypatch.delenv("SINGA_CUDA_FALLBACK", raising=False)
    with pytest.raises(RuntimeError, match="no CUDA GPU was found") as e:
        call()
    assert sw.Platform.GpuUnavailableReason() in str(e.value)


@no_gpu
def test_the_core_refuses_a_gpu_naming_the_id_and_the_reason():
    with pytest.raises(RuntimeError, match=r"create_cuda_gpu\(3\): no CUDA GPU was found"):
        sw.Platform.CreateCudaGPU(3)
    with pytest.raises(RuntimeError, match=r"device_query\(0\)"):
        device.device_query(0)
    with pytest.raises(RuntimeError, match=r"get_gpu_mem_size\(0\)"):
        device.get_gpu_mem_size(0)


def test_import_needs_neither_a_driver_nor_the_cuda_libraries():
    # A fresh process with no nvidia-* folders to search: importing and using the CPU
    # device must not touch cuBLAS, cuDNN or NCCL.
    code = ("import singa.singa_wrap as sw; from singa import tensor; import numpy as np; "
            "t = tensor.from_numpy(np.ones(3, np.float32)); print(sw.USE_CUDA, tensor.to_numpy(t + t).sum())")
    out = subprocess.run([sys.executable, "-c", code], env=env_with_this_singa(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "6.0"]


def test_the_library_folders_are_those_of_the_nvidia_wheels():
    assert sw.CudaLibraryDirs() == device._nvidia_library_dirs()


def test_a_missing_library_is_reported_with_the_wheel_that_brings_it():
    saved = sw.CudaLibraryDirs()
    try:
        sw.SetCudaLibraryDirs(["/nonexistent/nvidia/lib"])
        report = sw.CudaLibraries()
    finally:
        sw.SetCudaLibraryDirs(saved)
    assert set(report) == {"cuBLAS", "cuDNN", "NCCL"}
    wheels = {"cuBLAS": "nvidia-cublas", "cuDNN": "nvidia-cudnn-cu13", "NCCL": "nvidia-nccl-cu13"}
    for name, where in report.items():
        if where.startswith("not loaded"):  # the system may have the library installed
            assert wheels[name] in where and "/nonexistent/nvidia/lib" in where, where


@pytest.mark.skipif(not os.environ.get("SINGA_NVIDIA_LIB_DIRS"),
                    reason="SINGA_NVIDIA_LIB_DIRS (folders of unpacked nvidia-* wheels) not set")
def test_the_wheels_libraries_load_without_a_gpu():
    saved = sw.CudaLibraryDirs()
    try:
        sw.SetCudaLibraryDirs(os.environ["SINGA_NVIDIA_LIB_DIRS"].split(os.pathsep))
        report = sw.CudaLibraries()
    finally:
        sw.SetCudaLibraryDirs(saved)
    for name, where in report.items():
        assert not where.startswith("not loaded"), (name, where)
