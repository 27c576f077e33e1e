// Element-wise unary and binary kernels with NumPy broadcasting.
#include <algorithm>
#include <climits>

#include "math/iter.h"
#include "math/ops.h"
#include "math/vecmath.h"

namespace singa {

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
      for (size_t i = 0; i < n; ++i) yr[i * st[0]] = f(xr[i * st[1]]);
    }
  });
}

template <typename T>
T SafeIntDiv(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if (b == -1) return static_cast<T>(0u - static_cast<uint32_t>(a));
    return a / b;
  } else {
    return a / b;
  }
}

template <typename T>
void RunUnary(Unary op, const Tensor& x, const Tensor& y) {
  using F = std::conditional_t<std::is_same_v<T, double>, double, float>;
  switch (op) {
#define U(code, expr) case Unary::code: UnaryLoop<T>(x, y, [](T v) -> T { return static_cast<T>(expr); }); break;
    U(kAbs, v < 0 ? -v : v)
    U(kNeg, -v)
    U(kSign, (v > 0) - (v < 0))
    U(kReLU, v > 0 ? v : 0)
    U(kSquare, v * v)
    U(kNot, v == 0 ? 1 : 0)
    U(kCeil, std::ceil(static_cast<F>(v)))
    U(kFloor, std::floor(static_cast<F>(v)))
    U(kRound, std::round(static_cast<F>(v)))
    U(kRoundE, std::nearbyint(static_cast<F>(v)))
    U(kExp, Exp(static_cast<F>(v)))
    U(kErf, std::erf(static_cast<F>(v)))
    U(kLog, std::log(static_cast<F>(v)))
    U(kSigmoid, Sigmoid(static_cast<F>(v)))
    U(kSqrt, std::sqrt(static_cast<F>(v)))
    U(kCos, std::cos(static_cast<F>(v)))
    U(kCosh, std::cosh(static_cast<F>(v)))
    U(kAcos, std::acos(static_cast<F>(v)))
    U(kAcosh, std::acosh(static_cast<F>(v)))
    U(kSin, std::sin(static_cast<F>(v)))
    U(kSinh, std::sinh(static_cast<F>(v)))
    U(kAsin, std::asin(static_cast<F>(v)))
    U(kAsinh, std::asinh(static_cast<F>(v)))
    U(kTan, std::tan(static_cast<F>(v)))
    U(kTanh, std::tanh(static_cast<F>(v)))
    U(kAtan, std::atan(static_cast<F>(v)))
    U(kAtanh, std::atanh(static_cast<F>(v)))
    U(kReciprocal, static_cast<F>(1) / static_cast<F>(v))
    U(kSoftPlus, SoftPlus(static_cast<F>(v)))
    U(kSoftSign, static_cast<F>(v) / (1 + std::fabs(static_cast<F>(v))))
#undef U
  }
}

bool ClosedOnIntegers(Unary op) {
  switch (op) {
    case Unary::kAbs: case Unary::kNeg: case Unary::kSign: case Unary::kReLU:
    case Unary::kSquare: case Unary::kNot: case Unary::kCeil: case Unary::kFloor:
    case Unary::kRound: case Unary::kRoundE:
      return true;
    default:
      return false;
  }
}

DataType ComputeType(DataType a, DataType b) {
  if (a == b) return a == kFloat16 || a == kChar ? kFloat32 : a;
  return kFloat32;  // mixed dtypes compute in float32 (SINGA's rule)
}

