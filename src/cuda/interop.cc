// The CUDA side of DLPack and __cuda_array_interface__ (cuda/interop.h): stream
// handshakes with events, and the device of a foreign pointer. Host code only (g++).
#include "cuda/interop.h"

#include <cuda_runtime.h>

#include "core/common.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"

namespace singa {
namespace cuda {

namespace {

CudaGPU& Gpu(Device& dev, const char* fn) {
  auto* gpu = dynamic_cast<CudaGPU*>(&dev);
  if (gpu == nullptr)
    throw DeviceError(Msg(fn, ": ", dev.name(), " (id ", dev.id(), ") is not a CUDA device"));
  return *gpu;
}

// A protocol's stream integer as a stream. The callers have rejected 0 and -1 already.
cudaStream_t ToStream(int64_t handle, const char* fn) {
  if (handle == 1) return cudaStreamLegacy;
  if (handle == 2) return cudaStreamPerThread;
  if (handle <= 0)
    throw ValueError(Msg(fn, ": ", handle, " is not a CUDA stream (1: the legacy default "
                         "stream, 2: the per-thread default stream, else a cudaStream_t)"));
  return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(handle));
}

// Makes the GPU the calling thread's current device for the scope, then gives the caller
// its own back: these calls run inside other libraries' code (CuPy, PyTorch), whose
// current device must not change under them.
class CurrentDevice {
 public:
  explicit CurrentDevice(const CudaGPU& gpu) : ordinal_(gpu.ordinal()) {
    SINGA_CUDA_CHECK(cudaGetDevice(&previous_), ordinal_);
    if (previous_ != ordinal_) gpu.Activate();
  }
  ~CurrentDevice() {
    if (previous_ != ordinal_) cudaSetDevice(previous_);  // nothing to report from a destructor
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int ordinal_;
  int previous_ = 0;
};

// A stream of this GPU that is capturing a CUDA graph cannot be ordered against a stream
// outside the capture (the wait would join the capture, or invalidate it).
void CheckNotCapturing(const CudaGPU& gpu, const char* fn) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SINGA_CUDA_CHECK(cudaStreamIsCapturing(gpu.stream(), &status), gpu.ordinal());
  if (status != cudaStreamCaptureStatusNone)
    throw DeviceError(Msg(fn, ": the stream of ", gpu.name(), " is capturing a CUDA graph; "
                          "exchange tensors with other libraries outside graph capture"));
}

// Everything queued on `from` so far happens before what is queued on `to` from now on:
// an event recorded on `from` that `to` waits for. The host does not wait. The event is
// destroyed at once: CUDA releases it after the wait is satisfied, and the wait refers to
// the work recorded here whatever happens to the event later.
void Order(cudaStream_t from, cudaStream_t to, int ordinal) {
  cudaEvent_t event = nullptr;
  SINGA_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), ordinal);
  cudaError_t err = cudaEventRecord(event, from);
  const char* call = "cudaEventRecord(event, stream)";
  if (err == cudaSuccess) {
    err = cudaStreamWaitEvent(to, event, 0);
    call = "cudaStreamWaitEvent(stream, event, 0)";
  }
  cudaEventDestroy(event);
  if (err != cudaSuccess) ThrowCudaError(err, call, ordinal);
}

}  // namespace

int64_t StreamHandle(Device& dev) {
  const CudaGPU& gpu = Gpu(dev, "StreamHandle");
  const cudaStream_t s = gpu.stream();
  // The null stream is the legacy default stream (singa is not compiled with
  // --default-stream per-thread).
  if (s == nullptr || s == cudaStreamLegacy) return 1;
  if (s == cudaStreamPerThread) return 2;
  return static_cast<int64_t>(reinterpret_cast<uintptr_t>(s));
}

void StreamWaitsForDevice(int64_t consumer_stream, Device& dev, const Block* block) {
  CudaGPU& gpu = Gpu(dev, "__dlpack__");
  const cudaStream_t consumer = ToStream(consumer_stream, "__dlpack__");
  if (consumer == gpu.stream()) return;  // one stream: already in order
  CurrentDevice current(gpu);
  CheckNotCapturing(gpu, "__dlpack__");
  Order(gpu.stream(), consumer, gpu.ordinal());
  // Borrowed memory is not the allocator's to hand out.
  if (block != nullptr && !block->borrowed() && block->data() != nullptr)
    gpu.RecordStream(block->data(), consumer);
}

void DeviceWaitsForStream(Device& dev, int64_t producer_stream) {
  const CudaGPU& gpu = Gpu(dev, "from_dlpack");
  const cudaStream_t producer = ToStream(producer_stream, "from_dlpack");
  if (producer == gpu.stream()) return;
  CurrentDevice current(gpu);
  CheckNotCapturing(gpu, "from_dlpack");
  Order(producer, gpu.stream(), gpu.ordinal());
}

int PointerDevice(uintptr_t ptr) {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(ptr));
  if (err != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it so the next CUDA call does not report it
    ThrowCudaError(err, "cudaPointerGetAttributes(ptr)", -1);
  }
  if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) return attr.device;
  throw DeviceError(Msg("the pointer 0x", std::hex, ptr,
                        " is not CUDA device memory (",
                        attr.type == cudaMemoryTypeHost ? "pinned host memory" : "host memory",
                        "); pass host arrays through __dlpack__ or the buffer protocol"));
}

}  // namespace cuda
}  // namespace singa
