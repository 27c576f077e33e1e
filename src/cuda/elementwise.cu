// CUDA element-wise kernels (math/kernels.h, SINGA_ELEMENTWISE_KERNELS): the op-table
// functors of math/functors.h (the CPU's own arithmetic, SINGA_HD) over grid-stride loops,
// axpy, where, converting copies and fills. Each entry has a flat kernel for operands that
// are all contiguous and a strided one (cuda/strided.cuh: the merged shape and strides by
// value, 64-bit offsets) for views, broadcasts (stride 0) and negative strides.
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "cuda/cuda_common.h"
#include "cuda/cuda_kernels.h"
#include "cuda/strided.cuh"
#include "math/functors.h"
#include "math/op_tables.h"

namespace singa {
namespace cuda {

namespace {

// ---- storage types and conversions (the CPU's Cast of cpu/iter.h, rule for rule) ----

struct Half {
  uint16_t bits;
};
struct BFloat {
  uint16_t bits;
};
// kBool: a byte read as true when non-zero, written as 0 or 1.
struct Bool {
  uint8_t v;
};

template <typename T>
constexpr bool kIsHalf = std::is_same_v<T, Half> || std::is_same_v<T, BFloat>;

// float16 <-> float32: the hardware's round-to-nearest-even conversion on the GPU (the
// same values as core/common.cc's FloatToHalf and the CPU's F16C; a NaN may keep other
// payload bits), the CPU's own functions on the host.
SINGA_HD inline float HalfBitsToFloat(uint16_t b) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(b));
#else
  return HalfToFloat(b);
#endif
}
SINGA_HD inline uint16_t FloatToHalfBits(float f) {
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(f));
#else
  return FloatToHalf(f);
#endif
}

// Float to integer truncates toward zero; NaN gives 0, int32/int64 saturate, int8/uint8
// keep the low byte of the int32 value (cpu/iter.h: FloatToInt).
template <typename D, typename F>
SINGA_HD inline D FloatToInt(F v) {
  using Wide = std::conditional_t<sizeof(D) >= 8, int64_t, int32_t>;
  if (!(v == v)) return D(0);
  constexpr Wide wmax = std::numeric_limits<Wide>::max(), wmin = std::numeric_limits<Wide>::min();
  constexpr F hi = static_cast<F>(wmax);  // rounds to 2^31 / 2^63
  constexpr F lo = static_cast<F>(wmin);
  const Wide w = v >= hi ? wmax : v <= lo ? wmin : static_cast<Wide>(v);
  return static_cast<D>(w);
}

template <typename D, typename S>
SINGA_HD inline D Cast(S v) {
  if constexpr (std::is_same_v<S, D>) {
    return v;
  } else if constexpr (std::is_same_v<S, Bool>) {
    return Cast<D>(static_cast<uint8_t>(v.v != 0));
  } else if constexpr (std::is_same_v<D, Bool>) {
    if constexpr (kIsHalf<S>) return Cast<Bool>(Cast<float>(v));
    else return Bool{static_cast<uint8_t>(v != 0)};
  } else if constexpr (std::is_same_v<S, Half>) {
    return Cast<D>(HalfBitsToFloat(v.bits));
  } else if constexpr (std::is_same_v<S, BFloat>) {
    return Cast<D>(BFloat16ToFloat(v.bits));
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{FloatToHalfBits(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<D, BFloat>) {
    return BFloat{FloatToBFloat16(static_cast<float>(v))};
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    return FloatToInt<D>(v);
  } else {
    return static_cast<D>(v);
  }
}

// The unsigned integer of a storage type's width: what pure data movement copies.
template <size_t Bytes>
struct BitsOf;
template <>
struct BitsOf<1> {
  using type = uint8_t;
};
template <>
struct BitsOf<2> {
  using type = uint16_t;
};
template <>
struct BitsOf<4> {
  using type = uint32_t;
};
template <>
struct BitsOf<8> {
  using type = uint64_t;
};

#define SINGA_CUDA_CASE(code, type, ...) \
  case code: {                           \
    using T = type;                      \
    __VA_ARGS__;                         \
    break;                               \
  }
#define SINGA_CUDA_DISPATCH_ALL(dt, fn, ...)                                 \
  switch (dt) {                                                              \
    SINGA_CUDA_CASE(kFloat32, float, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kDouble, double, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kInt, int32_t, __VA_ARGS__)                              \
    SINGA_CUDA_CASE(kFloat16, Half, __VA_ARGS__)                             \
    SINGA_CUDA_CASE(kBFloat16, BFloat, __VA_ARGS__)                          \
    SINGA_CUDA_CASE(kChar, int8_t, __VA_ARGS__)                              \
    SINGA_CUDA_CASE(kUChar, uint8_t, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kInt64, int64_t, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kBool, Bool, __VA_ARGS__)                                \
    default:                                                                 \
      throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));    \
  }