bool IsComparison(Binary op) {
  return op == Binary::kLT || op == Binary::kLE || op == Binary::kGT || op == Binary::kGE ||
         op == Binary::kEQ || op == Binary::kAnd || op == Binary::kOr || op == Binary::kXor;
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
      for (size_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <typename T>
void RunBinary(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
#define B(code, expr) case Binary::code: BinaryLoop<T>(a, b, out, [](T x, T y) -> T { return static_cast<T>(expr); }); break;
    B(kAdd, x + y)
    B(kSub, x - y)
    B(kMul, x * y)
    B(kDiv, SafeIntDiv(x, y))
    B(kPow, std::pow(static_cast<double>(x), static_cast<double>(y)))
    B(kLT, x < y)
    B(kLE, x <= y)
    B(kGT, x > y)
    B(kGE, x >= y)
    B(kEQ, x == y)
    B(kAnd, (x != 0) && (y != 0))
    B(kOr, (x != 0) || (y != 0))
    B(kXor, (x != 0) != (y != 0))
    B(kMin, x < y ? x : y)
    B(kMax, x > y ? x : y)
    B(kReLUBackward, y > 0 ? x : 0)
#undef B
  }
}

template <>
void RunBinary<float>(Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using T = float;
  switch (op) {
    // float pow stays in float so the loop vectorises.
    case Binary::kPow:
      BinaryLoop<T>(a, b, out, [](T x, T y) -> T { return std::pow(x, y); });
      return;
    case Binary::kAdd: BinaryLoop<T>(a, b, out, [](T x, T y) { return x + y; }); return;
    case Binary::kSub: BinaryLoop<T>(a, b, out, [](T x, T y) { return x - y; }); return;
    case Binary::kMul: BinaryLoop<T>(a, b, out, [](T x, T y) { return x * y; }); return;
    case Binary::kDiv: BinaryLoop<T>(a, b, out, [](T x, T y) { return x / y; }); return;
    default: break;
  }
  switch (op) {
#define B(code, expr) case Binary::code: BinaryLoop<T>(a, b, out, [](T x, T y) -> T { return static_cast<T>(expr); }); break;
    B(kLT, x < y)
    B(kLE, x <= y)
    B(kGT, x > y)
    B(kGE, x >= y)
    B(kEQ, x == y)
    B(kAnd, (x != 0) && (y != 0))
    B(kOr, (x != 0) || (y != 0))
    B(kXor, (x != 0) != (y != 0))
    B(kMin, x < y ? x : y)
    B(kMax, x > y ? x : y)
    B(kReLUBackward, y > 0 ? x : 0)
#undef B
    default: break;
  }
}

// Inputs that overlap the output in a different layout are copied first, so
// in-place updates never read values they have already overwritten.
Tensor DetachFrom(const Tensor& in, const Tensor& out) {
  if (in.block() == out.block() &&
      (in.offset() != out.offset() || in.stride() != out.stride() || in.shape() != out.shape()))
    return in.Clone();
  return in;
}

void CheckDevices(const Tensor& a, const Tensor& b, const char* name) {
  if (a.device() != b.device())
    throw DeviceError(Msg(name, ": operands are on different devices (", a.device()->name(), " id ",
                          a.device()->id(), " and ", b.device()->name(), " id ", b.device()->id(), ")"));
}

}  // namespace

Tensor Apply(Unary op, const Tensor& x, const char* name) {
  DataType dt = x.data_type();
  if (dt == kFloat16 || dt == kChar) {
    Tensor y = Apply(op, x.AsType(kFloat32), name);
    return dt == kFloat16 ? y.AsType(kFloat16) : y;
  }
  if (dt == kInt && !ClosedOnIntegers(op)) return Apply(op, x.AsType(kFloat32), name);
  Tensor y(x.shape(), x.device(), dt);
  if (x.Size() == 0) return y;
  SINGA_DISPATCH_ARITH(dt, name, { RunUnary<T>(op, x, y); });
  return y;
}

void ApplyInto(Binary op, const Tensor& a, const Tensor& b, Tensor* out, const char* name) {
  CheckDevices(a, b, name);
  CheckDevices(a, *out, name);
  Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  if (shape != out->shape())
    throw ValueError(Msg(name, ": result of shapes ", ShapeStr(a.shape()), " and ",
                         ShapeStr(b.shape()), " has shape ", ShapeStr(shape),
                         " but the output has shape ", ShapeStr(out->shape())));
  if (out->Size() == 0) return;
  DataType dt = out->data_type();
  if (dt == kFloat16 || dt == kChar) {
    Tensor tmp(out->shape(), out->device(), kFloat32);
    ApplyInto(op, a, b, &tmp, name);
    out->CopyData(tmp);
    return;
  }
  // The common case (same dtype and layout, no partial overlap with the output) needs
  // no converted, detached or broadcast views: each costs allocations per call.
  auto ready = [&](const Tensor& t) {
    return t.data_type() == dt && (t.block() != out->block() || t.offset() == out->offset());
  };
  if (ready(a) && ready(b) && SameFlatLayout(*out, a, b)) {
    SINGA_DISPATCH_ARITH(dt, name, { RunBinary<T>(op, a, b, *out); });
    return;
  }
  Tensor x = DetachFrom(a.AsType(dt), *out).Broadcast(shape);
  Tensor y = DetachFrom(b.AsType(dt), *out).Broadcast(shape);
  SINGA_DISPATCH_ARITH(dt, name, { RunBinary<T>(op, x, y, *out); });
}

