// CPU element-wise kernels: the op-table functors over strided loops, axpy, select,
// converting copies and fills. Loops over contiguous rows are `omp simd` so the
// functors vectorise.
#include <algorithm>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/isa.h"
#include "cpu/iter.h"
#include "math/functors.h"

// Compiled once per ISA level in a portable build (cpu/isa.h).
SINGA_ISA_BEGIN
namespace singa {
namespace cpu {
namespace SINGA_ISA_NS {

namespace {

// Splits the loop nest into chunks so one long contiguous row still uses every thread.
template <size_t N, typename F>
void ForChunks(const StridedLoop<N>& loop, F&& f) {
  const size_t nrows = loop.rows(), n = loop.inner(), nd = loop.dims.size();
  const int threads = NumThreadsFor(nrows * n);
  constexpr size_t kChunk = 1 << 14;
  const size_t per_row = (threads > 1 && nrows < static_cast<size_t>(threads) * 4)
                             ? (n + kChunk - 1) / kChunk : 1;
  const size_t chunk = (n + per_row - 1) / per_row;
  std::array<int64_t, N> st;
  for (size_t k = 0; k < N; ++k) st[k] = loop.strides[k].back();
  ParallelFor(threads, nrows * per_row, [&](size_t task) {
    size_t r = task / per_row, c = task % per_row;
    std::array<int64_t, N> off{};
    size_t rem = r;
    for (size_t d = nd - 1; d-- > 0;) {
      size_t idx = rem % loop.dims[d];
      rem /= loop.dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += static_cast<int64_t>(idx) * loop.strides[k][d];
    }
    size_t begin = c * chunk, len = std::min(n, begin + chunk) - begin;
    for (size_t k = 0; k < N; ++k) off[k] += static_cast<int64_t>(begin) * st[k];
    f(off, len, st);
  });
}

// Calls f(begin, len) over [0, n) in chunks, in parallel for large n.
template <typename F>
void ForFlat(size_t n, F&& f) {
  const int threads = NumThreadsFor(n);
  if (threads <= 1) {
    f(size_t{0}, n);
    return;
  }
  constexpr size_t kChunk = 1 << 14;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  ParallelFor(threads, chunks, [&](size_t c) {
    size_t begin = c * kChunk;
    f(begin, std::min(n, begin + kChunk) - begin);
  });
}

// Operands that all are contiguous with one shape: one flat loop, no loop nest to build.
bool SameFlatLayout(const Tensor& out, const Tensor& a, const Tensor& b) {
  return a.shape() == out.shape() && b.shape() == out.shape() && out.IsContiguous() &&
         a.IsContiguous() && b.IsContiguous();
}

template <typename T, typename F>
void UnaryLoop(const Tensor& x, const Tensor& y, F f) {
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  if (x.shape() == y.shape() && x.IsContiguous() && y.IsContiguous()) {
    ForFlat(y.Size(), [&](size_t begin, size_t n) {
      T* yr = yp + begin;
      const T* xr = xp + begin;
#pragma omp simd
      for (size_t i = 0; i < n; ++i) yr[i] = f(xr[i]);
    });
    return;
  }
  StridedLoop<2> loop(y.shape(), {y.stride(), x.stride()});
  ForChunks(loop, [&](const std::array<int64_t, 2>& off, size_t n, const std::array<int64_t, 2>& st) {
    T* yr = yp + off[0];
    const T* xr = xp + off[1];
    if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
      for (size_t i = 0; i < n; ++i) yr[i] = f(xr[i]);
    } else {
      // Signed: a negative stride steps backwards, not around the address space.
      for (int64_t i = 0, m = static_cast<int64_t>(n); i < m; ++i) yr[i * st[0]] = f(xr[i * st[1]]);
    }
  });
}

template <typename T, typename F>
void BinaryLoop(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* op = out.data<T>();
  if (SameFlatLayout(out, a, b)) {
    ForFlat(out.Size(), [&](size_t begin, size_t n) {
      T* o = op + begin;
      const T* x = ap + begin;
      const T* y = bp + begin;
#pragma omp simd
      for (size_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    });
    return;
  }
  StridedLoop<3> loop(out.shape(), {out.stride(), a.stride(), b.stride()});
  ForChunks(loop, [&](const std::array<int64_t, 3>& off, size_t n, const std::array<int64_t, 3>& st) {
    T* o = op + off[0];
    const T* x = ap + off[1];
    const T* y = bp + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
      for (size_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const T yv = *y;
#pragma omp simd
      for (size_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const T xv = *x;
#pragma omp simd
      for (size_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0, m = static_cast<int64_t>(n); i < m; ++i)
        o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

// One case per op of the tables; integer inputs reach only the ops closed on integers.
template <typename T>
void RunUnary(Unary op, const Tensor& x, const Tensor& y) {
  switch (op) {
#define SINGA_UNARY_CASE(Name, closed)                                                  \
  case Unary::k##Name:                                                                  \
    if constexpr (std::is_integral_v<T> && !(closed))                                   \
      throw TypeError(#Name ": integer tensors are computed in float32 by the entry point"); \
    else                                                                                \
      UnaryLoop<T>(x, y, fn::Name{});                                                   \
    return;
    SINGA_UNARY_OPS(SINGA_UNARY_CASE)
#undef SINGA_UNARY_CASE
  }
}

template <typename T>
void RunBinary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define SINGA_BINARY_CASE(Name, ...) \
  case Binary::k##Name:              \
    BinaryLoop<T>(a, b, out, fn::Name{}); \
    return;
#define SINGA_BINARY_KERNEL_CASE(Name) SINGA_BINARY_CASE(Name, )
    SINGA_BINARY_OPS(SINGA_BINARY_CASE)
    SINGA_BINARY_KERNEL_OPS(SINGA_BINARY_KERNEL_CASE)
#undef SINGA_BINARY_KERNEL_CASE
#undef SINGA_BINARY_CASE
  }
}

}  // namespace

namespace elementwise {

void unary(Unary op, const Tensor& x, const Tensor& y) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(y.data_type(), elementwise::unary(op, x, y));
  SINGA_ISA_DISPATCH_ARITH(y.data_type(), "unary kernel", { RunUnary<T>(op, x, y); });
}

void binary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(out.data_type(), elementwise::binary(op, a, b, out));
  SINGA_ISA_DISPATCH_ARITH(out.data_type(), "binary kernel", { RunBinary<T>(op, a, b, out); });
}

void axpy(double alpha, const Tensor& x, const Tensor& y) {
  SINGA_DISPATCH_FLOAT(y.data_type(), "Axpy", {
    const T al = static_cast<T>(alpha);
    BinaryLoop<T>(x, y, y, [al](T u, T v) { return al * u + v; });
  });
}

void where(const Tensor& c, const Tensor& x, const Tensor& y, const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(out.data_type(), elementwise::where(c, x, y, out));
  SINGA_ISA_DISPATCH_ALL(out.data_type(), "Where", {
    const bool_t* cp = c.data<bool_t>();
    const T* xp = x.data<T>();
    const T* yp = y.data<T>();
    T* op = out.data<T>();
    const size_t n = out.Size();
    ParallelFor(NumThreadsFor(n), n, [&](size_t i) { op[i] = cp[i].v != 0 ? xp[i] : yp[i]; });
  });
}

// Contiguous float32 <-> float16/bfloat16 through the vectorised bulk conversions: every
// op on 16-bit floats converts its operands this way. False for any other pair or layout.
template <typename D, typename S>
bool CopyConverting(const Tensor& dst, const Tensor& src, D* d, const S* s) {
  constexpr bool widen = std::is_same_v<D, float> && kIsHalfType<S>;
  constexpr bool narrow = std::is_same_v<S, float> && kIsHalfType<D>;
  if constexpr (widen || narrow) {
    if (!dst.IsContiguous() || !src.IsContiguous()) return false;
    ForFlat(dst.Size(), [&](size_t begin, size_t n) {
      if constexpr (widen) {
        const uint16_t* in = &s[begin].bits;
        if constexpr (std::is_same_v<S, half_t>) HalfToFloatN(in, d + begin, n);
        else BFloat16ToFloatN(in, d + begin, n);
      } else {
        uint16_t* out = &d[begin].bits;
        if constexpr (std::is_same_v<D, half_t>) FloatToHalfN(s + begin, out, n);
        else FloatToBFloat16N(s + begin, out, n);
      }
    });
    return true;
  }
  return false;
}

template <typename D, typename S>
void CopyStrided(const Tensor& dst, const Tensor& src) {
  D* d = dst.data<D>();
  const S* s = src.data<S>();
  if (CopyConverting<D, S>(dst, src, d, s)) return;
  StridedLoop<2> loop(dst.shape(), {dst.stride(), src.stride()});
  // In chunks: a long 1-D copy (a conversion of a big tensor) still uses every thread.
  ForChunks(loop, [&](const std::array<int64_t, 2>& off, size_t n, const std::array<int64_t, 2>& st) {
    D* dp = d + off[0];
    const S* sp = s + off[1];
    if constexpr (std::is_same_v<D, S>) {
      if (st[0] == 1 && st[1] == 1) {
        std::memcpy(dp, sp, n * sizeof(D));
        return;
      }
    }
    for (int64_t i = 0, m = static_cast<int64_t>(n); i < m; ++i) dp[i * st[0]] = Cast<D>(sp[i * st[1]]);
  });
}

// Copies are memcpy, strided gathers or the dispatched 16-bit conversions (core/half.cc):
// one copy of them serves every level.
void copy(const Tensor& dst, const Tensor& src) {
#if SINGA_ISA_PRIMARY
  SINGA_DISPATCH_ALL(dst.data_type(), "CopyData", {
    using DT = T;
    SINGA_DISPATCH_ALL(src.data_type(), "CopyData", { CopyStrided<DT, T>(dst, src); });
  });
#else
  baseline::elementwise::copy(dst, src);
#endif
}

void fill(const Tensor& t, double v) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(t.data_type(), elementwise::fill(t, v));
  SINGA_ISA_DISPATCH_ALL(t.data_type(), "SetValue", {
    T val = Cast<T>(v);
    StridedLoop<1> loop(t.shape(), {t.stride()});
    T* p = t.data<T>();
    loop.ForRows([&](const std::array<int64_t, 1>& off, size_t n, const std::array<int64_t, 1>& st) {
      for (size_t i = 0; i < n; ++i) p[off[0] + static_cast<int64_t>(i) * st[0]] = val;
    });
  });
}

}  // namespace elementwise

}  // namespace SINGA_ISA_NS
}  // namespace cpu
}  // namespace singa
SINGA_ISA_END
