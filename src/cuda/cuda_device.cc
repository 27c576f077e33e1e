#include "cuda/cuda_device.h"

#include <algorithm>
#include <cstring>

#include "cuda/cublas_api.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_kernels.h"
#include "cuda/cudnn_api.h"
#include "cuda/runtime_driver.h"

namespace singa {

namespace {
// Two pinned buffers of 4 MiB: a host-to-device copy fills one while the other's copy
// runs. Larger copies go chunk by chunk; the host waits only when both are in flight.
constexpr size_t kStagingBytes = size_t{4} << 20;
constexpr size_t kStagingBuffers = 2;
}  // namespace

CudaGPU::CudaGPU(int ordinal) : Device(ordinal, kCuda) {
  Activate();
  SINGA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), ordinal);
  driver_ = std::make_unique<cuda::RuntimeDriver>(ordinal);
  // Expandable segments: the large pool is one address range backed as it grows, so
  // memory freed between layers merges into blocks of any later size (the CIFAR-CNN trace
  // reserves 1.06x its peak allocation this way, 1.61x with separate segments;
  // tests/test_gpu_allocator.py). Where no range can be reserved it falls back to those.
  alloc_ = std::make_unique<gpu::CachingAllocator>(driver_.get(), /*expandable_segments=*/true);
}

CudaGPU::~CudaGPU() {
  // Devices live until the process ends (Platform keeps them); this runs only for a
  // device that failed half-way through its constructor or in tests of teardown, and
  // ignores errors: the driver may already be shutting down.
  cudaSetDevice(id());
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  for (Staging& s : staging_) {
    if (s.done != nullptr) cudaEventDestroy(s.done);
    if (s.host != nullptr) cudaFreeHost(s.host);
  }
  if (cudnn_ != nullptr) cuda::DestroyCudnnHandle(cudnn_);
  if (cublas_ != nullptr) cuda::DestroyCublasHandle(cublas_);
  alloc_.reset();
  driver_.reset();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

const KernelTable& CudaGPU::kernels() const { return cuda::Kernels(); }

void CudaGPU::Activate() const { SINGA_CUDA_CHECK(cudaSetDevice(id()), id()); }

void CudaGPU::CopyToHost(void* dst, const void* src, size_t bytes) const {
  NoteCaptureHazard("copies between host and device memory");
  if (bytes == 0) return;
  Activate();
  SINGA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), id());
  SINGA_CUDA_CHECK(cudaStreamSynchronize(stream_), id());
}

bool CudaGPU::StagingReady() {
  if (!staging_.empty()) return true;
  if (staging_failed_) return false;
  for (size_t i = 0; i < kStagingBuffers; ++i) {
    Staging s;
    if (cudaHostAlloc(&s.host, kStagingBytes, cudaHostAllocDefault) != cudaSuccess ||
        cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();  // pinned memory may be scarce: fall back to synchronous copies
      if (s.host != nullptr) cudaFreeHost(s.host);
      for (Staging& t : staging_) {
        cudaEventDestroy(t.done);
        cudaFreeHost(t.host);
      }
      staging_.clear();
      staging_failed_ = true;
      return false;
    }
    staging_.push_back(s);
  }
  return true;
}

void CudaGPU::CopyFromHost(void* dst, const void* src, size_t bytes) {
  NoteCaptureHazard("copies between host and device memory");
  if (bytes == 0) return;
  Activate();
  std::lock_guard<std::mutex> lock(copy_mu_);
  if (!StagingReady()) {
    SINGA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), id());
    SINGA_CUDA_CHECK(cudaStreamSynchronize(stream_), id());
    return;
  }
  auto* out = static_cast<char*>(dst);
  const auto* in = static_cast<const char*>(src);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(kStagingBytes, bytes - done);
    Staging& s = staging_[next_staging_];
    next_staging_ = (next_staging_ + 1) % staging_.size();
    SINGA_CUDA_CHECK(cudaEventSynchronize(s.done), id());  // its previous copy has run
    std::memcpy(s.host, in + done, n);
    SINGA_CUDA_CHECK(cudaMemcpyAsync(out + done, s.host, n, cudaMemcpyHostToDevice, stream_), id());
    SINGA_CUDA_CHECK(cudaEventRecord(s.done, stream_), id());
    done += n;
  }
}

void CudaGPU::Sync() {
  NoteCaptureHazard("waits for the device");
  Activate();
  SINGA_CUDA_CHECK(cudaStreamSynchronize(stream_), id());
}

namespace {
class CudaGraphWork : public CapturedWork {
 public:
  CudaGraphWork(const CudaGPU* gpu, cudaGraph_t graph, cudaGraphExec_t exec)
      : gpu_(gpu), graph_(graph), exec_(exec) {}
  ~CudaGraphWork() override {
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  void Launch() override {
    gpu_->Activate();
    SINGA_CUDA_CHECK(cudaGraphLaunch(exec_, gpu_->stream()), gpu_->id());
  }

 private:
  const CudaGPU* gpu_;  // devices live as long as the process
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
};
}  // namespace

void CudaGPU::BeginCapture(uint64_t* pool) {
  Activate();
  *pool = alloc_->BeginCapture(stream_, *pool);
  const cudaError_t err = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    alloc_->EndCapture(stream_);
    cuda::ThrowCudaError(err, "cudaStreamBeginCapture", id());
  }
}

std::unique_ptr<CapturedWork> CudaGPU::EndCapture(std::string* why) {
  Activate();
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamEndCapture(stream_, &graph);
  alloc_->EndCapture(stream_);
  if (err != cudaSuccess || graph == nullptr) {
    cudaGetLastError();  // an invalidated capture leaves its error behind
    if (graph != nullptr) cudaGraphDestroy(graph);
    *why = Msg("cudaStreamEndCapture on ", name(), ": ", cudaGetErrorString(err));
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, graph, 0);
  if (err != cudaSuccess) {
    cudaGetLastError();
    cudaGraphDestroy(graph);
    *why = Msg("cudaGraphInstantiate on ", name(), ": ", cudaGetErrorString(err));
    return nullptr;
  }
  return std::make_unique<CudaGraphWork>(this, graph, exec);
}

void CudaGPU::ReleaseCapturePool(uint64_t pool) { alloc_->ReleasePool(pool); }

size_t CudaGPU::cached_bytes() const { return alloc_->cached(); }
void CudaGPU::EmptyCache() { alloc_->EmptyCache(); }
void CudaGPU::SetCacheLimit(size_t bytes) { alloc_->SetCacheLimit(bytes); }
size_t CudaGPU::reserved_bytes() const { return alloc_->reserved(); }

void* CudaGPU::Malloc(size_t size) {
  Activate();
  return alloc_->Malloc(size, stream_);
}

void CudaGPU::Free(void* ptr, size_t) {
  Activate();
  alloc_->Free(ptr);
}

cublasHandle_t CudaGPU::cublas() {
  std::call_once(cublas_once_, [this] {
    Activate();
    cublas_ = cuda::CreateCublasHandle(stream_);
  });
  return cublas_;
}

cudnnHandle_t CudaGPU::cudnn() {
  std::call_once(cudnn_once_, [this] {
    Activate();
    cudnn_ = cuda::CreateCudnnHandle(stream_);
  });
  return cudnn_;
}

}  // namespace singa
