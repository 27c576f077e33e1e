// What the reduction (reduce.cu) and index (shape.cu) kernels share: dtype dispatch,
// the entry prologue (the tensor's GPU made current, its stream), scratch memory on the
// device, the strided-offset helper of power_sum and a fixed-order block reduction.
// Device code only under nvcc; included by .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/common.h"
#include "core/device.h"
#include "core/tensor.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"

// SINGA_RED_LAUNCH(grid, block, stream, kernel)(args...): kernel<<<grid, block, 0,
// stream>>>(args...). A macro so that tests/gpu/emu/ can compile these files with a host
// compiler and run the kernels on emulated threads (it defines the macro first).
#ifndef SINGA_RED_LAUNCH
#define SINGA_RED_LAUNCH(grid, block, stream, ...) __VA_ARGS__<<<(grid), (block), 0, (stream)>>>
#endif

namespace singa {
namespace cuda {
namespace red {

#define SINGA_RED_CASE(code, type, ...) \
  case code: {                          \
    using T = type;                     \
    __VA_ARGS__;                        \
    break;                              \
  }

// float32, float64, int32, int64 (the arithmetic kernel dtypes of math/kernels.h).
#define SINGA_RED_DISPATCH_ARITH(dt, fn, ...)                                 \
  switch (dt) {                                                               \
    SINGA_RED_CASE(::singa::kFloat32, float, __VA_ARGS__)                     \
    SINGA_RED_CASE(::singa::kDouble, double, __VA_ARGS__)                     \
    SINGA_RED_CASE(::singa::kInt, int32_t, __VA_ARGS__)                       \
    SINGA_RED_CASE(::singa::kInt64, int64_t, __VA_ARGS__)                     \
    default:                                                                  \
      throw ::singa::TypeError(::singa::Msg(fn, ": unsupported dtype ",       \
                                            ::singa::DataTypeName(dt)));      \
  }

#define SINGA_RED_DISPATCH_FLOAT(dt, fn, ...)                                 \
  switch (dt) {                                                               \
    SINGA_RED_CASE(::singa::kFloat32, float, __VA_ARGS__)                     \
    SINGA_RED_CASE(::singa::kDouble, double, __VA_ARGS__)                     \
    default:                                                                  \
      throw ::singa::TypeError(::singa::Msg(fn, ": expects float32 or float64, got ", \
                                            ::singa::DataTypeName(dt)));      \
  }

// The GPU of `t` made the calling thread's current device; its stream.
inline cudaStream_t Begin(const Tensor& t, const char* fn) {
  GpuOf(t, fn).Activate();
  return StreamOf(t, fn);
}

// Device scratch memory of `count` elements of V from the tensor's device (its caching
// allocator): a block freed after the launches that use it is reused only by later work
// on the same stream, so it may be dropped as soon as they are queued.
template <typename V>
struct Scratch {
  std::shared_ptr<Block> block;
  V* ptr = nullptr;
  Scratch() = default;
  Scratch(const Tensor& t, size_t count, const char* fn) {
    if (count == 0) return;
    block = GpuOf(t, fn).NewBlock(count * sizeof(V));
    ptr = static_cast<V*>(block->data());
  }
};

// Shape and element strides of up to kMaxDims axes, by value in a kernel argument.
constexpr int kMaxDims = 16;
struct Dims {
  int nd = 0;
  int64_t size[kMaxDims];
  int64_t stride[kMaxDims];
  // The element offset of the flat (row-major) position i.
  __device__ __forceinline__ int64_t Offset(int64_t i) const {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t n = size[d];
      off += (i % n) * stride[d];
      i /= n;
    }
    return off;
  }
};

// The axes of a tensor of `shape` and `strides`, size-1 axes dropped and neighbours that
// step evenly merged; ValueError naming `fn` when more than kMaxDims remain.
inline Dims MergedDims(const Shape& shape, const Strides& strides, const char* fn) {
  std::vector<int64_t> sz, st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int64_t n = static_cast<int64_t>(shape[d]), s = strides[d];
    if (!sz.empty() && st.back() == s * n) {
      sz.back() *= n;
      st.back() = s;
    } else {
      sz.push_back(n);
      st.push_back(s);
    }
  }
  if (sz.size() > static_cast<size_t>(kMaxDims))
    throw ValueError(Msg(fn, ": a tensor of shape ", ShapeStr(shape), " has ", sz.size(),
                         " axes after merging, more than the ", kMaxDims,
                         " the CUDA kernel takes"));
  Dims d;
  d.nd = static_cast<int>(sz.size());
  for (int i = 0; i < d.nd; ++i) {
    d.size[i] = sz[static_cast<size_t>(i)];
    d.stride[i] = st[static_cast<size_t>(i)];
  }
  return d;
}

// The combination of the kThreads values of a block in shared memory (`sm`, kThreads
// entries) as a tree whose shape depends on kThreads only, so a result does not depend on
// timing. Every thread of the block must call it; thread 0 gets the result (the others
// a partial value). `sm` may be reused after a __syncthreads() that follows the call.
template <int kN, typename V, typename Combine>
__device__ __forceinline__ V BlockCombine(V v, V* sm, Combine combine) {
  static_assert((kN & (kN - 1)) == 0 && kN >= 32, "a power of two block size");
  const int t = static_cast<int>(threadIdx.x);
  sm[t] = v;
  __syncthreads();
#pragma unroll
  for (int w = kN / 2; w > 0; w /= 2) {
    if (t < w) sm[t] = combine(sm[t], sm[t + w]);
    __syncthreads();
  }
  return sm[0];
}

// The accumulator of sums and products: double for floats, int64 for integers.
template <typename T>
using AccOf = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Blocks for `jobs` block-sized jobs, at most kMaxBlocks (grid-stride loops do the rest).
inline unsigned Grid(int64_t jobs) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(jobs, kMaxBlocks)));
}
// Below this many lanes, one thread per lane leaves most of a GPU idle: a long axis with
// an inner stride then gets a block (or warp) per lane.
constexpr int64_t kFewLanes = 32768;

}  // namespace red
}  // namespace cuda
}  // namespace singa
