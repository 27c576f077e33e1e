"""Devices: where tensors live and kernels run (SINGA's ``singa.device``).

The CPU device is a process-wide singleton with ``id() == -1``. CUDA devices
exist only in builds with a CUDA device (``singa_wrap.USE_CUDA``). Test devices
(:func:`create_test_device`) are host-memory devices that run the CPU kernels and
count them, to check that work reaches the device its tensors are on.
"""

from . import singa_wrap as singa

__all__ = [
    "Device", "create_cpu_device", "get_default_device", "create_test_device",
    "create_cuda_gpu", "create_cuda_gpu_on", "create_cuda_gpus", "create_cuda_gpus_on",
    "get_num_gpus", "enable_lazy_alloc", "set_num_threads", "get_num_threads",
]

Device = singa.Device

_lazy_alloc = False


def create_cpu_device():
    """Returns the CPU device (a singleton)."""
    return singa.Platform.GetDefaultDevice()


def get_default_device():
    """Returns the default device, the CPU."""
    return singa.Platform.GetDefaultDevice()


def create_test_device(host_memory=True):
    """Creates a new test device (ids -2, -3, ...; every call makes another one).

    It owns host memory of its own and runs the CPU kernels through a kernel table of
    its own that counts calls per family: ``dev.kernel_calls()`` returns
    ``{family: calls}`` and ``dev.reset_kernel_calls()`` zeroes them. With
    ``host_memory=False`` the core treats its memory as device memory (NumPy data is
    copied in and out instead of shared), as it does a GPU's."""
    return singa.Platform.CreateTestDevice(bool(host_memory))


def _require_cuda(what):
    if not singa.USE_CUDA:
        raise RuntimeError(
            "{}: singa was built without CUDA (singa_wrap.USE_CUDA is False); a CUDA "
            "device needs a build with -DSINGA_USE_CUDA=ON that has the CUDA sources "
            "(src/cuda/), on a machine with the CUDA toolkit".format(what))


def create_cuda_gpu(set_default=False):
    """Creates the CUDA device with id 0; raises RuntimeError in a CPU-only build."""
    _require_cuda("create_cuda_gpu")
    return singa.Platform.CreateCudaGPU(0)


def create_cuda_gpu_on(device_id, set_default=False):
    """Creates the CUDA device with the given id."""
    _require_cuda("create_cuda_gpu_on({})".format(device_id))
    return singa.Platform.CreateCudaGPU(device_id)


def create_cuda_gpus(num):
    """Creates `num` CUDA devices."""
    _require_cuda("create_cuda_gpus({})".format(num))
    return singa.Platform.CreateCudaGPUs(num)


def create_cuda_gpus_on(device_ids):
    """Creates CUDA devices with the given ids."""
    _require_cuda("create_cuda_gpus_on({})".format(device_ids))
    return singa.Platform.CreateCudaGPUsOn(list(device_ids))


def get_num_gpus():
    """Number of usable GPUs (0 in a CPU-only build)."""
    return singa.Platform.GetNumGPUs()


def enable_lazy_alloc(enable):
    """SINGA's lazy allocation switch; memory here is always allocated on demand."""
    global _lazy_alloc
    _lazy_alloc = bool(enable)


def set_num_threads(n):
    """Sets the threads used by kernels (OpenMP) and GEMM (OpenBLAS)."""
    singa.set_num_threads(n)


def get_num_threads():
    return singa.get_num_threads()
