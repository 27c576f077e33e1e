// Loading cuDNN (cuda/cudnn_api.h).
#include "cuda/cudnn_api.h"

#include <mutex>
#include <string>

#include "core/common.h"
#include "cuda/dynload.h"

namespace singa {
namespace cuda {
namespace cudnn {

const Api& Lib() {
  static Api api;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = LoadCudaLibrary("cuDNN", {"libcudnn.so.9"}, "nvidia-cudnn-cu13");
    Api a;
#define SINGA_CUDNN_LOAD(name, ...) a.name = LoadFn<std::add_pointer_t<__VA_ARGS__>>(lib, #name, "cuDNN");
    SINGA_CUDNN_FUNCTIONS(SINGA_CUDNN_LOAD)
#undef SINGA_CUDNN_LOAD
    // The declarations are cuDNN 9's (CUDNN_VERSION = major * 10000 + minor * 100 + patch).
    const size_t version = a.cudnnGetVersion();
    if (version / 10000 != 9)
      throw DeviceError(Msg("cuDNN: libcudnn.so.9 reports version ", version,
                            "; singa needs cuDNN 9 (pip install nvidia-cudnn-cu13)"));
    api = a;  // published only complete: a failure throws and the next call retries
  });
  return api;
}

void Check(Status status, const char* call, int ordinal, const char* detail) {
  if (status == Status::kSuccess) return;
  const char* what = Lib().cudnnGetErrorString(status);
  throw DeviceError(Msg(call, " failed on cuda:", ordinal, ": ", what ? what : "unknown status",
                        " (status ", static_cast<int>(status), ")", detail));
}

}  // namespace cudnn

cudnnHandle_t CreateCudnnHandle(cudaStream_t stream) {
  const cudnn::Api& api = cudnn::Lib();
  int ordinal = -1;
  if (cudaGetDevice(&ordinal) != cudaSuccess) ordinal = -1;
  cudnnHandle_t handle = nullptr;
  cudnn::Check(api.cudnnCreate(&handle), "cudnnCreate", ordinal);
  const cudnn::Status s = api.cudnnSetStream(handle, stream);
  if (s != cudnn::Status::kSuccess) {
    api.cudnnDestroy(handle);
    cudnn::Check(s, "cudnnSetStream", ordinal);
  }
  return handle;
}

void DestroyCudnnHandle(cudnnHandle_t handle) {
  if (!handle) return;
  // From CudaGPU's destructor: nothing may throw, and nobody is left to tell.
  cudnn::Lib().cudnnDestroy(handle);
}

}  // namespace cuda
}  // namespace singa
