// Shape-changing entry points: concat, slice, repeat, tile, pad and one-hot are copies
// and fills of views (the device's copy/fill kernels); take and scatter/gather check
// their indices here and run the device's index kernels.
#include <algorithm>
#include <cmath>

#include "math/kernels.h"
#include "math/ops.h"

namespace singa {

Tensor ConcatOn(const std::vector<Tensor>& ts, int64_t axis) {
  if (ts.empty()) throw ValueError("ConcatOn: needs at least one tensor");
  const Tensor& first = ts[0];
  for (const Tensor& t : ts) CheckSameDevice("ConcatOn", {&first, &t});
  size_t ax = NormalizeAxis(axis, first.nDim(), "ConcatOn");
  Shape shape = first.shape();
  shape[ax] = 0;
  DataType dt = first.data_type();
  for (const Tensor& t : ts) {
    if (t.nDim() != first.nDim())
      throw ValueError(Msg("ConcatOn: tensors ", ShapeStr(first.shape()), " and ", ShapeStr(t.shape()),
                           " differ in rank"));
    for (size_t i = 0; i < t.nDim(); ++i)
      if (i != ax && t.shape(i) != first.shape(i))
        throw ValueError(Msg("ConcatOn: shapes ", ShapeStr(first.shape()), " and ", ShapeStr(t.shape()),
                             " differ outside axis ", ax));
    dt = ResultDType(dt, t.data_type());
    shape[ax] += t.shape(ax);
  }
  Tensor out(shape, first.device(), dt);
  size_t pos = 0;
  for (const Tensor& t : ts) {
    size_t n = t.shape(ax);
    if (n) out.Slice(ax, pos, pos + n).CopyData(t);
    pos += n;
  }
  return out;
}

Tensor SliceOn(const Tensor& t, size_t start, size_t end, int64_t axis) {
  size_t ax = NormalizeAxis(axis, t.nDim(), "SliceOn");
  if (start > end || end > t.shape(ax))
    throw IndexError(Msg("SliceOn: range [", start, ", ", end, ") is out of bounds for axis ", ax,
                         " of size ", t.shape(ax)));
  return t.Slice(ax, start, end).Clone();
}

Tensor Repeat(const Tensor& t, const std::vector<size_t>& repeats, int64_t axis) {
  // axis == INT64_MIN flattens first (NumPy's axis=None).
  Tensor src = axis == INT64_MIN ? t.Contiguous().Reshape({t.Size()}) : t;
  size_t ax = axis == INT64_MIN ? 0 : NormalizeAxis(axis, src.nDim(), "Repeat");
  size_t n = src.shape(ax);
  if (repeats.size() != 1 && repeats.size() != n)
    throw ValueError(Msg("Repeat: ", repeats.size(), " repeat counts for an axis of size ", n));
  Shape shape = src.shape();
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += repeats.size() == 1 ? repeats[0] : repeats[i];
  shape[ax] = total;
  Tensor out(shape, src.device(), src.data_type());
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t r = repeats.size() == 1 ? repeats[0] : repeats[i];
    if (!r) continue;
    Shape bs = src.shape();
    bs[ax] = r;
    out.Slice(ax, pos, pos + r).CopyData(src.Slice(ax, i, i + 1).Broadcast(bs));
    pos += r;
  }
  return out;
}

Tensor Tile(const Tensor& t, const std::vector<size_t>& reps_in) {
  // Like np.tile: reps shorter than the rank are padded with leading ones, and vice versa.
  size_t nd = std::max(t.nDim(), reps_in.size());
  std::vector<size_t> reps(nd - reps_in.size(), 1);
  reps.insert(reps.end(), reps_in.begin(), reps_in.end());
  Tensor src = t;
  while (src.nDim() < nd) src = src.Unsqueeze(0);
  // View src as (1, d0, 1, d1, ...) broadcast to (r0, d0, r1, d1, ...).
  Shape expanded, bshape, out_shape;
  Tensor v = src;
  for (size_t i = 0; i < nd; ++i) v = v.Unsqueeze(2 * i);
  for (size_t i = 0; i < nd; ++i) {
    bshape.push_back(reps[i]);
    bshape.push_back(src.shape(i));
    out_shape.push_back(reps[i] * src.shape(i));
  }
  return v.Broadcast(bshape).Clone().Reshape(out_shape);
}

