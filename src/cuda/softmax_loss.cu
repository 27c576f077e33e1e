// CUDA (log-)softmax, cross-entropy, subtract_at_labels and power_sum of the reduce family
// (math/kernels.h, SINGA_REDUCE_KERNELS), with the semantics of cpu/reduce.cc; reduce.cu
// has the rest of the family and its notes on accumulation and order.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/cuda_kernels.h"
#include "cuda/reduce_util.cuh"
#include "math/functors.h"
#include "math/vecmath.h"

namespace singa {
namespace cuda {
namespace {

using red::AccOf;
using red::CeilDiv;
using red::Grid;
using red::kFewLanes;
using red::Scratch;

// ---- softmax ----

template <typename V, typename Combine>
__device__ __forceinline__ V WarpCombine(V v, Combine combine) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v = combine(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

struct Plus {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a + b; }
};
// The CPU's std::max(mx, v): a NaN element leaves the maximum alone (exp of it then makes
// the lane NaN on both devices).
struct Larger {
  template <typename V>
  __device__ V operator()(V a, V b) const { return a < b ? b : a; }
};

// kW threads per lane (o, i) of a contiguous (outer, C, inner) input (a row when inner
// is 1): 32 (a warp per lane, shuffles) for short lanes, 256 (a block per lane, shared
// memory) for long ones.
template <typename T, int kW>
__global__ void __launch_bounds__(256)
    SoftmaxRows(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  static_assert(kW == 32 || kW == 256, "a warp or a block per row");
  using A = AccOf<T>;  // the exponentials' sum: double
  constexpr int kRowsPerBlock = 256 / kW;
  __shared__ T smx[kW == 256 ? 256 : 1];
  __shared__ A ssum[kW == 256 ? 256 : 1];
  const int lane = static_cast<int>(threadIdx.x) % kW, sub = static_cast<int>(threadIdx.x) / kW;
  const int64_t rows = outer * inner;
  for (int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; row0 < rows;
       row0 += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t row = row0 + sub;
    if (row >= rows) continue;  // uniform per warp (kW 32) or per block (kW 256: sub is 0)
    const int64_t o = row / inner, i = row % inner;
    const T* xr = x + o * C * inner + i;
    T* yr = y + o * C * inner + i;
    T mx = -std::numeric_limits<T>::infinity();
    for (int64_t c = lane; c < C; c += kW) mx = Larger{}(mx, xr[c * inner]);
    if constexpr (kW == 32) mx = WarpCombine(mx, Larger{});
    else mx = red::BlockCombine<256>(mx, smx, Larger{});
    A sum = A(0);
    for (int64_t c = lane; c < C; c += kW) sum += static_cast<A>(Exp(xr[c * inner] - mx));
    if constexpr (kW == 32) sum = WarpCombine(sum, Plus{});
    else sum = red::BlockCombine<256>(sum, ssum, Plus{});
    if (log) {
      const T ls = std::log(static_cast<T>(sum)) + mx;
      for (int64_t c = lane; c < C; c += kW) yr[c * inner] = xr[c * inner] - ls;
    } else {
      const T inv = T(1) / static_cast<T>(sum);
      for (int64_t c = lane; c < C; c += kW) yr[c * inner] = Exp(xr[c * inner] - mx) * inv;
    }
    if constexpr (kW == 256) __syncthreads();  // smx/ssum are rewritten for the next row
  }
}

// One thread per lane (o, i) of (outer, C, inner): coalesced across i when inner > 1
// (when there are lanes enough), and for short lanes (C <= 16).
template <typename T>
__global__ void SoftmaxLanes(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  using A = AccOf<T>;
  const int64_t lanes = outer * inner;
  for (int64_t lane = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; lane < lanes;
       lane += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = lane / inner, i = lane % inner;
    const T* in = x + o * C * inner + i;
    T* out = y + o * C * inner + i;
    T mx = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < C; ++c) mx = Larger{}(mx, in[c * inner]);
    A sum = A(0);
    for (int64_t c = 0; c < C; ++c) sum += static_cast<A>(Exp(in[c * inner] - mx));
    const T ls = std::log(static_cast<T>(sum)) + mx;
    const T s = static_cast<T>(sum);
    for (int64_t c = 0; c < C; ++c)
      out[c * inner] = log ? in[c * inner] - ls : Exp(in[c * inner] - mx) / s;
  }
}

void Softmax(const Tensor& x, size_t ax, bool log, const Tensor& y) {
  const char* fn = log ? "LogSoftMax" : "SoftMax";
  cudaStream_t stream = red::Begin(x, fn);
  const int64_t outer = static_cast<int64_t>(Product(x.shape(), 0, ax));
  const int64_t C = static_cast<int64_t>(x.shape(ax));
  const int64_t inner = static_cast<int64_t>(Product(x.shape(), ax + 1));
  if (outer * C * inner == 0) return;
  SINGA_RED_DISPATCH_FLOAT(x.data_type(), fn, {
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (C <= 16 || (inner > 1 && outer * inner >= kFewLanes))
      SINGA_RED_LAUNCH(BlocksFor(outer * inner), kThreads, stream, SoftmaxLanes<T>)(xp, yp, outer, C,
                                                                                    inner, log);
    else if (C <= 1024)
      SINGA_RED_LAUNCH(Grid(CeilDiv(outer * inner, 8)), 256, stream, SoftmaxRows<T, 32>)(
          xp, yp, outer, C, inner, log);
    else
      SINGA_RED_LAUNCH(Grid(outer * inner), 256, stream, SoftmaxRows<T, 256>)(xp, yp, outer, C,
                                                                              inner, log);
    CheckLaunch(fn, x);
  });
}

// ---- cross-entropy ----

template <typename T>
__global__ void CrossEntropyLabels(const T* p, const int32_t* labels, T* loss, int64_t N, int64_t C) {
  const T tiny = std::numeric_limits<T>::min();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < N;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T v = p[i * C + labels[i]];
    loss[i] = -std::log(v > tiny ? v : tiny);
  }
}

// A warp per row: -sum over the classes with a non-zero target of t * log(max(p, tiny)).
template <typename T>
__global__ void __launch_bounds__(256)
    CrossEntropySoft(const T* p, const T* t, T* loss, int64_t N, int64_t C) {
  using A = AccOf<T>;
  const T tiny = std::numeric_limits<T>::min();
  const int lane = static_cast<int>(threadIdx.x) % 32;
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < N;
       row += static_cast<int64_t>(gridDim.x) * blockDim.x / 32) {
    A s = A(0);
    for (int64_t c = lane; c < C; c += 32) {
      const T tv = t[row * C + c];
      if (tv != T(0)) {
        const T pv = p[row * C + c];
        s -= static_cast<A>(tv * std::log(pv > tiny ? pv : tiny));
      }
    }
    s = WarpCombine(s, Plus{});
    if (lane == 0) loss[row] = static_cast<T>(s);
  }
}

