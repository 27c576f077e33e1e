// Dtype dispatch and strided iteration shared by the CPU kernels.
#pragma once

#include <omp.h>

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/tensor.h"

namespace singa {

// The 16-bit float storage types; arithmetic always goes through float.
struct half_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};
// kBool: one byte read as true when non-zero (a NumPy bool view of other bytes stays
// defined) and written as 0 or 1. A distinct type so dispatch and Cast tell it from uint8.
struct bool_t {
  uint8_t v;
};

template <typename T>
constexpr bool kIsHalfType = std::is_same_v<T, half_t> || std::is_same_v<T, bf16_t>;

// Float to integer conversions truncate toward zero (C's and ONNX Cast's rule). A plain
// cast of NaN or of a value out of the target's range is undefined behaviour, so NaN gives
// 0, int32 and int64 saturate, and int8/uint8 keep the low byte of the int32 value (as
// NumPy's conversions do for values in int32's range).
template <typename D, typename F>
inline D FloatToInt(F v) {
  using Wide = std::conditional_t<sizeof(D) >= 8, int64_t, int32_t>;
  if (!(v == v)) return D(0);
  constexpr F hi = static_cast<F>(std::numeric_limits<Wide>::max());  // rounds to 2^31 / 2^63
  constexpr F lo = static_cast<F>(std::numeric_limits<Wide>::min());
  Wide w = v >= hi ? std::numeric_limits<Wide>::max()
           : v <= lo ? std::numeric_limits<Wide>::min() : static_cast<Wide>(v);
  return static_cast<D>(w);
}

template <typename D, typename S>
inline D Cast(S v) {
  if constexpr (std::is_same_v<S, D>) {
    return v;
  } else if constexpr (std::is_same_v<S, bool_t>) {
    return Cast<D>(static_cast<uint8_t>(v.v != 0));
  } else if constexpr (std::is_same_v<D, bool_t>) {
    if constexpr (kIsHalfType<S>) return Cast<bool_t>(Cast<float>(v));
    else return bool_t{static_cast<uint8_t>(v != 0)};
  } else if constexpr (std::is_same_v<S, half_t>) {
    return Cast<D>(HalfToFloat(v.bits));
  } else if constexpr (std::is_same_v<S, bf16_t>) {
    return Cast<D>(BFloat16ToFloat(v.bits));
  } else if constexpr (std::is_same_v<D, half_t>) {
    return half_t{FloatToHalf(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<D, bf16_t>) {
    return bf16_t{FloatToBFloat16(static_cast<float>(v))};
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    return FloatToInt<D>(v);
  } else {
    return static_cast<D>(v);
  }
}

template <typename T>
constexpr DataType DTypeOf() {
  if constexpr (std::is_same_v<T, float>) return kFloat32;
  if constexpr (std::is_same_v<T, double>) return kDouble;
  if constexpr (std::is_same_v<T, int32_t>) return kInt;
  if constexpr (std::is_same_v<T, half_t>) return kFloat16;
  if constexpr (std::is_same_v<T, bf16_t>) return kBFloat16;
  if constexpr (std::is_same_v<T, int64_t>) return kInt64;
  if constexpr (std::is_same_v<T, uint8_t>) return kUChar;
  if constexpr (std::is_same_v<T, bool_t>) return kBool;
  return kChar;
}

// Runs `body` with T bound to the C++ type of `dt`.
#define SINGA_CASE(code, type, ...) \
  case code: {                      \
    using T = type;                 \
    __VA_ARGS__;                    \
    break;                          \
  }

#define SINGA_DISPATCH_ALL(dt, fn, ...)                                        \
  switch (dt) {                                                                \
    SINGA_CASE(kFloat32, float, __VA_ARGS__)                                   \
    SINGA_CASE(kDouble, double, __VA_ARGS__)                                   \
    SINGA_CASE(kInt, int32_t, __VA_ARGS__)                                     \
    SINGA_CASE(kFloat16, half_t, __VA_ARGS__)                                  \
    SINGA_CASE(kBFloat16, bf16_t, __VA_ARGS__)                                 \
    SINGA_CASE(kChar, int8_t, __VA_ARGS__)                                     \
    SINGA_CASE(kUChar, uint8_t, __VA_ARGS__)                                   \
    SINGA_CASE(kInt64, int64_t, __VA_ARGS__)                                   \
    SINGA_CASE(kBool, bool_t, __VA_ARGS__)                                     \
    default:                                                                   \
      throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));      \
  }

