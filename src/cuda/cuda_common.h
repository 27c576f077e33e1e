// What every CUDA source shares: errors that raise DeviceError naming the failed call and
// the device, the GPU and stream a tensor's kernels run on, and launch geometry.
// Included by .cu files (nvcc) and by the host-only .cc files of src/cuda (g++).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/tensor.h"

namespace singa {

class CudaGPU;

namespace cuda {

// Throws DeviceError: "<call> failed on cuda:<ordinal>: <CUDA's error string> (<name>)".
[[noreturn]] void ThrowCudaError(cudaError_t err, const char* call, int ordinal);

// The CUDA device a tensor lives on; DeviceError naming `fn` when it is not on one.
CudaGPU& GpuOf(const Tensor& t, const char* fn);
// The stream of that device: every kernel of the device runs on it, in call order.
cudaStream_t StreamOf(const Tensor& t, const char* fn);

// Checks the last launch on the device of `t` (an invalid configuration, a kernel image
// missing for this GPU's architecture) right after it, so the error names the kernel.
void CheckLaunch(const char* kernel, const Tensor& t);

// Threads per block of the element-wise kernels, and the blocks for n elements with a
// grid-stride loop (at most kMaxBlocks: the loop covers the rest, so n may exceed 2^31).
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;
inline unsigned BlocksFor(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, kMaxBlocks)));
}

}  // namespace cuda
}  // namespace singa

// SINGA_CUDA_CHECK(cudaMemcpyAsync(...), ordinal): throws through ThrowCudaError.
#define SINGA_CUDA_CHECK(call, ordinal)                                          \
  do {                                                                          \
    const cudaError_t singa_cuda_err_ = (call);                                 \
    if (singa_cuda_err_ != cudaSuccess)                                         \
      ::singa::cuda::ThrowCudaError(singa_cuda_err_, #call, (ordinal));         \
  } while (0)