namespace {

// Index values checked against `limit` (negative indices count from the end, as NumPy
// and ONNX allow). Integer indices are read as int64 (exact; int64 is ONNX's). Float
// indices are read as float64 and truncated toward zero, as a conversion to int would, but
// checked first: converting a NaN or a value past 2^63 to an integer is undefined.
std::vector<int64_t> CheckedIndices(const Tensor& idx, size_t limit, const char* fn) {
  const bool ints = IsIntegral(idx.data_type()) || idx.data_type() == kBool;
  Tensor ii = OnHost(idx.AsType(ints ? kInt64 : kDouble).Contiguous());
  const int64_t* ip = ints ? ii.data<int64_t>() : nullptr;
  const double* dp = ints ? nullptr : ii.data<double>();
  std::vector<int64_t> out(ii.Size());
  const int64_t n = static_cast<int64_t>(limit);
  const double lim = static_cast<double>(limit);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t v;
    if (ip) {
      v = ip[i];
      if (v < -n || v >= n)
        throw IndexError(Msg(fn, ": index ", v, " is out of bounds for an axis of size ", limit));
    } else {
      const double d = std::trunc(dp[i]);
      if (!(d >= -lim && d < lim)) {  // NaN fails too
        const bool whole = std::fabs(d) < 9e18;  // printed as an integer when it is one
        throw IndexError(whole ? Msg(fn, ": index ", static_cast<int64_t>(d),
                                     " is out of bounds for an axis of size ", limit)
                               : Msg(fn, ": index ", d, " is out of bounds for an axis of size ", limit));
      }
      v = static_cast<int64_t>(d);
    }
    out[i] = v < 0 ? v + n : v;
  }
  return out;
}

}  // namespace

Tensor Take(const Tensor& t, const Tensor& indices, int64_t axis) {
  CheckSameDevice("Gather", {&t, &indices});
  size_t ax = NormalizeAxis(axis, t.nDim(), "Gather");
  std::vector<int64_t> idx = CheckedIndices(indices, t.shape(ax), "Gather");
  Shape shape(t.shape().begin(), t.shape().begin() + static_cast<int64_t>(ax));
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), t.shape().begin() + static_cast<int64_t>(ax) + 1, t.shape().end());
  Tensor out(shape, t.device(), t.data_type());
  if (out.Size() == 0) return out;
  t.device()->kernels().shape.take(t.Contiguous(), idx, ax, out);
  return out;
}

namespace {

void CheckElementsShapes(const Tensor& t, const Tensor& indices, size_t ax, const char* fn) {
  if (indices.nDim() != t.nDim())
    throw ValueError(Msg(fn, ": indices ", ShapeStr(indices.shape()), " and data ", ShapeStr(t.shape()),
                         " must have the same rank"));
  for (size_t i = 0; i < t.nDim(); ++i)
    if (i != ax && indices.shape(i) > t.shape(i))
      throw ValueError(Msg(fn, ": indices ", ShapeStr(indices.shape()), " exceed data ",
                           ShapeStr(t.shape()), " on axis ", i));
}

}  // namespace

Tensor GatherElements(const Tensor& t, const Tensor& indices, int64_t axis) {
  CheckSameDevice("GatherElements", {&t, &indices});
  size_t ax = NormalizeAxis(axis, t.nDim(), "GatherElements");
  CheckElementsShapes(t, indices, ax, "GatherElements");
  std::vector<int64_t> idx = CheckedIndices(indices, t.shape(ax), "GatherElements");
  Tensor out(indices.shape(), t.device(), t.data_type());
  if (out.Size() == 0) return out;
  t.device()->kernels().shape.gather_elements(t.Contiguous(), indices.shape(), idx, ax, out);
  return out;
}

