// Reduction entry points: axes, keepdims and dtypes; softmax and cross-entropy with
// their label checks. The loops run in the device's reduce kernels.
#include <algorithm>
#include <cmath>

#include "math/kernels.h"
#include "math/ops.h"
#include "math/pieces.h"

namespace singa {

namespace {

std::vector<bool> ReducedAxes(const std::vector<int64_t>& axes, size_t ndim, const char* fn) {
  std::vector<bool> red(ndim, axes.empty());
  for (int64_t a : axes) {
    size_t ax = NormalizeAxis(a, ndim, fn);
    if (red[ax] && !axes.empty())
      throw ValueError(Msg(fn, ": axis ", a, " appears more than once"));
    red[ax] = true;
  }
  return red;
}

Shape ReducedShape(const Shape& s, const std::vector<bool>& red, bool keepdims) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!red[i]) out.push_back(s[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

Tensor Reduce(ReduceKind kind, const Tensor& in, const std::vector<int64_t>& axes,
              bool keepdims, const char* fn);

// The sum over the axes marked in `red` of a narrow-dtype tensor too large to widen whole,
// as float64 with the reduced axes kept as 1: each piece is widened to float64, summed, and
// added into the part of the total it belongs to.
Tensor WideSumInPieces(const Tensor& in, const std::vector<bool>& red) {
  Tensor total(ReducedShape(in.shape(), red, true), in.device(), kDouble);
  total.SetValue(0);
  std::vector<int64_t> axes;
  for (size_t i = 0; i < red.size(); ++i)
    if (red[i]) axes.push_back(static_cast<int64_t>(i));
  ForPieces({in, total.Broadcast(in.shape())}, [&](const std::vector<Tensor>& p) {
    Tensor part = Reduce(ReduceKind::kSum, p[0].AsType(kDouble), axes, true, "Sum");
    Tensor into = p[1];
    for (int64_t a : axes) into = into.Slice(static_cast<size_t>(a), 0, 1);
    ApplyInto(Binary::kAdd, into, part, &into, "Sum");
  });
  return total;
}

Tensor Reduce(ReduceKind kind, const Tensor& in, const std::vector<int64_t>& axes,
              bool keepdims, const char* fn) {
  DataType dt = in.data_type();
  if (kind == ReduceKind::kSum && NeedsPieces(in)) {
    std::vector<bool> red = ReducedAxes(axes, in.nDim(), fn);
    Tensor s = WideSumInPieces(in, red).Reshape(ReducedShape(in.shape(), red, keepdims));
    return s.AsType(IsHalfFloat(dt) ? dt : kFloat32);
  }
  if (IsHalfFloat(dt) || dt == kChar) {
    Tensor r = Reduce(kind, in.AsType(kFloat32), axes, keepdims, fn);
    return IsHalfFloat(dt) ? r.AsType(dt) : r;
  }
  if (dt == kBool || dt == kUChar) {
    // Sums and products count in int64 (NumPy's sum of bools); max and min keep the dtype.
    if (kind == ReduceKind::kSum || kind == ReduceKind::kProd)
      return Reduce(kind, in.AsType(kInt64), axes, keepdims, fn);
    return Reduce(kind, in.AsType(kInt), axes, keepdims, fn).AsType(dt);
  }
  if (dt != kFloat32 && dt != kDouble && dt != kInt && dt != kInt64)
    throw TypeError(Msg(fn, ": unsupported dtype ", DataTypeName(dt)));
  std::vector<bool> red = ReducedAxes(axes, in.nDim(), fn);
  Tensor out(ReducedShape(in.shape(), red, keepdims), in.device(), dt);
  if (out.Size() == 0) return out;
  in.device()->kernels().reduce.reduce(kind, in.Contiguous(), red, out);
  return out;
}

}  // namespace

Tensor ReduceSum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return Reduce(ReduceKind::kSum, x, axes, keepdims, "Sum");
}

Tensor ReduceProd(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return Reduce(ReduceKind::kProd, x, axes, keepdims, "ReduceProd");
}

Tensor ReduceMax(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  if (x.Size() == 0) throw ValueError("ReduceMax: cannot take the maximum of an empty tensor");
  return Reduce(ReduceKind::kMax, x, axes, keepdims, "ReduceMax");
}

Tensor ReduceMin(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  if (x.Size() == 0) throw ValueError("ReduceMin: cannot take the minimum of an empty tensor");
  return Reduce(ReduceKind::kMin, x, axes, keepdims, "ReduceMin");
}

Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  // A 16-bit float sum is divided before it is rounded to its dtype.
  const DataType dt = x.data_type();
  if (NeedsPieces(x)) {
    std::vector<bool> red = ReducedAxes(axes, x.nDim(), "Average");
    Tensor s = WideSumInPieces(x, red).Reshape(ReducedShape(x.shape(), red, keepdims));
    double count = static_cast<double>(x.Size() / std::max<size_t>(1, s.Size()));
    return ApplyScalar(Binary::kDiv, s, count, "Average").AsType(IsHalfFloat(dt) ? dt : kFloat32);
  }
  Tensor src = IsIntegral(dt) || dt == kBool || IsHalfFloat(dt) ? x.AsType(kFloat32) : x;
  Tensor s = ReduceSum(src, axes, keepdims);
  if (s.Size() == 0) return IsHalfFloat(dt) ? s.AsType(dt) : s;
  double count = static_cast<double>(x.Size() / s.Size());
  Tensor mean = ApplyScalar(Binary::kDiv, s, count, "Average");
  return IsHalfFloat(dt) ? mean.AsType(dt) : mean;
}

