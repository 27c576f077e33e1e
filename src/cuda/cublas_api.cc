// Loading cuBLAS (cuda/cublas_api.h).
#include "cuda/cublas_api.h"

#include <mutex>
#include <string>

#include "core/common.h"
#include "cuda/dynload.h"

namespace singa {
namespace cuda {
namespace cublas {

const Api& Lib() {
  static Api api;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = LoadCudaLibrary("cuBLAS", {"libcublas.so.13"}, "nvidia-cublas");
    Api a;
#define SINGA_CUBLAS_LOAD(name, ...) a.name = LoadFn<std::add_pointer_t<__VA_ARGS__>>(lib, #name, "cuBLAS");
    SINGA_CUBLAS_FUNCTIONS(SINGA_CUBLAS_LOAD)
#undef SINGA_CUBLAS_LOAD
    api = a;  // published only complete: a missing symbol throws and the next call retries
  });
  return api;
}

void Check(Status status, const char* call, int ordinal, const char* detail) {
  if (status == Status::kSuccess) return;
  // Lib() is loaded: a status comes from one of its functions.
  const char* what = Lib().cublasGetStatusString(status);
  throw DeviceError(Msg(call, " failed on cuda:", ordinal, ": ", what ? what : "unknown status",
                        " (status ", static_cast<int>(status), ")", detail));
}

}  // namespace cublas

namespace {

int CurrentOrdinal() {
  int dev = -1;
  if (cudaGetDevice(&dev) != cudaSuccess) return -1;
  return dev;
}

}  // namespace

cublasHandle_t CreateCublasHandle(cudaStream_t stream) {
  const cublas::Api& api = cublas::Lib();
  const int ordinal = CurrentOrdinal();
  cublasHandle_t handle = nullptr;
  cublas::Check(api.cublasCreate_v2(&handle), "cublasCreate", ordinal);
  try {
    cublas::Check(api.cublasSetStream_v2(handle, stream), "cublasSetStream", ordinal);
    const auto mode = static_cast<cublas::Math>(
        static_cast<int>(cublas::Math::kDefault) |
        static_cast<int>(cublas::Math::kDisallowReducedPrecisionReduction));
    cublas::Check(api.cublasSetMathMode(handle, mode), "cublasSetMathMode", ordinal);
  } catch (...) {
    api.cublasDestroy_v2(handle);
    throw;
  }
  return handle;
}

void DestroyCublasHandle(cublasHandle_t handle) {
  if (!handle) return;
  // Called from CudaGPU's destructor: no exception may leave it, and a failure to
  // destroy a handle at exit has no one to report to.
  cublas::Lib().cublasDestroy_v2(handle);
}

}  // namespace cuda
}  // namespace singa