#define SINGA_CUDA_DISPATCH_ARITH(dt, fn, ...)                               \
  switch (dt) {                                                              \
    SINGA_CUDA_CASE(kFloat32, float, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kDouble, double, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kInt, int32_t, __VA_ARGS__)                              \
    SINGA_CUDA_CASE(kInt64, int64_t, __VA_ARGS__)                            \
    default:                                                                 \
      throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));    \
  }
#define SINGA_CUDA_DISPATCH_FLOAT(dt, fn, ...)                               \
  switch (dt) {                                                              \
    SINGA_CUDA_CASE(kFloat32, float, __VA_ARGS__)                            \
    SINGA_CUDA_CASE(kDouble, double, __VA_ARGS__)                            \
    default:                                                                 \
      throw TypeError(Msg(fn, ": expects float32 or float64, got ", DataTypeName(dt))); \
  }
// By element size, for kernels that only move bits (where, same-dtype copies).
#define SINGA_CUDA_DISPATCH_BITS(dt, fn, ...)                                \
  switch (SizeOf(dt)) {                                                      \
    SINGA_CUDA_CASE(1, uint8_t, __VA_ARGS__)                                 \
    SINGA_CUDA_CASE(2, uint16_t, __VA_ARGS__)                                \
    SINGA_CUDA_CASE(4, uint32_t, __VA_ARGS__)                                \
    SINGA_CUDA_CASE(8, uint64_t, __VA_ARGS__)                                \
    default:                                                                 \
      throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));    \
  }

// ---- launch ----

// The grid-stride loop's first index and step, both 64-bit.
__device__ inline int64_t FirstIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t GridStep() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Launches kernel<<<BlocksFor(n), kThreads>>> on the stream of t's GPU (activating it)
// and checks the launch; nothing runs for n == 0.
template <typename... KArgs, typename... Args>
void Launch(const char* name, const Tensor& t, int64_t n, void (*kernel)(KArgs...), Args&&... args) {
  cudaStream_t stream = StreamOf(t, name);
  if (n <= 0) return;
  kernel<<<BlocksFor(n), kThreads, 0, stream>>>(std::forward<Args>(args)...);
  CheckLaunch(name, t);
}

inline bool AllContiguous(std::initializer_list<const Tensor*> ts) {
  const Shape& shape = (*ts.begin())->shape();
  for (const Tensor* t : ts)
    if (t->shape() != shape || !t->IsContiguous()) return false;
  return true;
}

// ---- unary, binary, axpy ----

template <typename T, typename F>
__global__ void UnaryFlat(const T* x, T* y, int64_t n, F f) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) y[i] = f(x[i]);
}

template <typename T, typename F>
__global__ void UnaryStrided(const T* x, T* y, int64_t n, StridedIndex<2> s, F f) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) {
    int64_t off[2];
    s.Offsets(i, off);
    y[off[0]] = f(x[off[1]]);
  }
}

template <typename T, typename F>
void UnaryLoop(const char* name, const Tensor& x, const Tensor& y, F f) {
  const int64_t n = static_cast<int64_t>(y.Size());
  if (AllContiguous({&y, &x})) {
    Launch(name, y, n, UnaryFlat<T, F>, x.data<T>(), y.data<T>(), n, f);
    return;
  }
  const Strides* st[2] = {&y.stride(), &x.stride()};
  const StridedIndex<2> s = MakeStridedIndex<2>(y.shape(), st, name);
  Launch(name, y, n, UnaryStrided<T, F>, x.data<T>(), y.data<T>(), n, s, f);
}

