#include "cuda/runtime_driver.h"

#include <cuda.h>
#include <cuda_runtime.h>

#include <string>

#include "core/common.h"
#include "cuda/cuda_common.h"

namespace singa {
namespace cuda {

namespace {

// Makes `ordinal` the calling thread's current device for a scope and restores the
// previous one after.
class DeviceScope {
 public:
  explicit DeviceScope(int ordinal) : ordinal_(ordinal) {
    SINGA_CUDA_CHECK(cudaGetDevice(&previous_), ordinal);
    // Always: it also makes the device's primary context current on this thread, which
    // the driver API calls of virtual memory need.
    SINGA_CUDA_CHECK(cudaSetDevice(ordinal), ordinal);
  }
  ~DeviceScope() {
    if (previous_ != ordinal_) (void)cudaSetDevice(previous_);  // no throw from a destructor
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int ordinal_;
  int previous_ = 0;
};

cudaEvent_t AsEvent(gpu::Event e) { return static_cast<cudaEvent_t>(e); }
cudaStream_t AsStream(gpu::Stream s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void* RuntimeDriver::Malloc(size_t bytes) {
  DeviceScope scope(ordinal_);
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear it: out of memory is an answer here, not an error
    return nullptr;
  }
  SINGA_CUDA_CHECK(err, ordinal_);
  return ptr;
}

void RuntimeDriver::Free(void* ptr) {
  DeviceScope scope(ordinal_);
  SINGA_CUDA_CHECK(cudaFree(ptr), ordinal_);
}

gpu::Event RuntimeDriver::CreateEvent() {
  DeviceScope scope(ordinal_);
  cudaEvent_t e = nullptr;
  SINGA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), ordinal_);
  return e;
}

void RuntimeDriver::DestroyEvent(gpu::Event event) {
  SINGA_CUDA_CHECK(cudaEventDestroy(AsEvent(event)), ordinal_);
}

void RuntimeDriver::RecordEvent(gpu::Event event, gpu::Stream stream) {
  SINGA_CUDA_CHECK(cudaEventRecord(AsEvent(event), AsStream(stream)), ordinal_);
}

bool RuntimeDriver::QueryEvent(gpu::Event event) {
  const cudaError_t err = cudaEventQuery(AsEvent(event));
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();  // not an error: the work is still running
    return false;
  }
  SINGA_CUDA_CHECK(err, ordinal_);
  return true;
}

void RuntimeDriver::HostWaitEvent(gpu::Event event) {
  SINGA_CUDA_CHECK(cudaEventSynchronize(AsEvent(event)), ordinal_);
}

void RuntimeDriver::StreamWaitEvent(gpu::Stream stream, gpu::Event event) {
  SINGA_CUDA_CHECK(cudaStreamWaitEvent(AsStream(stream), AsEvent(event), 0), ordinal_);
}

bool RuntimeDriver::IsCapturing(gpu::Stream stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  const cudaError_t err = cudaStreamIsCapturing(AsStream(stream), &status);
  if (err == cudaErrorStreamCaptureImplicit) {
    // The legacy null stream while a blocking stream captures: it may not be used now.
    (void)cudaGetLastError();
    return true;
  }
  SINGA_CUDA_CHECK(err, ordinal_);
  return status != cudaStreamCaptureStatusNone;
}

// The driver API entry points of virtual memory management (types from cuda.h; the
// functions through the runtime, so nothing links against libcuda).
struct RuntimeDriver::Vmm {
  CUresult (*device_get)(CUdevice*, int) = nullptr;
  CUresult (*device_attribute)(int*, CUdevice_attribute, CUdevice) = nullptr;
  CUresult (*granularity)(size_t*, const CUmemAllocationProp*, CUmemAllocationGranularity_flags) = nullptr;
  CUresult (*reserve)(CUdeviceptr*, size_t, size_t, CUdeviceptr, unsigned long long) = nullptr;
  CUresult (*address_free)(CUdeviceptr, size_t) = nullptr;
  CUresult (*create)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*,
                     unsigned long long) = nullptr;
  CUresult (*release)(CUmemGenericAllocationHandle) = nullptr;
  CUresult (*map)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long) = nullptr;
  CUresult (*unmap)(CUdeviceptr, size_t) = nullptr;
  CUresult (*set_access)(CUdeviceptr, size_t, const CUmemAccessDesc*, size_t) = nullptr;
  CUmemAllocationProp prop{};
  CUmemAccessDesc access{};
};

namespace {

template <typename Fn>
bool Entry(const char* name, Fn*& fn) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t err = cudaGetDriverEntryPointByVersion(name, &p, 12000, cudaEnableDefault, &found);
  if (err != cudaSuccess || found != cudaDriverEntryPointSuccess || p == nullptr) {
    (void)cudaGetLastError();
    return false;
  }
  fn = reinterpret_cast<Fn*>(p);
  return true;
}

