// Reductions over any set of axes, softmax and cross-entropy.
#include <algorithm>
#include <cfloat>
#include <limits>
#include <numeric>

#include "math/iter.h"
#include "math/ops.h"
#include "math/vecmath.h"

namespace singa {

namespace {

// A reduction: `Acc` is the type partial results are combined in (double for sums of
// floats, so long reductions keep their precision).
template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
  static T init() { return T(0); }
  static T apply(T a, T b) { return a + b; }
  static Acc acc(Acc a, Acc b) { return a + b; }
};
template <typename T>
struct MaxOp {
  using Acc = T;
  static T init() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  static T apply(T a, T b) { return b > a || b != b ? b : a; }
  static Acc acc(Acc a, Acc b) { return apply(a, b); }
};
template <typename T>
struct MinOp {
  using Acc = T;
  static T init() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
  }
  static T apply(T a, T b) { return b < a || b != b ? b : a; }
  static Acc acc(Acc a, Acc b) { return apply(a, b); }
};

constexpr size_t kBlock = 1024;

// Reduces p[0..n) (contiguous).
template <typename T, typename Op>
typename Op::Acc ReduceRow(const T* p, size_t n) {
  typename Op::Acc total = Op::init();
  for (size_t c = 0; c < n; c += kBlock) {
    size_t m = std::min(kBlock, n - c);
    T s = Op::init();
    if constexpr (std::is_same_v<Op, SumOp<T>>) {
      // Sixteen explicit lanes (each adds at most 64 values of a block) keep the rounding
      // error small and make the result the same at every optimisation level, whether
      // or not the compiler vectorises the loop.
      constexpr size_t L = 16;
      T lane[L] = {};
      size_t full = m / L * L;
      for (size_t i = 0; i < full; i += L)
        for (size_t j = 0; j < L; ++j) lane[j] += p[c + i + j];
      for (size_t i = full; i < m; ++i) lane[i - full] += p[c + i];
      for (size_t w = L / 2; w > 0; w /= 2)
        for (size_t j = 0; j < w; ++j) lane[j] += lane[j + w];
      s = lane[0];
    } else {
      for (size_t i = 0; i < m; ++i) s = Op::apply(s, p[c + i]);
    }
    total = Op::acc(total, static_cast<typename Op::Acc>(s));
  }
  return total;
}

// x viewed as (outer, R, inner), contiguous; out is (outer, inner) of type O
// (T itself, or Op::Acc for the partial results of a multi-step reduction).
template <typename T, typename Op, typename O = T>
void ReduceMiddle(const T* x, O* out, size_t outer, size_t R, size_t inner) {
  using Acc = typename Op::Acc;
  const int threads = NumThreadsFor(outer * R * inner);
  if (inner == 1) {
    if (outer >= static_cast<size_t>(threads)) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (size_t o = 0; o < outer; ++o) out[o] = static_cast<O>(ReduceRow<T, Op>(x + o * R, R));
    } else {
      for (size_t o = 0; o < outer; ++o) {
        Acc total = Op::init();
        const size_t nchunks = (R + kBlock * 16 - 1) / (kBlock * 16);
        std::vector<Acc> parts(nchunks, Op::init());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (size_t c = 0; c < nchunks; ++c) {
          size_t b = c * kBlock * 16;
          parts[c] = ReduceRow<T, Op>(x + o * R + b, std::min(kBlock * 16, R - b));
        }
        for (Acc v : parts) total = Op::acc(total, v);
        out[o] = static_cast<O>(total);
      }
    }
    return;
  }
  // Split the inner axis into column blocks so every thread has work.
  const size_t col_block = std::max<size_t>(64, inner / std::max(1, threads));
  const size_t nblocks = (inner + col_block - 1) / col_block;
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2) if (threads > 1)
  for (size_t o = 0; o < outer; ++o) {
    for (size_t blk = 0; blk < nblocks; ++blk) {
      size_t i0 = blk * col_block, m = std::min(col_block, inner - i0);
      std::vector<Acc> acc(m, Op::init());
      std::vector<T> part(m);
      for (size_t r0 = 0; r0 < R; r0 += 256) {
        std::fill(part.begin(), part.end(), Op::init());
        size_t r1 = std::min(R, r0 + 256);
        for (size_t r = r0; r < r1; ++r) {
          const T* row = x + (o * R + r) * inner + i0;
#pragma omp simd
          for (size_t i = 0; i < m; ++i) part[i] = Op::apply(part[i], row[i]);
        }
        for (size_t i = 0; i < m; ++i) acc[i] = Op::acc(acc[i], static_cast<Acc>(part[i]));
      }
      for (size_t i = 0; i < m; ++i) out[o * inner + i0 + i] = static_cast<O>(acc[i]);
    }
  }
}

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