template <typename T, typename F>
__global__ void BinaryFlat(const T* a, const T* b, T* out, int64_t n, F f) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) out[i] = f(a[i], b[i]);
}

template <typename T, typename F>
__global__ void BinaryStrided(const T* a, const T* b, T* out, int64_t n, StridedIndex<3> s, F f) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) {
    int64_t off[3];
    s.Offsets(i, off);
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

// out = f(a, b); a and b are views of out's shape (broadcast strides 0).
template <typename T, typename F>
void BinaryLoop(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const int64_t n = static_cast<int64_t>(out.Size());
  if (AllContiguous({&out, &a, &b})) {
    Launch(name, out, n, BinaryFlat<T, F>, a.data<T>(), b.data<T>(), out.data<T>(), n, f);
    return;
  }
  const Strides* st[3] = {&out.stride(), &a.stride(), &b.stride()};
  const StridedIndex<3> s = MakeStridedIndex<3>(out.shape(), st, name);
  Launch(name, out, n, BinaryStrided<T, F>, a.data<T>(), b.data<T>(), out.data<T>(), n, s, f);
}

template <typename T>
void RunUnary(Unary op, const Tensor& x, const Tensor& y) {
  switch (op) {
#define SINGA_UNARY_CASE(Name, closed)                                                        \
  case Unary::k##Name:                                                                        \
    if constexpr (std::is_integral_v<T> && !(closed))                                         \
      throw TypeError(#Name ": integer tensors are computed in float32 by the entry point");  \
    else                                                                                      \
      UnaryLoop<T>("cuda unary " #Name, x, y, fn::Name{});                                    \
    return;
    SINGA_UNARY_OPS(SINGA_UNARY_CASE)
#undef SINGA_UNARY_CASE
  }
  throw ValueError(Msg("cuda unary kernel: unknown op ", static_cast<int>(op)));
}

template <typename T>
void RunBinary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define SINGA_BINARY_CASE(Name, ...)                                   \
  case Binary::k##Name:                                                \
    BinaryLoop<T>("cuda binary " #Name, a, b, out, fn::Name{});        \
    return;
#define SINGA_BINARY_KERNEL_CASE(Name) SINGA_BINARY_CASE(Name, )
    SINGA_BINARY_OPS(SINGA_BINARY_CASE)
    SINGA_BINARY_KERNEL_OPS(SINGA_BINARY_KERNEL_CASE)
#undef SINGA_BINARY_KERNEL_CASE
#undef SINGA_BINARY_CASE
  }
  throw ValueError(Msg("cuda binary kernel: unknown op ", static_cast<int>(op)));
}

// y + alpha * x as the CPU computes it: alpha * u + v in T.
template <typename T>
struct AxpyOp {
  T alpha;
  SINGA_HD T operator()(T u, T v) const { return alpha * u + v; }
};

// ---- where ----

template <typename U>
__global__ void WhereFlat(const uint8_t* c, const U* a, const U* b, U* out, int64_t n) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) out[i] = c[i] != 0 ? a[i] : b[i];
}

// ---- copies ----

template <typename D, typename S>
__global__ void CopyFlat(D* dst, const S* src, int64_t n) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) dst[i] = Cast<D>(src[i]);
}

template <typename D, typename S>
__global__ void CopyStrided(D* dst, const S* src, int64_t n, StridedIndex<2> s) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) {
    int64_t off[2];
    s.Offsets(i, off);
    dst[off[0]] = Cast<D>(src[off[1]]);
  }
}

template <typename D, typename S>
void CopyTyped(const Tensor& dst, const Tensor& src) {
  const char* name = "cuda copy";
  const int64_t n = static_cast<int64_t>(dst.Size());
  if (AllContiguous({&dst, &src})) {
    if constexpr (std::is_same_v<D, S>) {
      cudaStream_t stream = StreamOf(dst, name);
      if (n > 0 && dst.raw() != src.raw())
        SINGA_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), dst.MemSize(),
                                         cudaMemcpyDeviceToDevice, stream),
                         dst.device()->id());
      return;
    } else {
      Launch(name, dst, n, CopyFlat<D, S>, dst.data<D>(), src.data<S>(), n);
      return;
    }
  }
  const Strides* st[2] = {&dst.stride(), &src.stride()};
  const StridedIndex<2> s = MakeStridedIndex<2>(dst.shape(), st, name);
  if (s.ndim == 1 && s.strides[0][0] == 1 && s.strides[1][0] == 1) {
    // Contiguous after merging (size-1 axes with odd strides): one flat pass.
    Launch(name, dst, n, CopyFlat<D, S>, dst.data<D>(), src.data<S>(), n);
    return;
  }
  Launch(name, dst, n, CopyStrided<D, S>, dst.data<D>(), src.data<S>(), n, s);
}

