#!/usr/bin/env bash
# Checks singa's own declarations of cuBLAS and cuDNN (src/cuda/cublas_api.h,
# src/cuda/cudnn_api.h) against the libraries' real headers: compiles one translation
# unit that includes both and static_asserts that every function-pointer type singa loads
# equals decltype(&realFunction) (with singa's enums mapped to the real ones), that every
# enum value singa uses equals the header's, and that the algorithm-performance structs
# have the real layout. Then checks that each symbol is exported by the real library,
# and loads both libraries through singa's loaders (cublas::Lib(), cudnn::Lib()) with a
# plain dlopen stand-in for cuda/dynload.cc; where no GPU is usable, making a handle must
# raise DeviceError naming the call and the library's status string. Needs no GPU.
#
#   tests/gpu/check_api_decls.sh ROOT
#
# ROOT holds nvidia/cu13/{include,lib} and nvidia/cudnn/{include,lib}: the folder the
# nvidia-* wheels install into (site-packages), or the wheels unpacked. The headers are
# only read, never copied into the tree.
set -euo pipefail
root="${1:?usage: $0 ROOT (the folder holding nvidia/cu13 and nvidia/cudnn)}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
cxx="${CXX:-g++}"
cuda_inc="${CUDA_INCLUDE:-/usr/local/cuda/include}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/check.cc" <<'CC'
#include <cublas_api.h>
#include <cudnn.h>

#include <cstddef>
#include <type_traits>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

namespace cb = singa::cuda::cublas;
namespace dn = singa::cuda::cudnn;