template <template <typename> class OpT>
Tensor Reduce(const Tensor& in, const std::vector<int64_t>& axes, bool keepdims, const char* fn) {
  DataType dt = in.data_type();
  if (dt == kFloat16 || dt == kChar) {
    Tensor r = Reduce<OpT>(in.AsType(kFloat32), axes, keepdims, fn);
    return dt == kFloat16 ? r.AsType(kFloat16) : r;
  }
  const Shape& s = in.shape();
  std::vector<bool> red = ReducedAxes(axes, s.size(), fn);
  Shape out_shape = ReducedShape(s, red, keepdims);
  Tensor out(out_shape, in.device(), dt);
  if (out.Size() == 0) return out;
  // Group the axes into runs of kept/reduced; one reduced run gives (outer, R, inner).
  std::vector<std::pair<size_t, bool>> runs;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 1) continue;
    if (!runs.empty() && runs.back().second == red[i]) runs.back().first *= s[i];
    else runs.push_back({s[i], red[i]});
  }
  Tensor x = in.Contiguous();
  SINGA_DISPATCH_ARITH(dt, fn, {
    using Acc = typename OpT<T>::Acc;
    if (Product(s) == 0) {
      out.SetValue(static_cast<double>(OpT<T>::init()));
    } else if (std::count_if(runs.begin(), runs.end(), [](auto& r) { return r.second; }) == 0) {
      out.CopyData(x);
    } else {
      // One pass per run of reduced axes, innermost first: each pass reads contiguous
      // (outer, R, inner) data, so no transposed copy of the input is ever made.
      // Partial results stay in the accumulator type (double for float sums).
      const T* src = x.data<T>();
      std::vector<Acc> a, b;
      bool first = true;
      for (size_t k = runs.size(); k-- > 0;) {
        if (!runs[k].second) continue;
        size_t outer = 1, inner = 1, R = runs[k].first;
        for (size_t j = 0; j < k; ++j) outer *= runs[j].first;
        for (size_t j = k + 1; j < runs.size(); ++j) inner *= runs[j].first;
        bool last = true;
        for (size_t j = 0; j < k; ++j) last = last && !runs[j].second;
        if (first && last) {
          ReduceMiddle<T, OpT<T>, T>(src, out.data<T>(), outer, R, inner);
        } else {
          b.resize(outer * inner);
          if (first) ReduceMiddle<T, OpT<T>, Acc>(src, b.data(), outer, R, inner);
          else ReduceMiddle<Acc, OpT<Acc>, Acc>(a.data(), b.data(), outer, R, inner);
          std::swap(a, b);
          if (last) {
            T* op = out.data<T>();
            for (size_t i = 0; i < a.size(); ++i) op[i] = static_cast<T>(a[i]);
          }
        }
        first = false;
        runs.erase(runs.begin() + static_cast<int64_t>(k));
      }
    }
  });
  return out;
}

}  // namespace

Tensor ReduceSum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return Reduce<SumOp>(x, axes, keepdims, "Sum");
}

