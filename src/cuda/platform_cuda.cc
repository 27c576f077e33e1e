// Platform's GPU functions in a CUDA build (a CPU-only build has those of core/device.cc).
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "core/device.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"

namespace singa {

namespace {

// cudaGetDeviceCount's answer, asked once: the driver's view does not change while the
// process runs, and asking again after a failed first call would fail the same way.
struct GpuCount {
  int count = 0;
  std::string why;  // why there is none, when count == 0
};

const GpuCount& Count() {
  static const GpuCount c = [] {
    GpuCount r;
    const cudaError_t err = cudaGetDeviceCount(&r.count);
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    const std::string hidden =
        visible != nullptr ? Msg(" (CUDA_VISIBLE_DEVICES is '", visible, "')") : std::string();
    if (err == cudaErrorInsufficientDriver) {
      r.why = Msg("no usable CUDA driver: either none is installed (no libcuda.so.1), or it is "
                  "older than this build's CUDA ", CUDART_VERSION / 1000, ".",
                  CUDART_VERSION % 1000 / 10, " runtime needs (", cudaGetErrorName(err), ")");
    } else if (err == cudaErrorNoDevice) {
      r.why = Msg("the CUDA driver found no GPU", hidden, " (", cudaGetErrorName(err), ")");
    } else if (err != cudaSuccess) {
      r.why = Msg("cudaGetDeviceCount failed: ", cudaGetErrorString(err), " (",
                  cudaGetErrorName(err), ")");
    } else if (r.count == 0) {
      r.why = Msg("the CUDA driver reports zero GPUs", hidden);
    }
    if (err != cudaSuccess) {
      r.count = 0;
      cudaGetLastError();  // not sticky: clear it so later calls do not report it
    }
    return r;
  }();
  return c;
}

void CheckId(const char* fn, int id) {
  const GpuCount& c = Count();
  if (c.count == 0) throw DeviceError(Msg(fn, "(", id, "): no CUDA GPU was found: ", c.why));
  if (id < 0 || id >= c.count)
    throw DeviceError(Msg(fn, "(", id, "): there is no GPU ", id, "; this process sees ",
                          c.count, " (ids 0 to ", c.count - 1, ")"));
}

}  // namespace

int Platform::GetNumGPUs() { return Count().count; }

std::string Platform::GpuUnavailableReason() { return Count().why; }

std::shared_ptr<Device> Platform::CreateCudaGPU(int id) {
  CheckId("create_cuda_gpu", id);
  // Never destroyed: tensors held by Python objects may outlive static destruction, and
  // the driver may be gone by then.
  static auto* mu = new std::mutex;
  static auto* gpus = new std::map<int, std::shared_ptr<Device>>;
  std::lock_guard<std::mutex> lock(*mu);
  auto& dev = (*gpus)[id];
  if (dev == nullptr) dev = std::make_shared<CudaGPU>(id);
  return dev;
}

std::pair<size_t, size_t> Platform::GetGPUMemSize(int id) {
  CheckId("get_gpu_mem_size", id);
  SINGA_CUDA_CHECK(cudaSetDevice(id), id);
  size_t free = 0, total = 0;
  SINGA_CUDA_CHECK(cudaMemGetInfo(&free, &total), id);
  return {free, total};
}

std::string Platform::DeviceQuery(int id, bool verbose) {
  CheckId("device_query", id);
  cudaDeviceProp p;
  SINGA_CUDA_CHECK(cudaGetDeviceProperties(&p, id), id);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::string out = Msg("GPU ", id, ": ", p.name, ", compute capability ", p.major, ".", p.minor,
                        ", ", p.totalGlobalMem >> 20, " MiB, ", p.multiProcessorCount,
                        " multiprocessors; driver ", driver / 1000, ".", driver % 1000 / 10,
                        ", runtime ", runtime / 1000, ".", runtime % 1000 / 10);
  if (verbose) {
    out += Msg("\n  max threads per block: ", p.maxThreadsPerBlock,
               "\n  max grid size: ", p.maxGridSize[0], " x ", p.maxGridSize[1], " x ",
               p.maxGridSize[2], "\n  shared memory per block: ", p.sharedMemPerBlock,
               " bytes\n  registers per block: ", p.regsPerBlock, "\n  warp size: ", p.warpSize,
               "\n  L2 cache: ", p.l2CacheSize, " bytes\n  memory bus width: ", p.memoryBusWidth,
               " bits\n  PCI bus/device: ", p.pciBusID, "/", p.pciDeviceID);
  }
  return out;
}

}  // namespace singa
