"""Devices: where tensors live and kernels run (SINGA's ``singa.device``).

The CPU device is a process-wide singleton with ``id() == -1``. CUDA devices
exist only in builds with a CUDA device (``singa_wrap.USE_CUDA``). Test devices
(:func:`create_test_device`) are host-memory devices that run the CPU kernels and
count them, to check that work reaches the device its tensors are on.

GPU-only scripts on a CPU box: where no GPU is usable (a CPU-only build, or a CUDA
build on a machine without a GPU), the ``create_cuda_gpu*`` functions raise
RuntimeError, unless the environment says ``SINGA_CUDA_FALLBACK=cpu`` (read through
:func:`singa.config.cuda_fallback` at each call): then they return the CPU device (a
list of it for the plural forms) and warn once per process with
:class:`CudaFallbackWarning`. :func:`get_num_gpus` and :func:`get_gpu_ids` keep
reporting the GPUs there really are.

Time profiling (``Device.SetVerbosity``, ``SetSkipIteration``, ``PrintTimeProfiling``,
``TimeProfile``) times the kernels of replayed graphs, ``Model.compile(use_graph=True)``;
eager kernels are not timed.
"""

import os
import threading
import warnings

from . import config
from . import singa_wrap as singa

__all__ = [
    "Device", "CudaFallbackWarning", "default_device", "create_cpu_device",
    "get_default_device", "create_test_device", "create_cuda_gpu", "create_cuda_gpu_on",
    "create_cuda_gpus", "create_cuda_gpus_on", "get_num_gpus", "get_gpu_ids",
    "get_gpu_mem_size", "device_query", "get_num_opencl_platforms",
    "get_num_opencl_devices", "create_opencl_device", "enable_lazy_alloc",
    "set_num_threads", "get_num_threads", "memory_allocated", "max_memory_allocated",
    "memory_reserved", "reset_peak_memory_stats", "empty_cache",
]

Device = singa.Device

# SINGA's name for the host device, which is the CPU here too.
default_device = singa.Platform.GetDefaultDevice()

_lazy_alloc = False
_default = None  # set by create_cuda_gpu*(set_default=True); None: the CPU
_fallback_lock = threading.Lock()
_fallback_warned = False


class CudaFallbackWarning(RuntimeWarning):
    """A ``create_cuda_gpu*`` call returned the CPU device (``SINGA_CUDA_FALLBACK=cpu``)."""


def create_cpu_device():
    """Returns the CPU device (a singleton)."""
    return singa.Platform.GetDefaultDevice()


def get_default_device():
    """Returns the device new tensors go to when none is given: the CPU, unless a
    ``create_cuda_gpu*(set_default=True)`` call chose another."""
    return _default if _default is not None else singa.Platform.GetDefaultDevice()


def create_test_device(host_memory=True):
    """Creates a new test device (ids -2, -3, ...; every call makes another one).

    It owns host memory of its own and runs the CPU kernels through a kernel table of
    its own that counts calls per family: ``dev.kernel_calls()`` returns
    ``{family: calls}`` and ``dev.reset_kernel_calls()`` zeroes them. With
    ``host_memory=False`` the core treats its memory as device memory (NumPy data is
    copied in and out instead of shared), as it does a GPU's."""
    return singa.Platform.CreateTestDevice(bool(host_memory))


def get_num_gpus():
    """Number of usable GPUs (0 in a CPU-only build, whatever SINGA_CUDA_FALLBACK says)."""
    return singa.Platform.GetNumGPUs() if singa.USE_CUDA else 0


def get_gpu_ids():
    """The ids of the usable GPUs, ``0 .. get_num_gpus() - 1`` ([] without any)."""
    return list(range(get_num_gpus()))


def _no_gpu_reason():
    if not singa.USE_CUDA:
        return ("singa was built without CUDA (singa_wrap.USE_CUDA is False); a CUDA "
                "device needs a build with -DSINGA_USE_CUDA=ON "
                "(pip install \".[cuda]\" -C cmake.define.SINGA_USE_CUDA=ON)")
    return ("this singa has CUDA, but no GPU is usable on this machine: no CUDA GPU was "
            "found ({})".format(singa.Platform.GpuUnavailableReason()))


def _nvidia_library_dirs():
    """The lib/ folders of the installed nvidia-* wheels (cuBLAS, cuDNN, NCCL: the
    ``cuda`` extra), which the core searches when a GPU first needs those libraries."""
    import importlib.util
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    dirs = []
    for root in spec.submodule_search_locations:
        try:
            parts = sorted(os.listdir(root))
        except OSError:
            continue
        for part in parts:
            lib = os.path.join(root, part, "lib")
            if os.path.isdir(lib):
                dirs.append(lib)
    return dirs


if singa.USE_CUDA:
    singa.SetCudaLibraryDirs(_nvidia_library_dirs())


def _cpu_instead(what):
    """The CPU device when no GPU is usable and SINGA_CUDA_FALLBACK=cpu; None when a GPU
    is usable; RuntimeError when none is and the switch is off. The switch is checked
    first, so a misspelt value is reported on a GPU machine too."""
    global _fallback_warned
    fallback = config.cuda_fallback()
    if get_num_gpus() > 0:
        return None
    if fallback is None:
        raise RuntimeError("{}: {}. To run this script on the CPU instead, set the "
                           "environment variable {}=cpu".format(
                               what, _no_gpu_reason(), config.CUDA_FALLBACK))
    with _fallback_lock:
        first, _fallback_warned = not _fallback_warned, True
    if first:
        # stacklevel 3: the script's call to create_cuda_gpu*
        warnings.warn("{}: {}; {}=cpu, so the CPU device is used instead (for this and "
                      "every later create_cuda_gpu* call; this warning is shown once)".format(
                          what, _no_gpu_reason(), config.CUDA_FALLBACK),
                      CudaFallbackWarning, stacklevel=3)
    return singa.Platform.GetDefaultDevice()