// Real<T>: T with singa's enums and structs replaced by the library's own types.
template <typename T> struct Real { using type = T; };
template <typename T> using RealT = typename Real<T>::type;
template <typename T> struct Real<T*> { using type = RealT<T>*; };
template <typename T> struct Real<const T> { using type = const RealT<T>; };
template <typename R, typename... A> struct Real<R(A...)> { using type = RealT<R>(RealT<A>...); };
#define MAP(ours, theirs) template <> struct Real<ours> { using type = theirs; };
MAP(cb::Status, cublasStatus_t)
MAP(cb::Operation, cublasOperation_t)
MAP(cb::Math, cublasMath_t)
MAP(cb::ComputeType, cublasComputeType_t)
MAP(cb::GemmAlgo, cublasGemmAlgo_t)
MAP(dn::Status, cudnnStatus_t)
MAP(dn::DataType, cudnnDataType_t)
MAP(dn::TensorFormat, cudnnTensorFormat_t)
MAP(dn::MathType, cudnnMathType_t)
MAP(dn::ConvolutionMode, cudnnConvolutionMode_t)
MAP(dn::Determinism, cudnnDeterminism_t)
MAP(dn::FwdAlgo, cudnnConvolutionFwdAlgo_t)
MAP(dn::BwdDataAlgo, cudnnConvolutionBwdDataAlgo_t)
MAP(dn::BwdFilterAlgo, cudnnConvolutionBwdFilterAlgo_t)
MAP(dn::FwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
MAP(dn::BwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
MAP(dn::BwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)
#undef MAP

// Each mapped enum has the real one's size (so it passes the same way).
#define SAME_SIZE(ours, theirs) static_assert(sizeof(ours) == sizeof(theirs), #ours " size");
SAME_SIZE(cb::Status, cublasStatus_t)
SAME_SIZE(cb::Operation, cublasOperation_t)
SAME_SIZE(cb::Math, cublasMath_t)
SAME_SIZE(cb::ComputeType, cublasComputeType_t)
SAME_SIZE(cb::GemmAlgo, cublasGemmAlgo_t)
SAME_SIZE(dn::Status, cudnnStatus_t)
SAME_SIZE(dn::DataType, cudnnDataType_t)
SAME_SIZE(dn::TensorFormat, cudnnTensorFormat_t)
SAME_SIZE(dn::MathType, cudnnMathType_t)
SAME_SIZE(dn::ConvolutionMode, cudnnConvolutionMode_t)
SAME_SIZE(dn::Determinism, cudnnDeterminism_t)
SAME_SIZE(dn::FwdAlgo, cudnnConvolutionFwdAlgo_t)
SAME_SIZE(dn::BwdDataAlgo, cudnnConvolutionBwdDataAlgo_t)
SAME_SIZE(dn::BwdFilterAlgo, cudnnConvolutionBwdFilterAlgo_t)
#undef SAME_SIZE

// Every function's type.
#define CHECK_FN(name, ...)                                                              \
  static_assert(std::is_same_v<RealT<std::add_pointer_t<__VA_ARGS__>>, decltype(&::name)>, \
                #name ": singa's declaration differs from the header's");
namespace singa::cuda::cublas { SINGA_CUBLAS_FUNCTIONS(CHECK_FN) }
namespace singa::cuda::cudnn { SINGA_CUDNN_FUNCTIONS(CHECK_FN) }
#undef CHECK_FN

// Every enum value.
#define CHECK_VAL(ours, theirs) \
  static_assert(static_cast<long long>(ours) == static_cast<long long>(theirs), #ours " != " #theirs);
CHECK_VAL(cb::Status::kSuccess, CUBLAS_STATUS_SUCCESS)
CHECK_VAL(cb::Status::kNotInitialized, CUBLAS_STATUS_NOT_INITIALIZED)
CHECK_VAL(cb::Status::kAllocFailed, CUBLAS_STATUS_ALLOC_FAILED)
CHECK_VAL(cb::Status::kInvalidValue, CUBLAS_STATUS_INVALID_VALUE)
CHECK_VAL(cb::Status::kArchMismatch, CUBLAS_STATUS_ARCH_MISMATCH)
CHECK_VAL(cb::Status::kMappingError, CUBLAS_STATUS_MAPPING_ERROR)
CHECK_VAL(cb::Status::kExecutionFailed, CUBLAS_STATUS_EXECUTION_FAILED)
CHECK_VAL(cb::Status::kInternalError, CUBLAS_STATUS_INTERNAL_ERROR)
CHECK_VAL(cb::Status::kNotSupported, CUBLAS_STATUS_NOT_SUPPORTED)
CHECK_VAL(cb::Status::kLicenseError, CUBLAS_STATUS_LICENSE_ERROR)
CHECK_VAL(cb::Operation::kN, CUBLAS_OP_N)
CHECK_VAL(cb::Operation::kT, CUBLAS_OP_T)
CHECK_VAL(cb::Math::kDefault, CUBLAS_DEFAULT_MATH)
CHECK_VAL(cb::Math::kPedantic, CUBLAS_PEDANTIC_MATH)
CHECK_VAL(cb::Math::kTF32TensorOp, CUBLAS_TF32_TENSOR_OP_MATH)
CHECK_VAL(cb::Math::kDisallowReducedPrecisionReduction, CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)
CHECK_VAL(cb::ComputeType::k32F, CUBLAS_COMPUTE_32F)
CHECK_VAL(cb::ComputeType::k32FPedantic, CUBLAS_COMPUTE_32F_PEDANTIC)
CHECK_VAL(cb::ComputeType::k64F, CUBLAS_COMPUTE_64F)
CHECK_VAL(cb::GemmAlgo::kDefault, CUBLAS_GEMM_DEFAULT)
CHECK_VAL(dn::Status::kSuccess, CUDNN_STATUS_SUCCESS)
CHECK_VAL(dn::Status::kBadParam, CUDNN_STATUS_BAD_PARAM)
CHECK_VAL(dn::Status::kNotSupported, CUDNN_STATUS_NOT_SUPPORTED)
CHECK_VAL(dn::DataType::kFloat, CUDNN_DATA_FLOAT)
CHECK_VAL(dn::DataType::kDouble, CUDNN_DATA_DOUBLE)
CHECK_VAL(dn::DataType::kHalf, CUDNN_DATA_HALF)
CHECK_VAL(dn::DataType::kBFloat16, CUDNN_DATA_BFLOAT16)
CHECK_VAL(dn::TensorFormat::kNCHW, CUDNN_TENSOR_NCHW)
CHECK_VAL(dn::MathType::kDefault, CUDNN_DEFAULT_MATH)
CHECK_VAL(dn::MathType::kTensorOp, CUDNN_TENSOR_OP_MATH)
CHECK_VAL(dn::MathType::kTensorOpAllowConversion, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
CHECK_VAL(dn::MathType::kFMA, CUDNN_FMA_MATH)
CHECK_VAL(dn::ConvolutionMode::kConvolution, CUDNN_CONVOLUTION)
CHECK_VAL(dn::ConvolutionMode::kCrossCorrelation, CUDNN_CROSS_CORRELATION)
CHECK_VAL(dn::Determinism::kNonDeterministic, CUDNN_NON_DETERMINISTIC)
CHECK_VAL(dn::Determinism::kDeterministic, CUDNN_DETERMINISTIC)
CHECK_VAL(CUDNN_MAJOR, 9)
#undef CHECK_VAL

// The performance structs, field by field.
#define CHECK_PERF(ours, theirs)                                                            \
  static_assert(sizeof(ours) == sizeof(theirs) && alignof(ours) == alignof(theirs), #ours); \
  static_assert(offsetof(ours, algo) == offsetof(theirs, algo), #ours ".algo");            \
  static_assert(offsetof(ours, status) == offsetof(theirs, status), #ours ".status");      \
  static_assert(offsetof(ours, time) == offsetof(theirs, time), #ours ".time");            \
  static_assert(offsetof(ours, memory) == offsetof(theirs, memory), #ours ".memory");      \
  static_assert(offsetof(ours, determinism) == offsetof(theirs, determinism), #ours ".det"); \
  static_assert(offsetof(ours, mathType) == offsetof(theirs, mathType), #ours ".mathType"); \
  static_assert(offsetof(ours, reserved) == offsetof(theirs, reserved), #ours ".reserved"); \
  static_assert(std::is_same_v<decltype(ours::time), decltype(theirs::time)>, #ours);       \
  static_assert(std::is_same_v<decltype(ours::memory), decltype(theirs::memory)>, #ours);   \
  static_assert(std::is_same_v<decltype(ours::reserved), decltype(theirs::reserved)>, #ours);
CHECK_PERF(dn::FwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
CHECK_PERF(dn::BwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
CHECK_PERF(dn::BwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)
#undef CHECK_PERF

// The names of the symbols, one a line, for the export check below.
#define NAME(name, ...) #name "\n"
extern const char kCublasNames[] = SINGA_CUBLAS_FUNCTIONS(NAME);
extern const char kCudnnNames[] = SINGA_CUDNN_FUNCTIONS(NAME);
#undef NAME
CC

# -include of the real cuda_runtime first: the wheel's cu13/include has its own copy.
"$cxx" -std=c++17 -Wall -Wextra -Werror -Wno-deprecated-declarations -fsyntax-only \
  -I "$here/src" -I "$root/nvidia/cu13/include" -I "$root/nvidia/cudnn/include" -I "$cuda_inc" \
  "$tmp/check.cc"
echo "declarations: every function type, enum value and struct layout matches the headers"

# Each symbol exported by the libraries singa dlopens.
fail=0
check_syms() {  # library, then the names
  local lib="$1"; shift
  local exported
  exported="$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//')"
  for s in "$@"; do
    if ! grep -qx "$s" <<<"$exported"; then echo "missing in $lib: $s"; fail=1; fi
  done
}
names() {  # the X-macro list of a header -> symbol names
  grep -o "X($1[A-Za-z0-9_]*" "$here/src/cuda/$2" | sed 's/^X(//'
}
check_syms "$root/nvidia/cu13/lib/libcublas.so.13" $(names cublas cublas_api.h)
check_syms "$root/nvidia/cudnn/lib/libcudnn.so.9" $(names cudnn cudnn_api.h)
[ "$fail" = 0 ] && echo "symbols: all $(names cublas cublas_api.h | wc -l) cuBLAS and $(names cudnn cudnn_api.h | wc -l) cuDNN symbols are exported"
[ "$fail" = 0 ] || exit 1

# Load the libraries through singa's loaders (cublas::Lib(), cudnn::Lib(): every symbol
# resolved by dlsym, cuDNN's version checked) with a plain dlopen stand-in for
# cuda/dynload.cc, and make a handle of each: without a GPU that must raise DeviceError
# naming the call and the library's status string. Needs no GPU.
cuda_lib="${CUDA_LIB:-$(dirname "$cuda_inc")/lib64}"
cat > "$tmp/dynload_stub.cc" <<'CC'
#include <dlfcn.h>
#include <string>
#include <vector>
#include "core/common.h"
#include "cuda/dynload.h"
namespace singa {
namespace cuda {
static std::vector<std::string> dirs;
void SetCudaLibraryDirs(const std::vector<std::string>& d) { dirs = d; }
std::vector<std::string> CudaLibraryDirs() { return dirs; }
void* LoadCudaLibrary(const char* what, const std::vector<std::string>& sonames, const char* wheel) {
  for (const auto& dir : dirs)
    for (const auto& so : sonames)
      if (void* h = dlopen((dir + "/" + so).c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  throw DeviceError(Msg(what, ": no ", sonames[0], " (", wheel, ")"));
}
void* CudaSymbol(void* lib, const char* symbol, const char* what) {
  if (void* p = dlsym(lib, symbol)) return p;
  throw DeviceError(Msg(what, ": missing ", symbol));
}
}  // namespace cuda
}  // namespace singa
CC
cat > "$tmp/load.cc" <<'CC'
#include <cstdio>
#include <string>
#include "core/common.h"
#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"
#include "cuda/dynload.h"
int main(int, char** argv) {
  using namespace singa;
  cuda::SetCudaLibraryDirs({std::string(argv[1]) + "/nvidia/cu13/lib",
                            std::string(argv[1]) + "/nvidia/cudnn/lib"});
  const auto& b = cuda::cublas::Lib();
  const auto& d = cuda::cudnn::Lib();
  std::printf("load: cuBLAS and cuDNN %zu loaded, every symbol resolved\n", d.cudnnGetVersion());
  if (!b.cublasGetStatusString(cuda::cublas::Status::kInvalidValue)) return 1;
  int made = 0;
  try {
    cuda::DestroyCublasHandle(cuda::CreateCublasHandle(nullptr));
    ++made;
  } catch (const DeviceError& e) {
    std::printf("load: no GPU here: %s\n", e.what());
  }
  try {
    cuda::DestroyCudnnHandle(cuda::CreateCudnnHandle(nullptr));
    ++made;
  } catch (const DeviceError& e) {
    std::printf("load: no GPU here: %s\n", e.what());
  }
  if (made) std::printf("load: %d handle(s) made on the current GPU\n", made);
  return 0;
}
CC
"$cxx" -std=c++17 -O1 -Wall -Wextra -I "$here/src" -I "$cuda_inc" "$tmp/load.cc" "$tmp/dynload_stub.cc" \
  "$here/src/cuda/cublas_api.cc" "$here/src/cuda/cudnn_api.cc" "$cuda_lib/libcudart_static.a" \
  -ldl -lrt -lpthread -o "$tmp/load"
"$tmp/load" "$root"