Tensor Apply(Binary op, const Tensor& a, const Tensor& b, const char* name) {
  CheckDevices(a, b, name);
  Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  DataType ct = ComputeType(a.data_type(), b.data_type());
  Tensor out(shape, a.device(), ct);
  ApplyInto(op, a, b, &out, name);
  if (a.data_type() == kFloat16 && b.data_type() == kFloat16 && !IsComparison(op))
    return out.AsType(kFloat16);
  return out;
}

static Tensor ScalarTensor(double x, DataType like, const std::shared_ptr<Device>& dev) {
  // Integer tensors with a fractional scalar compute in float32.
  DataType dt = like;
  if (dt == kInt && x != std::floor(x)) dt = kFloat32;
  Tensor s(Shape{}, dev, dt == kFloat16 ? kFloat32 : dt);
  s.SetValue(x);
  return s;
}

Tensor ApplyScalar(Binary op, const Tensor& a, double x, const char* name) {
  Tensor s = ScalarTensor(x, a.data_type(), a.device());
  if (a.data_type() == kFloat16) return Apply(op, a.AsType(kFloat32), s, name).AsType(kFloat16);
  return Apply(op, a, s, name);
}

Tensor ApplyScalarLeft(Binary op, double x, const Tensor& a, const char* name) {
  Tensor s = ScalarTensor(x, a.data_type(), a.device());
  if (a.data_type() == kFloat16) return Apply(op, s, a.AsType(kFloat32), name).AsType(kFloat16);
  return Apply(op, s, a, name);
}

void ApplyScalarInto(Binary op, const Tensor& a, double x, Tensor* out, const char* name) {
  Tensor s(Shape{}, a.device(), kDouble);
  s.SetValue(x);
  ApplyInto(op, a, s, out, name);
}

void ApplyInPlace(Binary op, Tensor* a, const Tensor& b, const char* name) {
  ApplyInto(op, *a, b, a, name);
}

void Axpy(double alpha, const Tensor& x, Tensor* y) {
  CheckDevices(x, *y, "Axpy");
  Shape shape = BroadcastShapes(x.shape(), y->shape(), "Axpy");
  if (shape != y->shape())
    throw ValueError(Msg("Axpy: x of shape ", ShapeStr(x.shape()), " cannot be added to y of shape ",
                         ShapeStr(y->shape())));
  if (y->Size() == 0) return;
  DataType dt = y->data_type();
  if (dt != kFloat32 && dt != kDouble) {
    Tensor tmp = y->AsType(kFloat32);
    Axpy(alpha, x, &tmp);
    y->CopyData(tmp);
    return;
  }
  Tensor xb = DetachFrom(x.AsType(dt), *y).Broadcast(shape);
  SINGA_DISPATCH_FLOAT(dt, "Axpy", {
    const T al = static_cast<T>(alpha);
    BinaryLoop<T>(xb, *y, *y, [al](T u, T v) { return al * u + v; });
  });
}

namespace {

template <typename T>
void SelectLoop(const Tensor& c, const Tensor& x, const Tensor& y, const Tensor& out) {
  const T* cp = c.data<T>();
  const T* xp = x.data<T>();
  const T* yp = y.data<T>();
  T* op = out.data<T>();
  const size_t n = out.Size();
  ParallelFor(NumThreadsFor(n), n, [&](size_t i) { op[i] = cp[i] != 0 ? xp[i] : yp[i]; });
}

}  // namespace

Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = BroadcastShapes(BroadcastShapes(cond.shape(), a.shape(), "Where"), b.shape(), "Where");
  DataType dt = ComputeType(a.data_type(), b.data_type());
  Tensor out(shape, a.device(), dt);
  if (out.Size() == 0) return out;
  // An explicit select: out = b + cond * (a - b) would lose infinities.
  Tensor c = cond.AsType(dt).Broadcast(shape).Contiguous();
  Tensor x = a.AsType(dt).Broadcast(shape).Contiguous();
  Tensor y = b.AsType(dt).Broadcast(shape).Contiguous();
  SINGA_DISPATCH_ARITH(dt, "Where", { SelectLoop<T>(c, x, y, out); });
  return out;
}

Tensor Clip(const Tensor& x, double lo, double hi) {
  if (lo > hi) throw ValueError(Msg("Clip: min ", lo, " is greater than max ", hi));
  Tensor y = ApplyScalar(Binary::kMax, x, lo, "Clip");
  ApplyScalarInto(Binary::kMin, y, hi, &y, "Clip");
  return y;
}

}  // namespace singa