double SumAll(const Tensor& x) {
  if (NeedsPieces(x))
    return OnHost(WideSumInPieces(x, std::vector<bool>(x.nDim(), true))).data<double>()[0];
  const bool widen = x.data_type() == kFloat32 || IsHalfFloat(x.data_type());
  Tensor s = ReduceSum(widen ? x.AsType(kDouble) : x, {}, false);
  return OnHost(s.AsType(kDouble)).data<double>()[0];
}

namespace {

// Integers keep their dtype (int64 indices are exact); the rest compare in float32.
Tensor ArgExtreme(const Tensor& in, int64_t axis, bool min, const char* fn) {
  size_t ax = NormalizeAxis(axis, in.nDim(), fn);
  if (in.shape(ax) == 0) throw ValueError(Msg(fn, ": the reduced axis is empty"));
  // The result holds int32 positions: a longer axis would wrap them.
  if (in.shape(ax) > static_cast<size_t>(INT32_MAX))
    throw ValueError(Msg(fn, ": axis ", ax, " of shape ", ShapeStr(in.shape()),
                         " is longer than the int32 positions of the result can count (",
                         INT32_MAX, ")"));
  DataType dt = in.data_type();
  DataType kt = dt == kDouble || dt == kInt || dt == kInt64 ? dt : kFloat32;
  Tensor x = in.AsType(kt).Contiguous();
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + static_cast<int64_t>(ax));
  Tensor out(out_shape, x.device(), kInt);
  if (min) x.device()->kernels().reduce.argmin(x, ax, out);
  else x.device()->kernels().reduce.argmax(x, ax, out);
  return out;
}

}  // namespace

Tensor ArgMax(const Tensor& in, int64_t axis) { return ArgExtreme(in, axis, false, "ArgMax"); }
Tensor ArgMin(const Tensor& in, int64_t axis) { return ArgExtreme(in, axis, true, "ArgMin"); }

Tensor CumSum(const Tensor& in, int64_t axis, bool exclusive, bool reverse) {
  size_t ax = NormalizeAxis(axis, in.nDim(), "CumSum");
  DataType dt = in.data_type();
  if (IsHalfFloat(dt)) return CumSum(in.AsType(kFloat32), axis, exclusive, reverse).AsType(dt);
  DataType kt = dt == kChar || dt == kUChar || dt == kBool ? kInt64 : dt;
  Tensor x = in.AsType(kt).Contiguous();
  Tensor out(x.shape(), x.device(), kt);
  if (out.Size() == 0) return out;
  x.device()->kernels().reduce.cumsum(x, ax, exclusive, reverse, out);
  return out;
}

Tensor SumToShape(const Tensor& dy, const Shape& shape) {
  if (dy.shape() == shape) return dy;
  const Shape& s = dy.shape();
  if (shape.size() > s.size())
    throw ValueError(Msg("SumToShape: cannot reduce ", ShapeStr(s), " to ", ShapeStr(shape)));
  size_t lead = s.size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i < lead) { axes.push_back(static_cast<int64_t>(i)); continue; }
    size_t target = shape[i - lead];
    if (target == 1 && s[i] != 1) axes.push_back(static_cast<int64_t>(i));
    else if (target != s[i])
      throw ValueError(Msg("SumToShape: cannot reduce ", ShapeStr(s), " to ", ShapeStr(shape)));
  }
  if (axes.empty()) return dy.Reshape(shape);
  return ReduceSum(dy, axes, true).Reshape(shape);
}

namespace {

Tensor SoftmaxImpl(const Tensor& in, int64_t axis, bool log, const char* fn) {
  size_t ax = NormalizeAxis(axis, in.nDim(), fn);
  DataType dt = in.data_type();
  Tensor x = (dt == kDouble ? in : in.AsType(kFloat32)).Contiguous();
  Tensor y(x.shape(), x.device(), x.data_type());
  if (x.Size() == 0) return y;
  x.device()->kernels().reduce.softmax(x, ax, log, y);
  return IsHalfFloat(dt) ? y.AsType(dt) : y;
}

}  // namespace