void CrossEntropy(const Tensor& p, const Tensor& target, bool index_labels, const Tensor& loss) {
  const char* fn = "CrossEntropyFwd";
  cudaStream_t stream = red::Begin(p, fn);
  const int64_t N = static_cast<int64_t>(p.shape(0)), C = static_cast<int64_t>(p.shape(1));
  if (N == 0) return;
  SINGA_RED_DISPATCH_FLOAT(p.data_type(), fn, {
    if (index_labels)
      SINGA_RED_LAUNCH(BlocksFor(N), kThreads, stream, CrossEntropyLabels<T>)(
          p.data<T>(), target.data<int32_t>(), loss.data<T>(), N, C);
    else
      SINGA_RED_LAUNCH(Grid(CeilDiv(N, 8)), 256, stream, CrossEntropySoft<T>)(p.data<T>(), target.data<T>(),
                                                                   loss.data<T>(), N, C);
    CheckLaunch(fn, p);
  });
}

template <typename T>
__global__ void SubtractAtLabels(T* g, const int32_t* labels, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < N;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    g[i * C + labels[i]] -= T(1);
}

void SubtractAtLabelsEntry(const Tensor& g, const Tensor& labels) {
  const char* fn = "SoftmaxCrossEntropyBwd";
  cudaStream_t stream = red::Begin(g, fn);
  const int64_t N = static_cast<int64_t>(g.shape(0)), C = static_cast<int64_t>(g.shape(1));
  if (N == 0) return;
  SINGA_RED_DISPATCH_FLOAT(g.data_type(), fn, {
    SINGA_RED_LAUNCH(BlocksFor(N), kThreads, stream, SubtractAtLabels<T>)(g.data<T>(),
                                                                          labels.data<int32_t>(), N, C);
    CheckLaunch(fn, g);
  });
}

// ---- power_sum ----

// How a stored element becomes a double: a plain conversion, IEEE half bits, bfloat16
// bits, or a bool byte.
enum class Stored { kPlain, kHalf, kBFloat16, kBool };