// Arithmetic dtypes: the callers compute the 16-bit floats (and int8) in float32 and
// bool and uint8 in int32 first.
#define SINGA_DISPATCH_ARITH(dt, fn, ...)                                      \
  switch (dt) {                                                                \
    SINGA_CASE(kFloat32, float, __VA_ARGS__)                                   \
    SINGA_CASE(kDouble, double, __VA_ARGS__)                                   \
    SINGA_CASE(kInt, int32_t, __VA_ARGS__)                                     \
    SINGA_CASE(kInt64, int64_t, __VA_ARGS__)                                   \
    default:                                                                   \
      throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));      \
  }

#define SINGA_DISPATCH_FLOAT(dt, fn, ...)                                      \
  switch (dt) {                                                                \
    SINGA_CASE(kFloat32, float, __VA_ARGS__)                                   \
    SINGA_CASE(kDouble, double, __VA_ARGS__)                                   \
    default:                                                                   \
      throw TypeError(Msg(fn, ": expects float32 or float64, got ", DataTypeName(dt))); \
  }

// Below this many elements a kernel runs on one thread.
constexpr size_t kParallelThreshold = 1 << 15;

inline int NumThreadsFor(size_t work) {
  return work < kParallelThreshold ? 1 : omp_get_max_threads();
}

// body(i) for i in [0, n) on `threads` threads. A single thread runs the loop inline:
// even an `if(false)` OpenMP region costs a runtime call, noticeable on tiny tensors.
template <typename F>
inline void ParallelFor(int threads, size_t n, F&& body) {
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) body(i);
}

// A loop nest over `N` operands sharing one shape, with size-1 axes dropped and
// mergeable axes fused, so the innermost loop is as long as possible.
template <size_t N>
struct StridedLoop {
  std::vector<size_t> dims;
  std::array<std::vector<int64_t>, N> strides;

  StridedLoop(const Shape& shape, const std::array<Strides, N>& st) {
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 1) continue;
      bool merge = !dims.empty();
      for (size_t k = 0; k < N && merge; ++k)
        merge = strides[k].back() == st[k][i] * static_cast<int64_t>(shape[i]);
      if (merge) {
        dims.back() *= shape[i];
        for (size_t k = 0; k < N; ++k) strides[k].back() = st[k][i];
      } else {
        dims.push_back(shape[i]);
        for (size_t k = 0; k < N; ++k) strides[k].push_back(st[k][i]);
      }
    }
    if (dims.empty()) {
      dims.push_back(1);
      for (size_t k = 0; k < N; ++k) strides[k].push_back(0);
    }
  }

  size_t inner() const { return dims.back(); }
  size_t rows() const { return Product(dims, 0, dims.size() - 1); }

  // Calls f(offsets, n, inner_strides) for every innermost row, rows in parallel.
  template <typename F>
  void ForRows(F&& f) const {
    const size_t nrows = rows(), n = inner(), nd = dims.size();
    std::array<int64_t, N> inner_st;
    for (size_t k = 0; k < N; ++k) inner_st[k] = strides[k].back();
    ParallelFor(NumThreadsFor(nrows * n), nrows, [&](size_t r) {
      std::array<int64_t, N> off{};
      size_t rem = r;
      for (size_t d = nd - 1; d-- > 0;) {
        size_t idx = rem % dims[d];
        rem /= dims[d];
        for (size_t k = 0; k < N; ++k) off[k] += static_cast<int64_t>(idx) * strides[k][d];
      }
      f(off, n, inner_st);
    });
  }
};

}  // namespace singa