def _gpu_id(what, device_id):
    if isinstance(device_id, bool) or not isinstance(device_id, int) or device_id < 0:
        raise ValueError("{}: a GPU id is an int >= 0, got {!r}".format(what, device_id))
    return device_id


def _count(what, num):
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise ValueError("{}: the number of GPUs is an int >= 0, got {!r}".format(what, num))
    return num


def _chosen(dev, set_default):
    global _default
    if set_default:
        _default = dev
    return dev


def create_cuda_gpu(set_default=False):
    """Creates the CUDA device with id 0. Where no GPU is usable: the CPU device with
    SINGA_CUDA_FALLBACK=cpu, else RuntimeError. ``set_default``: new tensors without a
    device go to the returned one."""
    cpu = _cpu_instead("create_cuda_gpu()")
    return _chosen(cpu if cpu is not None else singa.Platform.CreateCudaGPU(0), set_default)


def create_cuda_gpu_on(device_id, set_default=False):
    """Creates the CUDA device with the given id (fallback as :func:`create_cuda_gpu`)."""
    what = "create_cuda_gpu_on({!r})".format(device_id)
    device_id = _gpu_id(what, device_id)
    cpu = _cpu_instead(what)
    return _chosen(cpu if cpu is not None else singa.Platform.CreateCudaGPU(device_id),
                   set_default)


def create_cuda_gpus(num):
    """Creates CUDA devices 0 .. num-1; with the CPU fallback, a list of ``num`` CPU
    devices (the one CPU device, ``num`` times)."""
    what = "create_cuda_gpus({!r})".format(num)
    num = _count(what, num)
    cpu = _cpu_instead(what)
    return [cpu] * num if cpu is not None else singa.Platform.CreateCudaGPUs(num)


def create_cuda_gpus_on(device_ids):
    """Creates CUDA devices with the given ids; with the CPU fallback, the CPU device
    once per id."""
    what = "create_cuda_gpus_on({!r})".format(device_ids)
    try:
        ids = [_gpu_id(what, i) for i in device_ids]
    except TypeError:
        raise ValueError("{}: expected a list of GPU ids".format(what)) from None
    cpu = _cpu_instead(what)
    return [cpu] * len(ids) if cpu is not None else singa.Platform.CreateCudaGPUsOn(ids)


def _gpu_query(what, device_id, binding):
    """The core's query `binding` for a usable GPU id, or RuntimeError saying why not."""
    device_id = _gpu_id(what, device_id)
    if device_id >= get_num_gpus():
        raise RuntimeError("{}: there is no GPU {} ({} usable): {}".format(
            what, device_id, get_num_gpus(),
            _no_gpu_reason() if get_num_gpus() == 0 else "ids go up to get_num_gpus() - 1"))
    query = getattr(singa.Platform, binding, None)
    if query is None:
        raise RuntimeError("{}: this singa's core has no Platform.{}".format(what, binding))
    return query, device_id


def get_gpu_mem_size(id):  # SINGA's keyword name (shadows the builtin here only)
    """(free, total) bytes of GPU memory of GPU ``id``; RuntimeError where there is no
    such GPU."""
    query, device_id = _gpu_query("get_gpu_mem_size({!r})".format(id), id, "GetGPUMemSize")
    return query(device_id)


def device_query(id, verbose=False):  # SINGA's keyword name (shadows the builtin here only)
    """A description of the properties of GPU ``id``; RuntimeError where there is no
    such GPU."""
    query, device_id = _gpu_query("device_query({!r})".format(id), id, "DeviceQuery")
    return query(device_id, bool(verbose))


def get_num_opencl_platforms():
    """0: singa has no OpenCL backend."""
    return 0


def get_num_opencl_devices():
    """0: singa has no OpenCL backend."""
    return 0


def create_opencl_device():
    """Raises RuntimeError: singa has no OpenCL backend (SINGA_CUDA_FALLBACK does not
    apply: it is for CUDA scripts)."""
    raise RuntimeError("create_opencl_device(): singa has no OpenCL backend; use "
                       "create_cpu_device() (or a CUDA device in a CUDA build)")


def enable_lazy_alloc(enable):
    """SINGA's lazy allocation switch (SINGA defers a block's memory to its first use).
    Here a tensor's memory comes from the device's caching allocator when the tensor is
    made, always; the switch is kept for SINGA scripts and changes nothing."""
    global _lazy_alloc
    _lazy_alloc = bool(enable)


def _device_or_default(dev):
    return get_default_device() if dev is None else dev


def memory_allocated(dev=None):
    """Bytes in use by tensors on ``dev`` (default: :func:`get_default_device`)."""
    return _device_or_default(dev).memory_allocated()


def max_memory_allocated(dev=None):
    """The most bytes in use on ``dev`` since it was made or since
    :func:`reset_peak_memory_stats`."""
    return _device_or_default(dev).max_memory_allocated()


def memory_reserved(dev=None):
    """Bytes ``dev``'s allocator holds from the system (or the GPU driver): in use plus
    cached for reuse."""
    return _device_or_default(dev).memory_reserved()


def reset_peak_memory_stats(dev=None):
    """Starts :func:`max_memory_allocated` again from the bytes in use now."""
    _device_or_default(dev).ResetPeak()


def empty_cache(dev=None):
    """Gives the memory ``dev``'s allocator keeps for reuse back to the system."""
    _device_or_default(dev).EmptyCache()


def set_num_threads(n):
    """Sets the threads used by kernels (OpenMP) and GEMM (OpenBLAS)."""
    singa.set_num_threads(n)


def get_num_threads():
    return singa.get_num_threads()
