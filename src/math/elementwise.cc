// Element-wise entry points: dtype promotion, NumPy broadcasting and in-place safety;
// the arithmetic runs in the device's elementwise kernels.
#include <cmath>

#include "math/kernels.h"
#include "math/ops.h"
#include "math/pieces.h"

namespace singa {

bool ClosedOnIntegers(Unary op) {
  switch (op) {
#define SINGA_CLOSED_CASE(Name, closed) \
  case Unary::k##Name:                  \
    return closed;
    SINGA_UNARY_OPS(SINGA_CLOSED_CASE)
#undef SINGA_CLOSED_CASE
  }
  return false;
}

namespace {

// The dtype a binary op on dtypes a and b gives (before Apply returns 16-bit floats of
// one dtype in that dtype): ResultDType's promotion (core/common.h), with the 16-bit floats
// and int8 computed in float32, SINGA's rule.
DataType ComputeType(DataType a, DataType b) {
  DataType r = ResultDType(a, b);
  return IsHalfFloat(r) || r == kChar ? kFloat32 : r;
}

// The dtype the kernels compute a result of dtype `dt` in: they take float32, float64,
// int32 and int64; bool and uint8 compute in int32 and keep the low bits (bool: != 0).
DataType KernelType(DataType dt) {
  if (dt == kBool || dt == kUChar) return kInt;
  return IsHalfFloat(dt) || dt == kChar ? kFloat32 : dt;
}


// Operands that all are contiguous with one shape.
bool SameFlatLayout(const Tensor& out, const Tensor& a, const Tensor& b) {
  return a.shape() == out.shape() && b.shape() == out.shape() && out.IsContiguous() &&
         a.IsContiguous() && b.IsContiguous();
}

// Inputs that overlap the output in a different layout are copied first, so
// in-place updates never read values they have already overwritten.
Tensor DetachFrom(const Tensor& in, const Tensor& out) {
  if (in.block() == out.block() &&
      (in.offset() != out.offset() || in.stride() != out.stride() || in.shape() != out.shape()))
    return in.Clone();
  return in;
}

// ---- channel-blocked operands (MemLayout, core/device.h) ----
// An op that maps zeros to zero can run over a blocked tensor's padded buffer as one flat
// array: the result has the same layout, its padding lanes stay zero, and no reorder to
// NCHW and back happens between two oneDNN kernels.

// `t` is the whole of a channel-blocked float32 block (not a view into it).
bool WholeBlocked(const Tensor& t) {
  const auto& b = t.block();
  if (!b || !b->blocked() || t.data_type() != kFloat32 || t.offset() != 0 || t.nDim() != 4 ||
      !t.IsContiguous())
    return false;
  const MemLayout& l = b->layout();
  return l.dtype == kFloat32 && Shape{size_t(l.n), size_t(l.c), size_t(l.h), size_t(l.w)} ==
                                    t.shape();
}

// A plain 1-D view of a blocked block's padded bytes that does not convert it: it reads
// the memory through a borrowed block that keeps the original alive.
Tensor FlatAlias(const Tensor& t) {
  std::shared_ptr<Block> b = t.block();
  const size_t elems = b->size() / SizeOf(t.data_type());
  auto alias = t.device()->BorrowBlock(b->data(), b->size(), [b] {});
  return Tensor(alias, t.device(), t.data_type(), Shape{elems}, Strides{1}, 0);
}

// The flat result of an op over blocked `like`; Blocked() then gives it like's layout.
Tensor FlatLike(const Tensor& like) {
  return Tensor(Shape{like.block()->size() / SizeOf(like.data_type())}, like.device(),
                like.data_type());
}

Tensor Blocked(const Tensor& flat, const Tensor& like) {
  flat.block()->MarkLayout(like.block()->layout());
  return Tensor(flat.block(), like.device(), like.data_type(), like.shape(), like.stride(), 0);
}

// Binary ops with 0 op 0 == 0.
bool KeepsZeros(Binary op) {
  return op == Binary::kAdd || op == Binary::kSub || op == Binary::kMul ||
         op == Binary::kReLUBackward;
}

}  // namespace

Tensor Apply(Unary op, const Tensor& x, const char* name) {
  DataType dt = x.data_type();
  if (op == Unary::kReLU && WholeBlocked(x)) {
    Tensor y = FlatLike(x);
    x.device()->kernels().elementwise.unary(op, FlatAlias(x), y);
    return Blocked(y, x);
  }
  if (NeedsPieces(x)) {
    Tensor y(x.shape(), x.device(), IsHalfFloat(dt) ? dt : kFloat32);
    ForPieces({y, x}, [&](const std::vector<Tensor>& p) {
      Tensor out = p[0];
      out.CopyData(Apply(op, p[1], name));
    });
    return y;
  }
  if (IsHalfFloat(dt) || dt == kChar) {
    Tensor y = Apply(op, x.AsType(kFloat32), name);
    return IsHalfFloat(dt) ? y.AsType(dt) : y;
  }
  if ((IsIntegral(dt) || dt == kBool) && !ClosedOnIntegers(op))
    return Apply(op, x.AsType(kFloat32), name);
  if (dt == kBool && op == Unary::kNeg)
    throw TypeError(Msg(name, ": cannot negate a bool tensor (use Not)"));
  if (dt == kBool || dt == kUChar) return Apply(op, x.AsType(kInt), name).AsType(dt);
  Tensor y(x.shape(), x.device(), dt);
  if (x.Size() == 0) return y;
  x.device()->kernels().elementwise.unary(op, x, y);
  return y;
}

void ApplyInto(Binary op, const Tensor& a, const Tensor& b, Tensor* out, const char* name) {
  CheckSameDevice(name, {&a, &b, out});
  Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  if (shape != out->shape())
    throw ValueError(Msg(name, ": result of shapes ", ShapeStr(a.shape()), " and ",
                         ShapeStr(b.shape()), " has shape ", ShapeStr(shape),
                         " but the output has shape ", ShapeStr(out->shape())));
  if (out->Size() == 0) return;
  DataType dt = out->data_type();
  if (NeedsPieces(*out)) {
    Tensor x = DetachFrom(a, *out).Broadcast(shape), y = DetachFrom(b, *out).Broadcast(shape);
    ForPieces({*out, x, y}, [&](const std::vector<Tensor>& p) {
      Tensor piece = p[0];
      ApplyInto(op, p[1], p[2], &piece, name);
    });
    return;
  }
  if (dt == kBool || dt == kUChar) {
    // Computed in the operands' dtype, so a comparison of int64 or float values into a
    // bool output is exact.
    DataType kt = KernelType(ComputeType(a.data_type(), b.data_type()));
    Tensor tmp(out->shape(), out->device(), kt);
    ApplyInto(op, a, b, &tmp, name);
    out->CopyData(tmp);
    return;
  }
  if (IsHalfFloat(dt) || dt == kChar) {
    Tensor tmp(out->shape(), out->device(), kFloat32);
    ApplyInto(op, a, b, &tmp, name);
    out->CopyData(tmp);
    return;
  }
  const ElementwiseKernels& k = out->device()->kernels().elementwise;
  // The common case (same dtype and layout, no partial overlap with the output) needs
  // no converted, detached or broadcast views: each costs allocations per call.
  auto ready = [&](const Tensor& t) {
    return t.data_type() == dt && (t.block() != out->block() || t.offset() == out->offset());
  };
  if (ready(a) && ready(b) && SameFlatLayout(*out, a, b)) {
    k.binary(op, a, b, *out);
    return;
  }
  Tensor x = DetachFrom(a.AsType(dt), *out).Broadcast(shape);
  Tensor y = DetachFrom(b.AsType(dt), *out).Broadcast(shape);
  k.binary(op, x, y, *out);
}

Tensor Apply(Binary op, const Tensor& a, const Tensor& b, const char* name) {
  CheckSameDevice(name, {&a, &b});
  Shape shape = BroadcastShapes(a.shape(), b.shape(), name);
  DataType ct = ComputeType(a.data_type(), b.data_type());
  if (ct == kBool) {
    // NumPy's rules for bool operands: + is or, * is and, - has no meaning, / is true
    // division (float32 here), and the other arithmetic gives int64.
    if (op == Binary::kSub)
      throw TypeError(Msg(name, ": cannot subtract bool tensors (use Xor)"));
    if (op == Binary::kDiv) ct = kFloat32;
    if (op == Binary::kPow || op == Binary::kMod || op == Binary::kFMod) ct = kInt64;
  }
  if (KeepsZeros(op) && WholeBlocked(a) && WholeBlocked(b) &&
      a.block()->layout() == b.block()->layout() && a.block()->size() == b.block()->size()) {
    Tensor out = FlatLike(a);
    a.device()->kernels().elementwise.binary(op, FlatAlias(a), FlatAlias(b), out);
    return Blocked(out, a);
  }
  // A 16-bit float result computed straight into its dtype: the same single rounding,
  // without a float32 result of the full size.
  if (IsHalfFloat(a.data_type()) && a.data_type() == b.data_type() &&
      Product(shape) > kConvertPiece)
    ct = a.data_type();
  Tensor out(shape, a.device(), ct);
  ApplyInto(op, a, b, &out, name);
  // 16-bit float operands of one dtype compute in float32 and give that dtype, comparisons
  // included (as with a scalar operand, and as SINGA's comparisons keep their operands' dtype).
  if (IsHalfFloat(a.data_type()) && a.data_type() == b.data_type())
    return out.AsType(a.data_type());
  return out;
}

Tensor ApplyBool(Binary op, const Tensor& a, const Tensor& b, const char* name) {
  CheckSameDevice(name, {&a, &b});
  Tensor out(BroadcastShapes(a.shape(), b.shape(), name), a.device(), kBool);
  ApplyInto(op, a, b, &out, name);
  return out;
}

static Tensor ScalarTensor(double x, DataType like, const std::shared_ptr<Device>& dev) {
  // A scalar takes an integer tensor's dtype (as a Python int does in NumPy) when it is a
  // value of that dtype; other whole numbers are int64 (float32 past int64's range) and
  // fractional ones float32, so integer tensors promote instead of truncating the scalar.
  // With a bool tensor a whole number is int64 (NumPy's bool + 1 is an integer).
  DataType dt = like;
  if (IsIntegral(dt) || dt == kBool) {
    const bool whole = x == std::floor(x) && std::fabs(x) < 9.2e18;
    double lo = 0, hi = -1;  // bool: no value fits
    if (dt == kInt) lo = INT32_MIN, hi = INT32_MAX;
    if (dt == kInt64) lo = -9.2e18, hi = 9.2e18;
    if (dt == kUChar) hi = 255;
    if (dt == kChar) lo = -128, hi = 127;
    if (!whole) dt = kFloat32;
    else if (x < lo || x > hi) dt = kInt64;
  }
  Tensor s(Shape{}, dev, ComputeDType(dt));
  s.SetValue(x);
  return s;
}

// A 16-bit float tensor too large to widen whole, with a scalar: computed into its own
// dtype piece by piece, rounding once as the float32 path does.
static Tensor HalfWithScalar(Binary op, const Tensor& a, const Tensor& s, bool scalar_left,
                             const char* name) {
  Tensor out(a.shape(), a.device(), a.data_type());
  ApplyInto(op, scalar_left ? s : a, scalar_left ? a : s, &out, name);
  return out;
}

Tensor ApplyScalar(Binary op, const Tensor& a, double x, const char* name) {
  Tensor s = ScalarTensor(x, a.data_type(), a.device());
  DataType dt = a.data_type();
  if (IsHalfFloat(dt) && NeedsPieces(a)) return HalfWithScalar(op, a, s, false, name);
  if (IsHalfFloat(dt)) return Apply(op, a.AsType(kFloat32), s, name).AsType(dt);
  return Apply(op, a, s, name);
}

Tensor ApplyScalarLeft(Binary op, double x, const Tensor& a, const char* name) {
  Tensor s = ScalarTensor(x, a.data_type(), a.device());
  DataType dt = a.data_type();
  if (IsHalfFloat(dt) && NeedsPieces(a)) return HalfWithScalar(op, a, s, true, name);
  if (IsHalfFloat(dt)) return Apply(op, s, a.AsType(kFloat32), name).AsType(dt);
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
  CheckSameDevice("Axpy", {&x, y});
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
  y->device()->kernels().elementwise.axpy(alpha, xb, *y);
}

Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  CheckSameDevice("Where", {&cond, &a, &b});
  Shape shape = BroadcastShapes(BroadcastShapes(cond.shape(), a.shape(), "Where"), b.shape(), "Where");
  // A select computes nothing: every dtype (int8 and the 16-bit floats included) is
  // kept, mixed ones promote.
  DataType dt = ResultDType(a.data_type(), b.data_type());
  Tensor out(shape, a.device(), dt);
  if (out.Size() == 0) return out;
  // An explicit select: out = b + cond * (a - b) would lose infinities.
  Tensor c = cond.AsType(kBool).Broadcast(shape).Contiguous();
  Tensor x = a.AsType(dt).Broadcast(shape).Contiguous();
  Tensor y = b.AsType(dt).Broadcast(shape).Contiguous();
  out.device()->kernels().elementwise.where(c, x, y, out);
  return out;
}

Tensor Clip(const Tensor& x, double lo, double hi) {
  if (lo > hi) throw ValueError(Msg("Clip: min ", lo, " is greater than max ", hi));
  Tensor y = ApplyScalar(Binary::kMax, x, lo, "Clip");
  ApplyScalarInto(Binary::kMin, y, hi, &y, "Clip");
  return y;
}

}  // namespace singa