void CheckCu(CUresult r, const char* call, int ordinal) {
  if (r != CUDA_SUCCESS)
    throw DeviceError(Msg(call, " failed on cuda:", ordinal, " (CUresult ", static_cast<int>(r), ")"));
}

}  // namespace

RuntimeDriver::RuntimeDriver(int ordinal) : ordinal_(ordinal) {}
RuntimeDriver::~RuntimeDriver() = default;

const RuntimeDriver::Vmm* RuntimeDriver::LoadVmm() {
  std::call_once(vmm_once_, [this] {
    auto table = std::make_unique<Vmm>();
    Vmm& v = *table;
    if (!Entry("cuDeviceGet", v.device_get) || !Entry("cuDeviceGetAttribute", v.device_attribute) ||
        !Entry("cuMemGetAllocationGranularity", v.granularity) ||
        !Entry("cuMemAddressReserve", v.reserve) || !Entry("cuMemAddressFree", v.address_free) ||
        !Entry("cuMemCreate", v.create) || !Entry("cuMemRelease", v.release) ||
        !Entry("cuMemMap", v.map) || !Entry("cuMemUnmap", v.unmap) ||
        !Entry("cuMemSetAccess", v.set_access))
      return;
    CUdevice dev = 0;
    int supported = 0;
    DeviceScope scope(ordinal_);
    if (v.device_get(&dev, ordinal_) != CUDA_SUCCESS ||
        v.device_attribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev) !=
            CUDA_SUCCESS ||
        !supported)
      return;
    v.prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    v.prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    v.prop.location.id = dev;
    v.access.location = v.prop.location;
    v.access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    size_t g = 0;
    if (v.granularity(&g, &v.prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || g == 0) return;
    granularity_ = g;
    vmm_ = std::move(table);
  });
  return vmm_.get();
}

size_t RuntimeDriver::MapGranularity() { return LoadVmm() ? granularity_ : 0; }

gpu::Driver::Range RuntimeDriver::ReserveRange() {
  const Vmm* v = LoadVmm();
  if (!v) return {};
  DeviceScope scope(ordinal_);
  size_t free_bytes = 0, total = 0;
  SINGA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total), ordinal_);
  const size_t bytes = (total + granularity_ - 1) / granularity_ * granularity_;
  CUdeviceptr base = 0;
  if (v->reserve(&base, bytes, granularity_, 0, 0) != CUDA_SUCCESS) return {};
  return {reinterpret_cast<void*>(static_cast<uintptr_t>(base)), bytes};
}

void RuntimeDriver::ReleaseRange(Range range) {
  const Vmm* v = LoadVmm();
  if (!v || range.base == nullptr) return;
  CheckCu(v->address_free(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(range.base)), range.bytes),
          "cuMemAddressFree", ordinal_);
}

bool RuntimeDriver::Map(void* addr, size_t bytes) {
  const Vmm* v = LoadVmm();
  if (!v) return false;
  DeviceScope scope(ordinal_);
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  size_t done = 0;
  for (; done < bytes; done += granularity_) {
    CUmemGenericAllocationHandle h = 0;
    const CUresult r = v->create(&h, granularity_, &v->prop, 0);
    if (r == CUDA_ERROR_OUT_OF_MEMORY) break;
    CheckCu(r, "cuMemCreate", ordinal_);
    const CUresult m = v->map(static_cast<CUdeviceptr>(start + done), granularity_, 0, h, 0);
    if (m != CUDA_SUCCESS) {
      (void)v->release(h);
      CheckCu(m, "cuMemMap", ordinal_);
    }
    std::lock_guard<std::mutex> lock(handles_mu_);
    handles_[start + done] = h;
  }
  if (done < bytes) {  // out of memory: give back what this call mapped
    if (done) Unmap(addr, done);
    return false;
  }
  CheckCu(v->set_access(static_cast<CUdeviceptr>(start), bytes, &v->access, 1), "cuMemSetAccess", ordinal_);
  return true;
}

void RuntimeDriver::Unmap(void* addr, size_t bytes) {
  const Vmm* v = LoadVmm();
  if (!v) return;
  DeviceScope scope(ordinal_);
  SINGA_CUDA_CHECK(cudaDeviceSynchronize(), ordinal_);  // no queued work may still use it
  const uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  for (size_t off = 0; off < bytes; off += granularity_) {
    CUmemGenericAllocationHandle h;
    {
      std::lock_guard<std::mutex> lock(handles_mu_);
      auto it = handles_.find(start + off);
      if (it == handles_.end())
        throw DeviceError(Msg("RuntimeDriver::Unmap: no memory mapped at that address on cuda:", ordinal_));
      h = it->second;
      handles_.erase(it);
    }
    CheckCu(v->unmap(static_cast<CUdeviceptr>(start + off), granularity_), "cuMemUnmap", ordinal_);
    CheckCu(v->release(h), "cuMemRelease", ordinal_);
  }
}

}  // namespace cuda
}  // namespace singa
