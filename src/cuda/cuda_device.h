// The CUDA device: one GPU, its memory from a caching allocator (gpu/caching_allocator.h),
// one stream on which all its kernels and copies run in call order, the cuBLAS and cuDNN
// handles bound to that stream (made on first use), and the CUDA kernel table
// (cuda/cuda_kernels.h). Created through Platform::CreateCudaGPU; one object per GPU
// ordinal, shared by every caller.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/device.h"
#include "cuda/lib_types.h"
#include "gpu/caching_allocator.h"

namespace singa {

namespace gpu {
class Driver;
}

class CudaGPU : public Device {
 public:
  // `ordinal`: the CUDA device number (CUDA_VISIBLE_DEVICES applied); also Device::id().
  explicit CudaGPU(int ordinal);
  ~CudaGPU() override;

  std::string name() const override { return "cuda:" + std::to_string(id()); }
  const KernelTable& kernels() const override;
  bool host_memory() const override { return false; }
  // Both wait for the copy: the host buffer is the caller's, pageable, and read or
  // written right after. Large host buffers go through pinned staging memory in chunks.
  void CopyToHost(void* dst, const void* src, size_t bytes) const override;
  void CopyFromHost(void* dst, const void* src, size_t bytes) override;
  // Waits until every kernel and copy queued on this device's stream has finished.
  void Sync() override;

  // CUDA graphs (core/capture.h): stream capture in relaxed mode on this GPU's stream,
  // its allocations from the caching allocator's capture pool.
  bool can_capture() const override { return true; }
  void BeginCapture(uint64_t* pool) override;
  std::unique_ptr<CapturedWork> EndCapture(std::string* why) override;
  void ReleaseCapturePool(uint64_t pool) override;

  size_t cached_bytes() const override;
  void EmptyCache() override;
  void SetCacheLimit(size_t bytes) override;
  size_t reserved_bytes() const override;

  int ordinal() const { return id(); }
  cudaStream_t stream() const { return stream_; }
  // Makes this GPU the calling thread's current device; every kernel entry does it first,
  // so a program may use several GPUs from one thread.
  void Activate() const;
  // Marks the block of `ptr` (from this device) as used by work on `other` too: its
  // memory is reused only after that work, as of now, has run.
  void RecordStream(void* ptr, cudaStream_t other) { alloc_->RecordStream(ptr, other); }
  // The library handles of this GPU, on its stream (thread-safe, made once).
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();

 protected:
  void* Malloc(size_t size) override;
  void Free(void* ptr, size_t size) override;

 private:
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<gpu::Driver> driver_;
  std::unique_ptr<gpu::CachingAllocator> alloc_;
  std::once_flag cublas_once_, cudnn_once_;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;

  // Pinned host buffers that CopyFromHost stages through, so the copy runs on the stream
  // while the host goes on; a buffer is refilled only after the event of its last copy.
  struct Staging {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
  };
  bool StagingReady();  // copy_mu_ held; false when pinned memory is unavailable
  std::mutex copy_mu_;
  std::vector<Staging> staging_;
  size_t next_staging_ = 0;
  bool staging_failed_ = false;
};

}  // namespace singa