Tensor ScatterElements(const Tensor& t, const Tensor& indices, const Tensor& src, int64_t axis, bool add) {
  CheckSameDevice("ScatterElements", {&t, &indices, &src});
  size_t ax = NormalizeAxis(axis, t.nDim(), "ScatterElements");
  CheckElementsShapes(t, indices, ax, "ScatterElements");
  if (src.shape() != indices.shape())
    throw ValueError(Msg("ScatterElements: updates ", ShapeStr(src.shape()), " and indices ",
                         ShapeStr(indices.shape()), " differ in shape"));
  std::vector<int64_t> idx = CheckedIndices(indices, t.shape(ax), "ScatterElements");
  // Replacing moves elements of any dtype; adding computes in a kernel dtype.
  DataType dt = t.data_type();
  if (add && dt != kDouble && dt != kInt && dt != kInt64) dt = IsIntegral(dt) || dt == kBool ? kInt64 : kFloat32;
  Tensor out = t.AsType(dt).Clone();
  if (!idx.empty())
    t.device()->kernels().shape.scatter_elements(out, indices.shape(), idx,
                                                 src.AsType(dt).Contiguous(), ax, add);
  return t.data_type() == dt ? out : out.AsType(t.data_type());
}

Tensor OneHot(const Tensor& indices, size_t depth, double on, double off, DataType dtype) {
  std::vector<int64_t> idx = CheckedIndices(indices, depth, "OneHot");
  Shape shape = indices.shape();
  shape.push_back(depth);
  Tensor out(shape, indices.device(), dtype);
  out.SetValue(off);
  Tensor flat = out.Reshape({idx.size(), depth});
  for (size_t i = 0; i < idx.size(); ++i)
    flat.Slice(0, i, i + 1).Slice(1, static_cast<size_t>(idx[i]), static_cast<size_t>(idx[i]) + 1).SetValue(on);
  return out;
}

Tensor Pad(const Tensor& t, const std::vector<std::pair<size_t, size_t>>& pads, int mode, double value) {
  if (mode < 0 || mode > 2)
    throw ValueError(Msg("Pad: mode ", mode, " is not 0 (constant), 1 (edge) or 2 (reflect)"));
  if (pads.size() != t.nDim())
    throw ValueError(Msg("Pad: ", pads.size(), " (before, after) pairs for a tensor of rank ", t.nDim()));
  Shape shape = t.shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (mode != 0 && (pads[i].first || pads[i].second) && t.shape(i) == 0)
      throw ValueError(Msg("Pad: cannot edge/reflect-pad the empty axis ", i));
    if (mode == 2 && (pads[i].first >= t.shape(i) || pads[i].second >= t.shape(i)) &&
        (pads[i].first || pads[i].second))
      throw ValueError(Msg("Pad: reflect padding ", pads[i].first, "/", pads[i].second,
                           " must be smaller than axis ", i, " of size ", t.shape(i)));
    shape[i] += pads[i].first + pads[i].second;
  }
  Tensor out(shape, t.device(), t.data_type());
  out.SetValue(value);
  Tensor inner = out;
  for (size_t i = 0; i < shape.size(); ++i) inner = inner.Slice(i, pads[i].first, pads[i].first + t.shape(i));
  inner.CopyData(t);
  if (mode == 0) return out;
  // Fill each axis's borders from the (already filled) interior, axis by axis.
  for (size_t ax = 0; ax < shape.size(); ++ax) {
    Tensor region = out;
    for (size_t j = ax + 1; j < shape.size(); ++j) region = region.Slice(j, pads[j].first, pads[j].first + t.shape(j));
    size_t b = pads[ax].first, n = t.shape(ax);
    for (size_t k = 0; k < pads[ax].first; ++k) {
      size_t src = mode == 1 ? b : b + (b - k);
      region.Slice(ax, k, k + 1).CopyData(region.Slice(ax, src, src + 1));
    }
    for (size_t k = 0; k < pads[ax].second; ++k) {
      size_t dst = b + n + k;
      size_t src = mode == 1 ? b + n - 1 : b + n - 2 - k;
      region.Slice(ax, dst, dst + 1).CopyData(region.Slice(ax, src, src + 1));
    }
  }
  return out;
}

}  // namespace singa
