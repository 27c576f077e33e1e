#include "cuda/cuda_common.h"

#include "cuda/cuda_device.h"

namespace singa {
namespace cuda {

void ThrowCudaError(cudaError_t err, const char* call, int ordinal) {
  throw DeviceError(Msg(call, " failed on cuda:", ordinal, ": ", cudaGetErrorString(err), " (",
                        cudaGetErrorName(err), ")"));
}

CudaGPU& GpuOf(const Tensor& t, const char* fn) {
  auto* gpu = dynamic_cast<CudaGPU*>(t.device().get());
  if (gpu == nullptr)
    throw DeviceError(Msg(fn, ": the tensor is on device ", t.device()->name(), " (id ",
                          t.device()->id(), "), not on a CUDA GPU"));
  gpu->Activate();
  return *gpu;
}

cudaStream_t StreamOf(const Tensor& t, const char* fn) { return GpuOf(t, fn).stream(); }

void CheckLaunch(const char* kernel, const Tensor& t) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) ThrowCudaError(err, kernel, t.device()->id());
}

}  // namespace cuda
}  // namespace singa