// ---- fills ----

template <typename U>
__global__ void FillFlat(U* p, int64_t n, U value) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) p[i] = value;
}

template <typename U>
__global__ void FillStrided(U* p, int64_t n, StridedIndex<1> s, U value) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) {
    int64_t off[1];
    s.Offsets(i, off);
    p[off[0]] = value;
  }
}

template <typename T>
void FillTyped(const Tensor& t, double v) {
  const char* name = "cuda fill";
  using U = typename BitsOf<sizeof(T)>::type;
  const T val = Cast<T>(v);  // host side: the CPU's conversion of the value
  U bits;
  std::memcpy(&bits, &val, sizeof(U));
  const int64_t n = static_cast<int64_t>(t.Size());
  cudaStream_t stream = StreamOf(t, name);
  if (n == 0) return;
  if (t.IsContiguous()) {
    if (sizeof(U) == 1 || bits == 0) {
      SINGA_CUDA_CHECK(cudaMemsetAsync(t.raw(), static_cast<int>(bits & 0xffu), t.MemSize(), stream),
                       t.device()->id());
      return;
    }
    Launch(name, t, n, FillFlat<U>, static_cast<U*>(t.raw()), n, bits);
    return;
  }
  const Strides* st[1] = {&t.stride()};
  const StridedIndex<1> s = MakeStridedIndex<1>(t.shape(), st, name);
  Launch(name, t, n, FillStrided<U>, static_cast<U*>(t.raw()), n, s, bits);
}

}  // namespace

void FillElementwise(ElementwiseKernels& k) {
  k.unary = [](Unary op, const Tensor& x, const Tensor& y) {
    SINGA_CUDA_DISPATCH_ARITH(y.data_type(), "cuda unary kernel", { RunUnary<T>(op, x, y); });
  };
  k.binary = [](Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
    SINGA_CUDA_DISPATCH_ARITH(out.data_type(), "cuda binary kernel", { RunBinary<T>(op, a, b, out); });
  };
  k.axpy = [](double alpha, const Tensor& x, const Tensor& y) {
    SINGA_CUDA_DISPATCH_FLOAT(y.data_type(), "Axpy", {
      BinaryLoop<T>("cuda axpy", x, y, y, AxpyOp<T>{static_cast<T>(alpha)});
    });
  };
  k.where = [](const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) {
    SINGA_CUDA_DISPATCH_BITS(out.data_type(), "Where", {
      const int64_t n = static_cast<int64_t>(out.Size());
      Launch("cuda where", out, n, WhereFlat<T>, static_cast<const uint8_t*>(c.raw()),
             static_cast<const T*>(a.raw()), static_cast<const T*>(b.raw()),
             static_cast<T*>(out.raw()), n);
    });
  };
  k.copy = [](const Tensor& dst, const Tensor& src) {
    if (dst.data_type() == src.data_type()) {
      // Pure data movement: one kernel per element size (bool bytes are kept as they are,
      // as the CPU's same-dtype copy keeps them).
      SINGA_CUDA_DISPATCH_BITS(dst.data_type(), "CopyData", { CopyTyped<T, T>(dst, src); });
      return;
    }
    SINGA_CUDA_DISPATCH_ALL(dst.data_type(), "CopyData", {
      using DT = T;
      SINGA_CUDA_DISPATCH_ALL(src.data_type(), "CopyData", {
        if constexpr (!std::is_same_v<DT, T>) CopyTyped<DT, T>(dst, src);
      });
    });
  };
  k.fill = [](const Tensor& t, double v) {
    SINGA_CUDA_DISPATCH_ALL(t.data_type(), "SetValue", { FillTyped<T>(t, v); });
  };
}

}  // namespace cuda
}  // namespace singa