Tensor SoftMax(const Tensor& x, int64_t axis) { return SoftmaxImpl(x, axis, false, "SoftMax"); }
Tensor LogSoftMax(const Tensor& x, int64_t axis) { return SoftmaxImpl(x, axis, true, "LogSoftMax"); }

Tensor SoftMaxBackward(const Tensor& dy, int64_t axis, const Tensor& y) {
  CheckSameDevice("SoftMaxBackward", {&dy, &y});
  if (dy.shape() != y.shape())
    throw ValueError(Msg("SoftMaxBackward: dy ", ShapeStr(dy.shape()), " and y ",
                         ShapeStr(y.shape()), " differ in shape"));
  // 16-bit floats: one rounding at the end, not one per step.
  if (IsHalfFloat(y.data_type()) && dy.data_type() == y.data_type())
    return SoftMaxBackward(dy.AsType(kFloat32), axis, y.AsType(kFloat32)).AsType(y.data_type());
  // dx = y * (dy - sum(dy * y, axis))
  size_t ax = NormalizeAxis(axis, y.nDim(), "SoftMaxBackward");
  Tensor prod = Apply(Binary::kMul, dy, y, "SoftMaxBackward");
  Tensor s = ReduceSum(prod, {static_cast<int64_t>(ax)}, true);
  Tensor diff = Apply(Binary::kSub, dy, s, "SoftMaxBackward");
  return Apply(Binary::kMul, y, diff, "SoftMaxBackward");
}

namespace {

// Labels as int32 class indices (N,), checked to be whole numbers in [0, C).
Tensor LabelIndices(const Tensor& p, const Tensor& t, const char* fn) {
  size_t N = p.shape(0), C = p.shape(1);
  Tensor idx = t.AsType(kInt).Contiguous();
  if (t.data_type() != kInt) {
    Tensor back = idx.AsType(t.data_type());
    Tensor diff = Apply(Binary::kSub, back, t, fn);
    if (diff.L1() != 0)
      throw ValueError(Msg(fn, ": labels of dtype ", DataTypeName(t.data_type()),
                           " must hold whole class indices"));
  }
  if (idx.Size() != N)
    throw ValueError(Msg(fn, ": ", idx.Size(), " labels for a batch of ", N));
  Tensor host = OnHost(idx);
  const int32_t* lp = host.data<int32_t>();
  for (size_t i = 0; i < N; ++i)
    if (lp[i] < 0 || static_cast<size_t>(lp[i]) >= C)
      throw IndexError(Msg(fn, ": label ", lp[i], " at position ", i, " is out of range for ", C,
                           " classes"));
  return idx;
}

bool IsIndexLabels(const Tensor& p, const Tensor& t) {
  return t.nDim() == 1 || (t.nDim() == 2 && t.shape(1) == 1 && p.shape(1) != 1);
}

void CheckProbShape(const Tensor& p, const Tensor& t, const char* fn) {
  CheckSameDevice(fn, {&p, &t});
  if (p.nDim() != 2)
    throw ValueError(Msg(fn, ": predictions must be 2-D (batch, classes), got ", ShapeStr(p.shape())));
  if (!IsIndexLabels(p, t) && t.shape() != p.shape())
    throw ValueError(Msg(fn, ": targets of shape ", ShapeStr(t.shape()),
                         " match neither labels (", p.shape(0), ",) nor predictions ",
                         ShapeStr(p.shape())));
}

}  // namespace

Tensor CrossEntropyFwd(const Tensor& pin, const Tensor& t) {
  CheckProbShape(pin, t, "CrossEntropyFwd");
  DataType dt = pin.data_type() == kDouble ? kDouble : kFloat32;
  Tensor p = pin.AsType(dt).Contiguous();
  Tensor loss(Shape{p.shape(0)}, p.device(), dt);
  const bool index_labels = IsIndexLabels(p, t);
  Tensor target = index_labels ? LabelIndices(p, t, "CrossEntropyFwd") : t.AsType(dt).Contiguous();
  p.device()->kernels().reduce.cross_entropy(p, target, index_labels, loss);
  return loss;
}

Tensor SoftmaxCrossEntropyBwd(const Tensor& pin, const Tensor& t) {
  CheckProbShape(pin, t, "SoftmaxCrossEntropyBwd");
  DataType dt = pin.data_type() == kDouble ? kDouble : kFloat32;
  Tensor g = pin.AsType(dt).Clone();
  // The gradient of 16-bit float logits has their dtype (the loss itself is float32).
  const DataType out = IsHalfFloat(pin.data_type()) ? pin.data_type() : dt;
  if (IsIndexLabels(g, t)) {
    Tensor idx = LabelIndices(g, t, "SoftmaxCrossEntropyBwd");
    g.device()->kernels().reduce.subtract_at_labels(g, idx);
    return g.AsType(out);
  }
  return Apply(Binary::kSub, g, t.AsType(dt), "SoftmaxCrossEntropyBwd").AsType(out);
}

}  // namespace singa
