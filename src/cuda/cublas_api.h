// The few cuBLAS entry points singa calls, declared here (cuBLAS's headers come only with
// the nvidia-cublas wheel, which the build does not see) and loaded from libcublas.so.13
// on first use (cuda/dynload.h). Enum values are cuBLAS 13's; the function types match
// the header's declarations exactly: tests/gpu/check_api_decls.sh static_asserts both
// against the real cublas_api.h.
#pragma once

#include <cuda_runtime.h>
#include <library_types.h>  // cudaDataType (CUDA runtime headers)

#include <cstdint>
#include <type_traits>

#include "cuda/lib_types.h"

namespace singa {
namespace cuda {
namespace cublas {

// cublasStatus_t
enum class Status : int {
  kSuccess = 0,
  kNotInitialized = 1,
  kAllocFailed = 3,
  kInvalidValue = 7,
  kArchMismatch = 8,
  kMappingError = 11,
  kExecutionFailed = 13,
  kInternalError = 14,
  kNotSupported = 15,
  kLicenseError = 16,
};
// cublasOperation_t
enum class Operation : int { kN = 0, kT = 1 };
// cublasMath_t (flags may be or-ed: kDefault | kDisallowReducedPrecisionReduction)
enum class Math : int {
  kDefault = 0,
  kPedantic = 2,
  kTF32TensorOp = 3,
  kDisallowReducedPrecisionReduction = 16,
};
// cublasComputeType_t
enum class ComputeType : int { k32F = 68, k32FPedantic = 69, k64F = 70 };
// cublasGemmAlgo_t
enum class GemmAlgo : int { kDefault = -1 };

// X(symbol, function type): every function singa loads.
#define SINGA_CUBLAS_FUNCTIONS(X)                                                        \
  X(cublasCreate_v2, Status(cublasHandle_t*))                                            \
  X(cublasDestroy_v2, Status(cublasHandle_t))                                            \
  X(cublasSetStream_v2, Status(cublasHandle_t, cudaStream_t))                            \
  X(cublasSetMathMode, Status(cublasHandle_t, Math))                                     \
  X(cublasGetStatusString, const char*(Status))                                          \
  X(cublasGemmEx_64,                                                                     \
    Status(cublasHandle_t, Operation, Operation, int64_t, int64_t, int64_t, const void*,   \
           const void*, cudaDataType, int64_t, const void*, cudaDataType, int64_t,         \
           const void*, void*, cudaDataType, int64_t, ComputeType, GemmAlgo))              \
  X(cublasGemmStridedBatchedEx_64,                                                       \
    Status(cublasHandle_t, Operation, Operation, int64_t, int64_t, int64_t, const void*,   \
           const void*, cudaDataType, int64_t, long long int, const void*, cudaDataType,   \
           int64_t, long long int, const void*, void*, cudaDataType, int64_t,              \
           long long int, int64_t, ComputeType, GemmAlgo))

// The loaded library: one function pointer per entry of SINGA_CUBLAS_FUNCTIONS.
struct Api {
#define SINGA_CUBLAS_FIELD(name, ...) std::add_pointer_t<__VA_ARGS__> name = nullptr;
  SINGA_CUBLAS_FUNCTIONS(SINGA_CUBLAS_FIELD)
#undef SINGA_CUBLAS_FIELD
};

// Loads libcublas.so.13 and every symbol once (thread-safe); DeviceError when the
// library or a symbol is missing (naming the wheel, nvidia-cublas).
const Api& Lib();

// Throws DeviceError "<call> failed on cuda:<ordinal>: <cuBLAS's status string> (status
// <n>)<detail>" unless status is kSuccess.
void Check(Status status, const char* call, int ordinal, const char* detail = "");

}  // namespace cublas

// A cuBLAS handle bound to `stream`, in the default math mode (no TF32: float32 GEMMs
// compute in float32) with reduced-precision reductions disallowed, so the 16-bit float
// GEMMs accumulate in float32 throughout. For CudaGPU::cublas(); the calling thread's
// current device is the GPU the handle belongs to.
cublasHandle_t CreateCublasHandle(cudaStream_t stream);
void DestroyCublasHandle(cublasHandle_t handle);

}  // namespace cuda
}  // namespace singa