template <Stored kKind, typename S>
__device__ __forceinline__ double ToDouble(S v) {
  if constexpr (kKind == Stored::kHalf) {
    return static_cast<double>(__half2float(__ushort_as_half(static_cast<unsigned short>(v))));
  } else if constexpr (kKind == Stored::kBFloat16) {
    return static_cast<double>(__uint_as_float(static_cast<unsigned>(v) << 16));
  } else if constexpr (kKind == Stored::kBool) {
    return v != 0 ? 1.0 : 0.0;
  } else {
    return static_cast<double>(v);
  }
}

constexpr int kSumThreads = 256;
constexpr int64_t kSumMaxBlocks = 1024;

// Stage 1: block b sums |v|^power of the flat positions b * 256 + t + k * gridDim * 256 in
// double; the number of blocks depends on the element count alone, so the order does too.
template <Stored kKind, typename S>
__global__ void __launch_bounds__(kSumThreads)
    PowerSumPart(const S* p, red::Dims dims, int64_t n, int power, double* part) {
  __shared__ double sm[kSumThreads];
  double acc = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kSumThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kSumThreads + threadIdx.x; i < n; i += step) {
    const int64_t off = dims.nd == 1 ? i * dims.stride[0] : dims.Offset(i);
    const double v = ToDouble<kKind>(p[off]);
    acc += power == 1 ? fabs(v) : v * v;
  }
  const double total = red::BlockCombine<kSumThreads>(acc, sm, Plus{});
  if (threadIdx.x == 0) part[blockIdx.x] = total;
}

// Stage 2: one block adds the partials in a fixed order.
__global__ void __launch_bounds__(kSumThreads) SumParts(const double* part, int64_t n, double* out) {
  __shared__ double sm[kSumThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += kSumThreads) acc += part[i];
  const double total = red::BlockCombine<kSumThreads>(acc, sm, Plus{});
  if (threadIdx.x == 0) *out = total;
}

template <Stored kKind, typename S>
double PowerSumOf(const Tensor& t, int power, cudaStream_t stream, const char* fn) {
  const int64_t n = static_cast<int64_t>(t.Size());
  if (n == 0) return 0;
  const red::Dims dims = red::MergedDims(t.shape(), t.stride(), fn);
  const int64_t blocks = std::min(CeilDiv(n, int64_t{kSumThreads} * 16), kSumMaxBlocks);
  Scratch<double> part(t, static_cast<size_t>(blocks + 1), fn);
  SINGA_RED_LAUNCH(static_cast<unsigned>(blocks), kSumThreads, stream, PowerSumPart<kKind, S>)(
      static_cast<const S*>(t.raw()), dims, n, power, part.ptr);
  CheckLaunch(fn, t);
  SINGA_RED_LAUNCH(1, kSumThreads, stream, SumParts)(part.ptr, blocks, part.ptr + blocks);
  CheckLaunch(fn, t);
  double result = 0;
  const int ordinal = GpuOf(t, fn).ordinal();
  SINGA_CUDA_CHECK(cudaMemcpyAsync(&result, part.ptr + blocks, sizeof(double),
                                   cudaMemcpyDeviceToHost, stream), ordinal);
  SINGA_CUDA_CHECK(cudaStreamSynchronize(stream), ordinal);
  return result;
}

double PowerSum(const Tensor& t, int power) {
  const char* fn = power == 1 ? "L1" : "L2";
  cudaStream_t stream = red::Begin(t, fn);
  switch (t.data_type()) {
    case kFloat32: return PowerSumOf<Stored::kPlain, float>(t, power, stream, fn);
    case kDouble: return PowerSumOf<Stored::kPlain, double>(t, power, stream, fn);
    case kInt: return PowerSumOf<Stored::kPlain, int32_t>(t, power, stream, fn);
    case kInt64: return PowerSumOf<Stored::kPlain, int64_t>(t, power, stream, fn);
    case kChar: return PowerSumOf<Stored::kPlain, int8_t>(t, power, stream, fn);
    case kUChar: return PowerSumOf<Stored::kPlain, uint8_t>(t, power, stream, fn);
    case kBool: return PowerSumOf<Stored::kBool, uint8_t>(t, power, stream, fn);
    case kFloat16: return PowerSumOf<Stored::kHalf, uint16_t>(t, power, stream, fn);
    case kBFloat16: return PowerSumOf<Stored::kBFloat16, uint16_t>(t, power, stream, fn);
  }
  throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(t.data_type())));
}

}  // namespace

void FillSoftmaxAndLoss(ReduceKernels& k) {
  k.softmax = Softmax;
  k.cross_entropy = CrossEntropy;
  k.subtract_at_labels = SubtractAtLabelsEntry;
  k.power_sum = PowerSum;
}

}  // namespace cuda
}  // namespace singa
