// The cuDNN 9 entry points singa calls (the legacy convolution API), declared here
// (cuDNN's headers come only with the nvidia-cudnn-cu13 wheel, which the build does not
// see) and loaded from libcudnn.so.9 on first use (cuda/dynload.h). Enum values, the
// algorithm-performance structs and the function types are cuDNN 9's:
// tests/gpu/check_api_decls.sh static_asserts them against the real headers.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <type_traits>

#include "cuda/lib_types.h"

// cuDNN's opaque descriptor types, under their own names (as lib_types.h does the handle).
struct cudnnTensorStruct;
typedef struct cudnnTensorStruct* cudnnTensorDescriptor_t;
struct cudnnFilterStruct;
typedef struct cudnnFilterStruct* cudnnFilterDescriptor_t;
struct cudnnConvolutionStruct;
typedef struct cudnnConvolutionStruct* cudnnConvolutionDescriptor_t;

namespace singa {
namespace cuda {
namespace cudnn {

// cudnnStatus_t (the values singa tells apart; any other passes through as it is)
enum class Status : int {
  kSuccess = 0,
  kBadParam = 2000,
  kNotSupported = 3000,
};
// cudnnDataType_t
enum class DataType : int { kFloat = 0, kDouble = 1, kHalf = 2, kBFloat16 = 9 };
// cudnnTensorFormat_t
enum class TensorFormat : int { kNCHW = 0 };
// cudnnMathType_t
enum class MathType : int {
  kDefault = 0,
  kTensorOp = 1,
  kTensorOpAllowConversion = 2,
  kFMA = 3,
};
// cudnnConvolutionMode_t
enum class ConvolutionMode : int { kConvolution = 0, kCrossCorrelation = 1 };
// cudnnDeterminism_t
enum class Determinism : int { kNonDeterministic = 0, kDeterministic = 1 };
// cudnnConvolutionFwdAlgo_t, cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdFilterAlgo_t:
// singa passes back what the heuristics return.
enum class FwdAlgo : int {};
enum class BwdDataAlgo : int {};
enum class BwdFilterAlgo : int {};

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t
template <typename Algo>
struct AlgoPerf {
  Algo algo;
  Status status;
  float time;
  size_t memory;
  Determinism determinism;
  MathType mathType;
  int reserved[3];
};
using FwdAlgoPerf = AlgoPerf<FwdAlgo>;
using BwdDataAlgoPerf = AlgoPerf<BwdDataAlgo>;
using BwdFilterAlgoPerf = AlgoPerf<BwdFilterAlgo>;

using TensorDesc = cudnnTensorDescriptor_t;
using FilterDesc = cudnnFilterDescriptor_t;
using ConvDesc = cudnnConvolutionDescriptor_t;

// X(symbol, function type): every function singa loads.
#define SINGA_CUDNN_FUNCTIONS(X)                                                          \
  X(cudnnGetVersion, size_t())                                                            \
  X(cudnnGetErrorString, const char*(Status))                                             \
  X(cudnnCreate, Status(cudnnHandle_t*))                                                  \
  X(cudnnDestroy, Status(cudnnHandle_t))                                                  \
  X(cudnnSetStream, Status(cudnnHandle_t, cudaStream_t))                                  \
  X(cudnnCreateTensorDescriptor, Status(TensorDesc*))                                     \
  X(cudnnSetTensor4dDescriptor, Status(TensorDesc, TensorFormat, DataType, int, int, int, int)) \
  X(cudnnDestroyTensorDescriptor, Status(TensorDesc))                                     \
  X(cudnnCreateFilterDescriptor, Status(FilterDesc*))                                     \
  X(cudnnSetFilter4dDescriptor, Status(FilterDesc, DataType, TensorFormat, int, int, int, int)) \
  X(cudnnDestroyFilterDescriptor, Status(FilterDesc))                                     \
  X(cudnnCreateConvolutionDescriptor, Status(ConvDesc*))                                  \
  X(cudnnSetConvolution2dDescriptor,                                                      \
    Status(ConvDesc, int, int, int, int, int, int, ConvolutionMode, DataType))             \
  X(cudnnSetConvolutionGroupCount, Status(ConvDesc, int))                                 \
  X(cudnnSetConvolutionMathType, Status(ConvDesc, MathType))                              \
  X(cudnnDestroyConvolutionDescriptor, Status(ConvDesc))                                  \
  X(cudnnGetConvolutionForwardAlgorithmMaxCount, Status(cudnnHandle_t, int*))             \
  X(cudnnGetConvolutionForwardAlgorithm_v7,                                               \
    Status(cudnnHandle_t, TensorDesc, FilterDesc, ConvDesc, TensorDesc, int, int*,         \
           FwdAlgoPerf*))                                                                 \
  X(cudnnGetConvolutionForwardWorkspaceSize,                                              \
    Status(cudnnHandle_t, TensorDesc, FilterDesc, ConvDesc, TensorDesc, FwdAlgo, size_t*)) \
  X(cudnnConvolutionForward,                                                              \
    Status(cudnnHandle_t, const void*, TensorDesc, const void*, FilterDesc, const void*,   \
           ConvDesc, FwdAlgo, void*, size_t, const void*, TensorDesc, void*))              \
  X(cudnnGetConvolutionBackwardDataAlgorithmMaxCount, Status(cudnnHandle_t, int*))        \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7,                                          \
    Status(cudnnHandle_t, FilterDesc, TensorDesc, ConvDesc, TensorDesc, int, int*,         \
           BwdDataAlgoPerf*))                                                             \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize,                                         \
    Status(cudnnHandle_t, FilterDesc, TensorDesc, ConvDesc, TensorDesc, BwdDataAlgo,       \
           size_t*))                                                                      \
  X(cudnnConvolutionBackwardData,                                                         \
    Status(cudnnHandle_t, const void*, FilterDesc, const void*, TensorDesc, const void*,   \
           ConvDesc, BwdDataAlgo, void*, size_t, const void*, TensorDesc, void*))          \
  X(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, Status(cudnnHandle_t, int*))      \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7,                                        \
    Status(cudnnHandle_t, TensorDesc, TensorDesc, ConvDesc, FilterDesc, int, int*,         \
           BwdFilterAlgoPerf*))                                                           \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize,                                       \
    Status(cudnnHandle_t, TensorDesc, TensorDesc, ConvDesc, FilterDesc, BwdFilterAlgo,     \
           size_t*))                                                                      \
  X(cudnnConvolutionBackwardFilter,                                                       \
    Status(cudnnHandle_t, const void*, TensorDesc, const void*, TensorDesc, const void*,   \
           ConvDesc, BwdFilterAlgo, void*, size_t, const void*, FilterDesc, void*))

// The loaded library: one function pointer per entry of SINGA_CUDNN_FUNCTIONS.
struct Api {
#define SINGA_CUDNN_FIELD(name, ...) std::add_pointer_t<__VA_ARGS__> name = nullptr;
  SINGA_CUDNN_FUNCTIONS(SINGA_CUDNN_FIELD)
#undef SINGA_CUDNN_FIELD
};

// Loads libcudnn.so.9 and every symbol once (thread-safe); DeviceError when the library
// or a symbol is missing (naming the wheel, nvidia-cudnn-cu13), or when the library is
// not cuDNN 9.
const Api& Lib();

// Throws DeviceError "<call> failed on cuda:<ordinal>: <cuDNN's error string> (status
// <n>)<detail>" unless status is kSuccess.
void Check(Status status, const char* call, int ordinal, const char* detail = "");

}  // namespace cudnn

// A cuDNN handle bound to `stream`, for CudaGPU::cudnn(); the calling thread's current
// device is the GPU the handle belongs to.
cudnnHandle_t CreateCudnnHandle(cudaStream_t stream);
void DestroyCudnnHandle(cudnnHandle_t handle);

}  // namespace cuda
}  // namespace singa
