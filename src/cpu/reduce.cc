// CPU reductions over any set of axes, argmax, softmax and cross-entropy.
#include <algorithm>
#include <cfloat>
#include <limits>
#include <numeric>

#include "cpu/cpu_kernels.h"
#include "cpu/isa.h"
#include "cpu/iter.h"
#include "math/functors.h"
#include "math/vecmath.h"

// Compiled once per ISA level in a portable build (cpu/isa.h).
SINGA_ISA_BEGIN
namespace singa {
namespace cpu {
namespace SINGA_ISA_NS {

namespace reduce {

// A reduction: `Acc` is the type partial results are combined in (double for sums of
// floats, so long reductions keep their precision). Integer sums and products wrap
// around on overflow, as NumPy's do.
template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
  static T init() { return T(0); }
  static T apply(T a, T b) { return fn::WrapAdd(a, b); }
  static Acc acc(Acc a, Acc b) { return fn::WrapAdd(a, b); }
};
template <typename T>
struct ProdOp {
  using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
  static T init() { return T(1); }
  static T apply(T a, T b) { return fn::WrapMul(a, b); }
  static Acc acc(Acc a, Acc b) { return fn::WrapMul(a, b); }
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
        for (size_t j = 0; j < L; ++j) lane[j] = Op::apply(lane[j], p[c + i + j]);
      for (size_t i = full; i < m; ++i) lane[i - full] = Op::apply(lane[i - full], p[c + i]);
      for (size_t w = L / 2; w > 0; w /= 2)
        for (size_t j = 0; j < w; ++j) lane[j] = Op::apply(lane[j], lane[j + w]);
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

// x contiguous with shape s; `red` marks the reduced axes; out holds the kept axes in order.
template <template <typename> class OpT, typename T>
void Reduce(const Tensor& x, const std::vector<bool>& red, const Tensor& out) {
  using Acc = typename OpT<T>::Acc;
  const Shape& s = x.shape();
  Tensor result = out;  // a handle on the same memory (the Tensor methods are non-const)
  if (Product(s) == 0) {
    result.SetValue(static_cast<double>(OpT<T>::init()));
    return;
  }
  // Group the axes into runs of kept/reduced; one reduced run gives (outer, R, inner).
  std::vector<std::pair<size_t, bool>> runs;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 1) continue;
    if (!runs.empty() && runs.back().second == red[i]) runs.back().first *= s[i];
    else runs.push_back({s[i], red[i]});
  }
  if (std::count_if(runs.begin(), runs.end(), [](auto& r) { return r.second; }) == 0) {
    result.CopyData(x);
    return;
  }
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

void reduce(ReduceKind kind, const Tensor& x, const std::vector<bool>& red,
                  const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(x.data_type(), reduce::reduce(kind, x, red, out));
  SINGA_ISA_DISPATCH_ARITH(x.data_type(), "reduce kernel", {
    switch (kind) {
      case ReduceKind::kSum: Reduce<SumOp, T>(x, red, out); break;
      case ReduceKind::kMax: Reduce<MaxOp, T>(x, red, out); break;
      case ReduceKind::kMin: Reduce<MinOp, T>(x, red, out); break;
      case ReduceKind::kProd: Reduce<ProdOp, T>(x, red, out); break;
    }
  });
}

// The index of the first maximum (or minimum) of each lane along `ax`.
template <bool kMin>
void ArgExtreme(const Tensor& x, size_t ax, const Tensor& out, const char* fn) {
  size_t outer = Product(x.shape(), 0, ax), R = x.shape(ax), inner = Product(x.shape(), ax + 1);
  int32_t* op = out.data<int32_t>();
  SINGA_ISA_DISPATCH_ARITH(x.data_type(), fn, {
    const T* p = x.data<T>();
_Pragma("omp parallel for num_threads(NumThreadsFor(x.Size())) collapse(2)")
    for (size_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < inner; ++i) {
        size_t best = 0;
        T bv = p[o * R * inner + i];
        for (size_t r = 1; r < R; ++r) {
          T v = p[(o * R + r) * inner + i];
          if (kMin ? v < bv : v > bv) { bv = v; best = r; }
        }
        op[o * inner + i] = static_cast<int32_t>(best);
      }
  });
}

void argmax(const Tensor& x, size_t ax, const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(x.data_type(), reduce::argmax(x, ax, out));
  ArgExtreme<false>(x, ax, out, "ArgMax");
}
void argmin(const Tensor& x, size_t ax, const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(x.data_type(), reduce::argmin(x, ax, out));
  ArgExtreme<true>(x, ax, out, "ArgMin");
}

void cumsum(const Tensor& x, size_t ax, bool exclusive, bool reverse, const Tensor& out) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(x.data_type(), reduce::cumsum(x, ax, exclusive, reverse, out));
  size_t outer = Product(x.shape(), 0, ax), R = x.shape(ax), inner = Product(x.shape(), ax + 1);
  SINGA_ISA_DISPATCH_ARITH(x.data_type(), "CumSum", {
    const T* p = x.data<T>();
    T* q = out.data<T>();
    ParallelFor(NumThreadsFor(x.Size()), outer * inner, [&](size_t lane) {
      size_t o = lane / inner, i = lane % inner;
      T run = 0;
      for (size_t k = 0; k < R; ++k) {
        size_t r = reverse ? R - 1 - k : k;
        size_t at = (o * R + r) * inner + i;
        T v = p[at];
        if (!exclusive) run = fn::WrapAdd(run, v);
        q[at] = run;
        if (exclusive) run = fn::WrapAdd(run, v);
      }
    });
  });
}

// The (log-)softmax of every (outer, inner) lane along axis `ax`.
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

void softmax(const Tensor& x, size_t axis, bool log, const Tensor& y) {
  Tensor out = y;
  SINGA_DISPATCH_FLOAT(x.data_type(), log ? "LogSoftMax" : "SoftMax",
                       { SoftmaxLanes<T>(x, &out, axis, log); });
}

void cross_entropy(const Tensor& p, const Tensor& t, bool index_labels, const Tensor& loss) {
  const size_t N = p.shape(0), C = p.shape(1);
  SINGA_DISPATCH_FLOAT(p.data_type(), "CrossEntropyFwd", {
    const T* pp = p.data<T>();
    T* lp = loss.data<T>();
    const T tiny = std::numeric_limits<T>::min();
    if (index_labels) {
      const int32_t* ip = t.data<int32_t>();
      for (size_t i = 0; i < N; ++i) lp[i] = -std::log(std::max(pp[i * C + ip[i]], tiny));
    } else {
      const T* tp = t.data<T>();
      for (size_t i = 0; i < N; ++i) {
        T s = 0;
        for (size_t c = 0; c < C; ++c)
          if (tp[i * C + c] != 0) s -= tp[i * C + c] * std::log(std::max(pp[i * C + c], tiny));
        lp[i] = s;
      }
    }
  });
}

void subtract_at_labels(const Tensor& g, const Tensor& labels) {
  const size_t N = g.shape(0), C = g.shape(1);
  const int32_t* ip = labels.data<int32_t>();
  SINGA_DISPATCH_FLOAT(g.data_type(), "SoftmaxCrossEntropyBwd", {
    T* gp = g.data<T>();
    for (size_t i = 0; i < N; ++i) gp[i * C + ip[i]] -= T(1);
  });
}

template <typename T>
double PowerSum(const Tensor& t, int power) {
  const T* p = t.data<T>();
  StridedLoop<1> loop(t.shape(), {t.stride()});
  double total = 0;
  // Rows are summed serially so the result does not depend on the thread count.
  const size_t nrows = loop.rows(), n = loop.inner(), nd = loop.dims.size();
  for (size_t r = 0; r < nrows; ++r) {
    int64_t off = 0;
    size_t rem = r;
    for (size_t d = nd - 1; d-- > 0;) {
      off += static_cast<int64_t>(rem % loop.dims[d]) * loop.strides[0][d];
      rem /= loop.dims[d];
    }
    int64_t st = loop.strides[0].back();
    for (size_t i = 0; i < n; ++i) {
      double v = Cast<double>(p[off + static_cast<int64_t>(i) * st]);
      total += power == 1 ? std::fabs(v) : v * v;
    }
  }
  return total;
}

double power_sum(const Tensor& t, int power) {
  SINGA_ISA_FORWARD_UNLESS_FLOAT(t.data_type(), reduce::power_sum(t, power));
  double s = 0;
  SINGA_ISA_DISPATCH_ALL(t.data_type(), power == 1 ? "L1" : "L2", { s = PowerSum<T>(t, power); });
  return s;
}

}  // namespace reduce

}  // namespace SINGA_ISA_NS
}  // namespace cpu
}  // namespace singa
SINGA_ISA_END