Tensor ReduceMax(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  if (x.Size() == 0) throw ValueError("ReduceMax: cannot take the maximum of an empty tensor");
  return Reduce<MaxOp>(x, axes, keepdims, "ReduceMax");
}

Tensor ReduceMin(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  if (x.Size() == 0) throw ValueError("ReduceMin: cannot take the minimum of an empty tensor");
  return Reduce<MinOp>(x, axes, keepdims, "ReduceMin");
}

Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  Tensor src = x.data_type() == kInt ? x.AsType(kFloat32) : x;
  Tensor s = ReduceSum(src, axes, keepdims);
  if (s.Size() == 0) return s;
  double count = static_cast<double>(x.Size() / s.Size());
  return ApplyScalar(Binary::kDiv, s, count, "Average");
}

double SumAll(const Tensor& x) {
  Tensor s = ReduceSum(x.data_type() == kFloat32 ? x.AsType(kDouble) : x, {}, false);
  return s.AsType(kDouble).data<double>()[0];
}

Tensor ArgMax(const Tensor& in, int64_t axis) {
  size_t ax = NormalizeAxis(axis, in.nDim(), "ArgMax");
  if (in.shape(ax) == 0) throw ValueError("ArgMax: the reduced axis is empty");
  Tensor x = in.AsType(in.data_type() == kDouble ? kDouble : kFloat32).Contiguous();
  size_t outer = Product(x.shape(), 0, ax), R = x.shape(ax), inner = Product(x.shape(), ax + 1);
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + static_cast<int64_t>(ax));
  Tensor out(out_shape, x.device(), kInt);
  int32_t* op = out.data<int32_t>();
  SINGA_DISPATCH_FLOAT(x.data_type(), "ArgMax", {
    const T* p = x.data<T>();
_Pragma("omp parallel for num_threads(NumThreadsFor(x.Size())) collapse(2)")
    for (size_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < inner; ++i) {
        size_t best = 0;
        T bv = p[o * R * inner + i];
        for (size_t r = 1; r < R; ++r) {
          T v = p[(o * R + r) * inner + i];
          if (v > bv) { bv = v; best = r; }
        }
        op[o * inner + i] = static_cast<int32_t>(best);
      }
  });
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

// Runs f(row_in, row_out, C, inner) for every (outer, inner) lane of a softmax axis.
template <typename T>
void SoftmaxLanes(const Tensor& x, Tensor* y, size_t ax, bool log) {
  size_t outer = Product(x.shape(), 0, ax), C = x.shape(ax), inner = Product(x.shape(), ax + 1);
  const T* xp = x.data<T>();
  T* yp = y->data<T>();
  const int threads = NumThreadsFor(x.Size());
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t o = 0; o < outer; ++o) {
    std::vector<T> lane(inner == 1 ? 0 : C);
    for (size_t i = 0; i < inner; ++i) {
      const T* in = xp + o * C * inner + i;
      T* out = yp + o * C * inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      for (size_t c = 0; c < C; ++c) mx = std::max(mx, in[c * inner]);
      T sum = 0;
      if (inner == 1) {
#pragma omp simd reduction(+ : sum)
        for (size_t c = 0; c < C; ++c) {
          T e = Exp(in[c] - mx);
          out[c] = e;
          sum += e;
        }
        if (log) {
          T ls = std::log(sum) + mx;
#pragma omp simd
          for (size_t c = 0; c < C; ++c) out[c] = in[c] - ls;
        } else {
          T inv = T(1) / sum;
#pragma omp simd
          for (size_t c = 0; c < C; ++c) out[c] *= inv;
        }
      } else {
        for (size_t c = 0; c < C; ++c) {
          T e = Exp(in[c * inner] - mx);
          lane[c] = e;
          sum += e;
        }
        T ls = std::log(sum) + mx;
        for (size_t c = 0; c < C; ++c)
          out[c * inner] = log ? in[c * inner] - ls : lane[c] / sum;
      }
    }
  }
}

