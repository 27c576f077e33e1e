"""GPU-only scripts on a CPU box: create_cuda_gpu* and SINGA_CUDA_FALLBACK, and SINGA's
other device.py names on a build or machine without a GPU."""

import os
import subprocess
import sys
import warnings

import pytest

from singa import config, device, singa_wrap, tensor

CREATORS = [
    ("create_cuda_gpu", lambda: device.create_cuda_gpu(), None),
    ("create_cuda_gpu_on", lambda: device.create_cuda_gpu_on(1), None),
    ("create_cuda_gpus", lambda: device.create_cuda_gpus(3), 3),
    ("create_cuda_gpus_on", lambda: device.create_cuda_gpus_on([0, 2]), 2),
]
IDS = [c[0] for c in CREATORS]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Each test starts with the switch unset, no warning given yet and the CPU as the
    default device."""
    monkeypatch.delenv(config.CUDA_FALLBACK, raising=False)
    monkeypatch.setattr(device, "_fallback_warned", False)
    monkeypatch.setattr(device, "_default", None)


@pytest.fixture
def fallback(monkeypatch):
    monkeypatch.setenv(config.CUDA_FALLBACK, "cpu")


@pytest.fixture
def cuda_without_gpu(monkeypatch):
    """A CUDA build on a machine with no GPU, as the Python side sees it."""
    monkeypatch.setattr(singa_wrap, "USE_CUDA", True)
    monkeypatch.setattr(singa_wrap.Platform, "GetNumGPUs", staticmethod(lambda: 0))
    monkeypatch.setattr(singa_wrap.Platform, "GpuUnavailableReason",
                        staticmethod(lambda: "the CUDA driver found no GPU"))


@pytest.fixture
def fake_gpus(monkeypatch):
    """A CUDA build with two GPUs, each stood in for by a test device."""
    gpus = [device.create_test_device(), device.create_test_device()]
    monkeypatch.setattr(singa_wrap, "USE_CUDA", True)
    monkeypatch.setattr(singa_wrap.Platform, "GetNumGPUs", staticmethod(lambda: len(gpus)))
    monkeypatch.setattr(singa_wrap.Platform, "CreateCudaGPU", staticmethod(lambda i: gpus[i]))
    monkeypatch.setattr(singa_wrap.Platform, "CreateCudaGPUs",
                        staticmethod(lambda n: gpus[:n]))
    monkeypatch.setattr(singa_wrap.Platform, "CreateCudaGPUsOn",
                        staticmethod(lambda ids: [gpus[i] for i in ids]))
    return gpus


@pytest.mark.skipif(singa_wrap.USE_CUDA, reason="a CUDA build: the next test covers it")
@pytest.mark.parametrize("name,create,count", CREATORS, ids=IDS)
def test_without_the_switch_a_clear_error_names_it(name, create, count):
    with pytest.raises(RuntimeError, match=r"{}\(.*without CUDA.*SINGA_CUDA_FALLBACK=cpu"
                       .format(name)):
        create()


@pytest.mark.parametrize("name,create,count", CREATORS, ids=IDS)
def test_without_the_switch_a_cuda_build_without_gpu_says_so(cuda_without_gpu, name, create,
                                                             count):
    with pytest.raises(RuntimeError, match=r"no GPU is usable.*SINGA_CUDA_FALLBACK=cpu"):
        create()


@pytest.mark.parametrize("name,create,count", CREATORS, ids=IDS)
def test_the_switch_returns_the_cpu_device(fallback, name, create, count):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", device.CudaFallbackWarning)
        got = create()
    cpu = device.create_cpu_device()
    if count is None:
        assert got == cpu
    else:
        assert isinstance(got, list) and got == [cpu] * count


@pytest.mark.parametrize("name,create,count", CREATORS, ids=IDS)
def test_the_switch_works_in_a_cuda_build_without_gpu(fallback, cuda_without_gpu, name,
                                                      create, count):
    with pytest.warns(device.CudaFallbackWarning, match="no GPU is usable"):
        got = create()
    assert (got if count is None else got[0]) == device.create_cpu_device()


def test_one_warning_for_every_call_together(fallback):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _, create, _ in CREATORS * 2:
            create()
    ours = [w for w in seen if issubclass(w.category, device.CudaFallbackWarning)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert "create_cuda_gpu()" in message and "SINGA_CUDA_FALLBACK=cpu" in message
    assert "CPU device is used instead" in message
    assert ours[0].filename == __file__  # points at the script's call


def test_one_warning_per_process():
    script = ("import warnings; warnings.simplefilter('always')\n"
              "from singa import device\n"
              "devs = [device.create_cuda_gpu(), device.create_cuda_gpu_on(0),\n"
              "        *device.create_cuda_gpus(2), *device.create_cuda_gpus_on([1])]\n"
              "assert all(d == device.create_cpu_device() for d in devs)\n")
    env = dict(os.environ, SINGA_CUDA_FALLBACK="cpu")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("CudaFallbackWarning") == 1, run.stderr


@pytest.mark.parametrize("value", ["gpu", "CPU", "1", "cpu,gpu"])
def test_other_values_are_errors_naming_the_allowed_ones(monkeypatch, value):
    monkeypatch.setenv(config.CUDA_FALLBACK, value)
    with pytest.raises(ValueError, match=r"SINGA_CUDA_FALLBACK={!r}.*allowed values are 'cpu'"
                       .format(value)):
        config.cuda_fallback()
    for _, create, _ in CREATORS:
        with pytest.raises(ValueError, match="allowed values"):
            create()


def test_empty_value_means_unset(monkeypatch):
    monkeypatch.setenv(config.CUDA_FALLBACK, "")
    assert config.cuda_fallback() is None
    with pytest.raises(RuntimeError, match="SINGA_CUDA_FALLBACK=cpu"):
        device.create_cuda_gpu()


def test_gpu_counts_stay_truthful(fallback):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", device.CudaFallbackWarning)
        device.create_cuda_gpu()
    assert device.get_num_gpus() == 0 and device.get_gpu_ids() == []


def test_real_gpus_are_used_when_there_are_some(fallback, fake_gpus):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        assert device.create_cuda_gpu() is fake_gpus[0]
        assert device.create_cuda_gpu_on(1) is fake_gpus[1]
        assert device.create_cuda_gpus(2) == fake_gpus
        assert device.create_cuda_gpus_on([1]) == [fake_gpus[1]]
    assert device.get_num_gpus() == 2 and device.get_gpu_ids() == [0, 1]


def test_a_misspelt_switch_is_reported_on_a_gpu_machine_too(monkeypatch, fake_gpus):
    monkeypatch.setenv(config.CUDA_FALLBACK, "cuda")
    with pytest.raises(ValueError, match="allowed values"):
        device.create_cuda_gpu()


def test_set_default_makes_new_tensors_go_to_the_device(fake_gpus):
    assert device.get_default_device() == device.create_cpu_device()
    gpu = device.create_cuda_gpu_on(1, set_default=True)
    assert device.get_default_device() is gpu
    assert tensor.Tensor((2, 3)).device == gpu
    device.create_cuda_gpu()  # set_default=False leaves the choice alone
    assert device.get_default_device() is gpu


def test_set_default_with_the_fallback_keeps_the_cpu(fallback):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", device.CudaFallbackWarning)
        dev = device.create_cuda_gpu(set_default=True)
    assert device.get_default_device() == dev == device.create_cpu_device()


@pytest.mark.parametrize("call,what", [
    (lambda: device.create_cuda_gpu_on(-1), "GPU id"),
    (lambda: device.create_cuda_gpu_on("0"), "GPU id"),
    (lambda: device.create_cuda_gpu_on(True), "GPU id"),
    (lambda: device.create_cuda_gpus(-2), "number of GPUs"),
    (lambda: device.create_cuda_gpus(1.5), "number of GPUs"),
    (lambda: device.create_cuda_gpus_on(3), "list of GPU ids"),
    (lambda: device.create_cuda_gpus_on([0, -1]), "GPU id"),
])
def test_bad_arguments_are_named(fallback, call, what):
    with pytest.raises(ValueError, match=what):
        call()


def test_default_device_is_the_cpu():
    assert device.default_device == device.create_cpu_device()
    assert device.default_device.id() == -1


@pytest.mark.parametrize("query", [lambda: device.get_gpu_mem_size(0),
                                   lambda: device.device_query(0),
                                   lambda: device.device_query(0, verbose=True)])
def test_gpu_queries_without_a_gpu_raise(fallback, query):
    with pytest.raises(RuntimeError, match="there is no GPU 0 .*(without CUDA|no CUDA GPU was found)"):
        query()


def test_gpu_queries_past_the_last_gpu_raise(fake_gpus):
    with pytest.raises(RuntimeError, match="no GPU 2 .*up to get_num_gpus"):
        device.get_gpu_mem_size(2)
    with pytest.raises(ValueError, match="GPU id"):
        device.device_query(-1)


def test_opencl_is_absent_and_says_so(fallback):
    assert device.get_num_opencl_platforms() == 0
    assert device.get_num_opencl_devices() == 0
    with pytest.raises(RuntimeError, match="no OpenCL backend"):
        device.create_opencl_device()


@pytest.mark.parametrize("lazy", [True, False])
def test_enable_lazy_alloc_leaves_allocation_at_creation(lazy):
    # documented: memory comes from the allocator when a tensor is made, either way
    device.enable_lazy_alloc(lazy)
    try:
        dev = device.create_test_device()
        before = dev.bytes_in_use()
        t = tensor.Tensor((16, 16), dev)
        assert dev.bytes_in_use() - before == 16 * 16 * 4
        del t
    finally:
        device.enable_lazy_alloc(False)


def test_a_device_compares_unequal_to_anything_but_itself():
    cpu = device.get_default_device()
    assert cpu == device.create_cpu_device()
    assert not (cpu == None)  # noqa: E711 (the comparison itself is under test)
    assert cpu != None  # noqa: E711
    assert cpu != "cpu"
    assert cpu != device.create_test_device()
