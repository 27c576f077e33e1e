// The CUDA runtime behind gpu::Driver (gpu/driver.h), for one GPU: the caching allocator
// of a CudaGPU gets its segments and events here. Errors other than out-of-memory throw
// DeviceError through SINGA_CUDA_CHECK (cuda/cuda_common.h), naming the call and the GPU.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "gpu/driver.h"

namespace singa {
namespace cuda {

class RuntimeDriver : public gpu::Driver {
 public:
  // `ordinal`: the CUDA device whose memory and events this driver makes. Malloc, Free
  // and CreateEvent make it current for the call and restore the caller's device after.
  explicit RuntimeDriver(int ordinal);
  ~RuntimeDriver() override;

  // cudaMalloc; nullptr on cudaErrorMemoryAllocation (the error is cleared, so the next
  // runtime call does not see it).
  void* Malloc(size_t bytes) override;
  void Free(void* ptr) override;  // cudaFree (it synchronises the device)
  // cudaEventCreateWithFlags(cudaEventDisableTiming) ... cudaStreamWaitEvent.
  gpu::Event CreateEvent() override;
  void DestroyEvent(gpu::Event event) override;
  void RecordEvent(gpu::Event event, gpu::Stream stream) override;
  bool QueryEvent(gpu::Event event) override;  // cudaEventQuery; false on cudaErrorNotReady
  void HostWaitEvent(gpu::Event event) override;
  void StreamWaitEvent(gpu::Stream stream, gpu::Event event) override;
  // cudaStreamIsCapturing: true while a capture is active (or invalidated, not yet ended),
  // and for the legacy null stream while a blocking stream captures.
  bool IsCapturing(gpu::Stream stream) override;

  // Virtual memory through the CUDA driver API (cuMemAddressReserve, cuMemCreate,
  // cuMemMap, cuMemSetAccess, cuMemUnmap, cuMemRelease), its entry points from
  // cudaGetDriverEntryPointByVersion: granularity 0 where the driver or the device has
  // none (the allocator then uses plain segments). Map backs each granule with its own
  // physical allocation, so any run of whole granules can be unmapped; Unmap waits for
  // the device first (cudaDeviceSynchronize), as cudaFree does.
  size_t MapGranularity() override;
  Range ReserveRange() override;  // the device's total memory, rounded up
  void ReleaseRange(Range range) override;
  bool Map(void* addr, size_t bytes) override;
  void Unmap(void* addr, size_t bytes) override;

  int ordinal() const { return ordinal_; }

 private:
  struct Vmm;
  const Vmm* LoadVmm();  // nullptr when unsupported

  int ordinal_;
  std::once_flag vmm_once_;
  std::unique_ptr<Vmm> vmm_;  // set by LoadVmm where supported
  size_t granularity_ = 0;
  std::mutex handles_mu_;
  std::map<uintptr_t, unsigned long long> handles_;  // granule address -> CUmemGenericAllocationHandle
};

}  // namespace cuda
}  // namespace singa