Tensor SoftmaxImpl(const Tensor& in, int64_t axis, bool log, const char* fn) {
  size_t ax = NormalizeAxis(axis, in.nDim(), fn);
  DataType dt = in.data_type();
  Tensor x = (dt == kDouble ? in : in.AsType(kFloat32)).Contiguous();
  Tensor y(x.shape(), x.device(), x.data_type());
  if (x.Size() == 0) return y;
  SINGA_DISPATCH_FLOAT(x.data_type(), fn, { SoftmaxLanes<T>(x, &y, ax, log); });
  return dt == kFloat16 ? y.AsType(kFloat16) : y;
}

}  // namespace

Tensor SoftMax(const Tensor& x, int64_t axis) { return SoftmaxImpl(x, axis, false, "SoftMax"); }
Tensor LogSoftMax(const Tensor& x, int64_t axis) { return SoftmaxImpl(x, axis, true, "LogSoftMax"); }

Tensor SoftMaxBackward(const Tensor& dy, int64_t axis, const Tensor& y) {
  if (dy.shape() != y.shape())
    throw ValueError(Msg("SoftMaxBackward: dy ", ShapeStr(dy.shape()), " and y ",
                         ShapeStr(y.shape()), " differ in shape"));
  // dx = y * (dy - sum(dy * y, axis))
  size_t ax = NormalizeAxis(axis, y.nDim(), "SoftMaxBackward");
  Tensor prod = Apply(Binary::kMul, dy, y, "SoftMaxBackward");
  Tensor s = ReduceSum(prod, {static_cast<int64_t>(ax)}, true);
  Tensor diff = Apply(Binary::kSub, dy, s, "SoftMaxBackward");
  return Apply(Binary::kMul, y, diff, "SoftMaxBackward");
}

namespace {

// Labels as int32 class indices when `t` is 1-D (or (N,1)); otherwise nullptr.
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
  const int32_t* lp = idx.data<int32_t>();
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
  size_t N = p.shape(0), C = p.shape(1);
  Tensor loss(Shape{N}, p.device(), dt);
  SINGA_DISPATCH_FLOAT(dt, "CrossEntropyFwd", {
    const T* pp = p.data<T>();
    T* lp = loss.data<T>();
    const T tiny = std::numeric_limits<T>::min();
    if (IsIndexLabels(p, t)) {
      Tensor idx = LabelIndices(p, t, "CrossEntropyFwd");
      const int32_t* ip = idx.data<int32_t>();
      for (size_t i = 0; i < N; ++i) lp[i] = -std::log(std::max(pp[i * C + ip[i]], tiny));
    } else {
      Tensor tt = t.AsType(dt).Contiguous();
      const T* tp = tt.data<T>();
      for (size_t i = 0; i < N; ++i) {
        T s = 0;
        for (size_t c = 0; c < C; ++c)
          if (tp[i * C + c] != 0) s -= tp[i * C + c] * std::log(std::max(pp[i * C + c], tiny));
        lp[i] = s;
      }
    }
  });
  return loss;
}

Tensor SoftmaxCrossEntropyBwd(const Tensor& pin, const Tensor& t) {
  CheckProbShape(pin, t, "SoftmaxCrossEntropyBwd");
  DataType dt = pin.data_type() == kDouble ? kDouble : kFloat32;
  Tensor g = pin.AsType(dt).Clone();
  size_t N = g.shape(0), C = g.shape(1);
  if (IsIndexLabels(g, t)) {
    Tensor idx = LabelIndices(g, t, "SoftmaxCrossEntropyBwd");
    const int32_t* ip = idx.data<int32_t>();
    SINGA_DISPATCH_FLOAT(dt, "SoftmaxCrossEntropyBwd", {
      T* gp = g.data<T>();
      for (size_t i = 0; i < N; ++i) gp[i * C + ip[i]] -= T(1);
    });
    return g;
  }
  return Apply(Binary::kSub, g, t, "SoftmaxCrossEntropyBwd");
}

}  // namespace singa
