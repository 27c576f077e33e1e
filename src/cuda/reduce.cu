// CUDA reductions (math/kernels.h, SINGA_REDUCE_KERNELS): sum/max/min/prod over any set
// of axes, argmax/argmin, cumsum, (log-)softmax, cross-entropy, subtract_at_labels and
// power_sum. The semantics are those of the CPU kernels (cpu/reduce.cc):
//  - sums and products of floats combine in double and of integers in int64 (wrapping
//    around, as NumPy's do), max and min in the dtype with NaN propagating;
//  - a reduction over several separated runs of axes is one pass per run, innermost first,
//    the partial results kept in the accumulator type (as the CPU does);
//  - every combination runs in an order fixed by the shapes alone (per-thread strided
//    loops, then a shared-memory tree), so results do not depend on timing; a long row
//    with few rows is split over several blocks whose partials a second pass combines.
// Every entry queues its kernels on the tensor's stream and returns without waiting,
// except power_sum, which returns its double to the host.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/cuda_kernels.h"
#include "cuda/reduce_util.cuh"
#include "math/functors.h"
#include "math/vecmath.h"

namespace singa {
namespace cuda {
namespace {

using red::AccOf;
using red::CeilDiv;
using red::Grid;
using red::kFewLanes;
using red::Scratch;

template <typename T>
__device__ __forceinline__ bool IsNaN(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}


template <typename A>
struct SumOp {
  using V = A;
  __host__ __device__ static V identity() { return V(0); }
  __device__ V operator()(V a, V b) const { return fn::WrapAdd(a, b); }
};
template <typename A>
struct ProdOp {
  using V = A;
  __host__ __device__ static V identity() { return V(1); }
  __device__ V operator()(V a, V b) const { return fn::WrapMul(a, b); }
};
// The CPU's MaxOp/MinOp: `b` wins when it is larger (smaller) or NaN, so NaN propagates.
template <typename T>
struct MaxOp {
  using V = T;
  __host__ __device__ static V identity() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  __device__ V operator()(V a, V b) const { return b > a || IsNaN(b) ? b : a; }
};
template <typename T>
struct MinOp {
  using V = T;
  __host__ __device__ static V identity() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
  }
  __device__ V operator()(V a, V b) const { return b < a || IsNaN(b) ? b : a; }
};

// argmax/argmin as a reduction of (class, value, index) triples. The CPU scans a lane in
// order, starting from element 0 and moving to a later element only when it is strictly
// larger (smaller); NaN compares false. So a NaN at position 0 is the answer, a NaN
// elsewhere is never chosen, and ties go to the first index. The classes say that
// exactly (2: NaN at 0, 1: a number, 0: NaN elsewhere), which makes the combination
// associative and commutative: the larger class wins, then the larger (smaller) value,
// then the smaller index.
template <typename T>
struct ArgV {
  T v;
  int64_t idx;
  int cls;
};
template <typename T, bool kMin>
struct ArgOp {
  using V = ArgV<T>;
  __device__ static V identity() { return V{T(0), std::numeric_limits<int64_t>::max(), -1}; }
  __device__ static bool Beats(const V& b, const V& a) {
    if (b.cls != a.cls) return b.cls > a.cls;
    if (b.cls != 1) return false;
    return kMin ? b.v < a.v : b.v > a.v;
  }
  __device__ V operator()(const V& a, const V& b) const {
    if (Beats(b, a)) return b;
    if (Beats(a, b)) return a;
    return b.idx < a.idx ? b : a;
  }
};

// Loaders: the value of input element `i` (flat), at position `r` of the reduced axis.
template <typename T, typename V>
struct ValueLoad {
  const T* p;
  __device__ V operator()(int64_t i, int64_t) const { return static_cast<V>(p[i]); }
};
template <typename V>
struct PartLoad {
  const V* p;
  __device__ V operator()(int64_t i, int64_t) const { return p[i]; }
};
template <typename T>
struct ArgLoad {
  const T* p;
  __device__ ArgV<T> operator()(int64_t i, int64_t r) const {
    const T v = p[i];
    return ArgV<T>{v, r, IsNaN(v) ? (r == 0 ? 2 : 0) : 1};
  }
};
// Stores: result `v` of output element `i`.
template <typename O, typename V>
struct CastStore {
  O* p;
  __device__ void operator()(int64_t i, const V& v) const { p[i] = static_cast<O>(v); }
};
template <typename T>
struct ArgStore {
  int32_t* p;
  __device__ void operator()(int64_t i, const ArgV<T>& v) const {
    p[i] = static_cast<int32_t>(v.idx);
  }
};

constexpr int kRowThreads = 256;           // one block per (row, split) of a row reduction
constexpr int kColX = 32, kColY = 8;       // a column tile: 32 columns x 8 rows of threads
constexpr int64_t kRowChunk = 4096;        // fewest elements of a row per block
constexpr int64_t kColChunk = 128;         // fewest rows of a column tile per block
constexpr int64_t kTargetBlocks = 1024;    // rows are split until about this many blocks
constexpr int64_t kMaxSplits = 1024;


// x viewed as (rows, R) contiguous: block job b = row * splits + s reduces positions
// [s * chunk, (s + 1) * chunk) of its row and stores result b.
template <typename Op, typename Load, typename Store>
__global__ void __launch_bounds__(kRowThreads)
    RowKernel(Op op, Load ld, Store st, int64_t rows, int64_t R, int64_t splits, int64_t chunk) {
  using V = typename Op::V;
  __shared__ V sm[kRowThreads];
  const int64_t jobs = rows * splits;
  for (int64_t b = blockIdx.x; b < jobs; b += gridDim.x) {
    const int64_t row = b / splits, s = b % splits;
    const int64_t r0 = s * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
    const int64_t base = row * R;
    V acc = Op::identity();
    for (int64_t r = r0 + threadIdx.x; r < r1; r += kRowThreads) acc = op(acc, ld(base + r, r));
    const V total = red::BlockCombine<kRowThreads>(acc, sm, op);
    if (threadIdx.x == 0) st(b, total);
    __syncthreads();
  }
}

// x viewed as (outer, R, inner) contiguous, inner > 1: a tile of 32 neighbouring columns
// (coalesced reads) times 8 rows of threads; split s = blockIdx.y covers rows
// [s * chunk, (s + 1) * chunk) and stores result (o * splits + s) * inner + i.
template <typename Op, typename Load, typename Store>
__global__ void __launch_bounds__(kColX* kColY)
    ColKernel(Op op, Load ld, Store st, int64_t outer, int64_t R, int64_t inner, int64_t splits,
              int64_t chunk) {
  using V = typename Op::V;
  __shared__ V sm[kColY][kColX];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t s = blockIdx.y;
  const int64_t xtiles = (inner + kColX - 1) / kColX, tiles = outer * xtiles;
  const int64_t r0 = s * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t o = tile / xtiles, i = (tile % xtiles) * kColX + tx;
    V acc = Op::identity();
    if (i < inner)
      for (int64_t r = r0 + ty; r < r1; r += kColY) acc = op(acc, ld((o * R + r) * inner + i, r));
    sm[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && i < inner) {
      V v = sm[0][tx];
#pragma unroll
      for (int y = 1; y < kColY; ++y) v = op(v, sm[y][tx]);
      st((o * splits + s) * inner + i, v);
    }
    __syncthreads();
  }
}

// A short reduced axis (R <= kLaneMaxR): one thread per output (o, i), walking r in order
// (neighbouring threads read neighbouring memory both for inner == 1 and inner > 1).
template <typename Op, typename Load, typename Store>
__global__ void LaneKernel(Op op, Load ld, Store st, int64_t outer, int64_t R, int64_t inner) {
  using V = typename Op::V;
  const int64_t lanes = outer * inner;
  for (int64_t lane = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; lane < lanes;
       lane += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = lane / inner, i = lane % inner;
    V acc = Op::identity();
    for (int64_t r = 0; r < R; ++r) acc = op(acc, ld((o * R + r) * inner + i, r));
    st(lane, acc);
  }
}
constexpr int64_t kLaneMaxR = 32;

// One reduction of (outer, R, inner) contiguous input into (outer, inner): one launch,
// or two when the rows are split (the partials in scratch of the combination's type).
template <typename Op, typename Load, typename Store>
void Pass(const Tensor& t, cudaStream_t stream, Op op, Load ld, Store st, int64_t outer,
          int64_t R, int64_t inner, const char* fn) {
  using V = typename Op::V;
  if (R <= kLaneMaxR) {
    SINGA_RED_LAUNCH(BlocksFor(outer * inner), kThreads, stream, LaneKernel)(op, ld, st, outer, R,
                                                                             inner);
    CheckLaunch(fn, t);
    return;
  }
  if (inner == 1) {
    int64_t splits = std::min(CeilDiv(R, kRowChunk), CeilDiv(kTargetBlocks, outer));
    splits = std::max<int64_t>(1, std::min(splits, kMaxSplits));
    const int64_t chunk = CeilDiv(R, splits);
    splits = CeilDiv(R, chunk);
    if (splits == 1) {
      SINGA_RED_LAUNCH(Grid(outer), kRowThreads, stream, RowKernel)(op, ld, st, outer, R, 1, R);
      CheckLaunch(fn, t);
      return;
    }
    Scratch<V> part(t, static_cast<size_t>(outer * splits), fn);
    SINGA_RED_LAUNCH(Grid(outer * splits), kRowThreads, stream, RowKernel)(
        op, ld, CastStore<V, V>{part.ptr}, outer, R, splits, chunk);
    CheckLaunch(fn, t);
    SINGA_RED_LAUNCH(Grid(outer), kRowThreads, stream, RowKernel)(
        op, PartLoad<V>{part.ptr}, st, outer, splits, 1, splits);
    CheckLaunch(fn, t);
    return;
  }
  const int64_t tiles = outer * CeilDiv(inner, kColX);
  int64_t splits = std::min(CeilDiv(R, kColChunk), CeilDiv(kTargetBlocks, tiles));
  splits = std::max<int64_t>(1, std::min(splits, kMaxSplits));
  const int64_t chunk = CeilDiv(R, splits);
  splits = CeilDiv(R, chunk);
  const dim3 block(kColX, kColY);
  if (splits == 1) {
    SINGA_RED_LAUNCH(dim3(Grid(tiles), 1), block, stream, ColKernel)(op, ld, st, outer, R, inner, 1,
                                                                     R);
    CheckLaunch(fn, t);
    return;
  }
  Scratch<V> part(t, static_cast<size_t>(outer * splits * inner), fn);
  SINGA_RED_LAUNCH(dim3(Grid(tiles), static_cast<unsigned>(splits)), block, stream, ColKernel)(
      op, ld, CastStore<V, V>{part.ptr}, outer, R, inner, splits, chunk);
  CheckLaunch(fn, t);
  SINGA_RED_LAUNCH(dim3(Grid(tiles), 1), block, stream, ColKernel)(
      op, PartLoad<V>{part.ptr}, st, outer, splits, inner, 1, splits);
  CheckLaunch(fn, t);
}

template <typename T>
__global__ void FillKernel(T* p, int64_t n, T v) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    p[i] = v;
}

// The CPU's Reduce: axes grouped into runs of kept/reduced (size-1 axes dropped), one
// pass per reduced run, innermost first.
template <typename T, typename Op>
void ReduceRuns(Op op, const Tensor& x, const std::vector<bool>& reduced, const Tensor& out,
                const char* fn) {
  using A = typename Op::V;
  cudaStream_t stream = red::Begin(x, fn);
  const Shape& s = x.shape();
  T* dst = out.data<T>();
  const int64_t nout = static_cast<int64_t>(out.Size());
  if (x.Size() == 0) {
    SINGA_RED_LAUNCH(BlocksFor(nout), kThreads, stream, FillKernel<T>)(
        dst, nout, static_cast<T>(Op::identity()));
    CheckLaunch(fn, x);
    return;
  }
  std::vector<std::pair<int64_t, bool>> runs;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 1) continue;
    const int64_t n = static_cast<int64_t>(s[i]);
    if (!runs.empty() && runs.back().second == reduced[i]) runs.back().first *= n;
    else runs.push_back({n, reduced[i]});
  }
  if (std::none_of(runs.begin(), runs.end(), [](const auto& r) { return r.second; })) {
    SINGA_CUDA_CHECK(cudaMemcpyAsync(dst, x.raw(), out.MemSize(), cudaMemcpyDeviceToDevice, stream),
                     GpuOf(x, fn).ordinal());
    return;
  }
  const T* src = x.data<T>();
  Scratch<A> cur;  // the partial results of the previous pass
  bool first = true;
  for (size_t k = runs.size(); k-- > 0;) {
    if (!runs[k].second) continue;
    int64_t outer = 1, inner = 1;
    const int64_t R = runs[k].first;
    for (size_t j = 0; j < k; ++j) outer *= runs[j].first;
    for (size_t j = k + 1; j < runs.size(); ++j) inner *= runs[j].first;
    bool last = true;
    for (size_t j = 0; j < k; ++j) last = last && !runs[j].second;
    if (last) {
      if (first) Pass(x, stream, op, ValueLoad<T, A>{src}, CastStore<T, A>{dst}, outer, R, inner, fn);
      else Pass(x, stream, op, PartLoad<A>{cur.ptr}, CastStore<T, A>{dst}, outer, R, inner, fn);
    } else {
      Scratch<A> next(x, static_cast<size_t>(outer * inner), fn);
      if (first)
        Pass(x, stream, op, ValueLoad<T, A>{src}, CastStore<A, A>{next.ptr}, outer, R, inner, fn);
      else
        Pass(x, stream, op, PartLoad<A>{cur.ptr}, CastStore<A, A>{next.ptr}, outer, R, inner, fn);
      cur = std::move(next);  // the old partials are free for later work on the stream
    }
    first = false;
    runs.erase(runs.begin() + static_cast<int64_t>(k));
  }
}

void Reduce(ReduceKind kind, const Tensor& x, const std::vector<bool>& reduced, const Tensor& out) {
  SINGA_RED_DISPATCH_ARITH(x.data_type(), "reduce kernel", {
    switch (kind) {
      case ReduceKind::kSum: ReduceRuns<T>(SumOp<AccOf<T>>{}, x, reduced, out, "reduce (sum)"); break;
      case ReduceKind::kProd: ReduceRuns<T>(ProdOp<AccOf<T>>{}, x, reduced, out, "reduce (prod)"); break;
      case ReduceKind::kMax: ReduceRuns<T>(MaxOp<T>{}, x, reduced, out, "reduce (max)"); break;
      case ReduceKind::kMin: ReduceRuns<T>(MinOp<T>{}, x, reduced, out, "reduce (min)"); break;
    }
  });
}

template <bool kMin>
void ArgExtreme(const Tensor& x, size_t ax, const Tensor& out, const char* fn) {
  cudaStream_t stream = red::Begin(x, fn);
  const int64_t outer = static_cast<int64_t>(Product(x.shape(), 0, ax));
  const int64_t R = static_cast<int64_t>(x.shape(ax));
  const int64_t inner = static_cast<int64_t>(Product(x.shape(), ax + 1));
  if (outer * inner == 0) return;
  SINGA_RED_DISPATCH_ARITH(x.data_type(), fn, {
    Pass(x, stream, ArgOp<T, kMin>{}, ArgLoad<T>{x.data<T>()}, ArgStore<T>{out.data<int32_t>()},
         outer, R, inner, fn);
  });
}

// ---- cumsum ----

// The running sum's type: double for floats, the dtype for integers (wrapping as the
// CPU's int32/int64 running sums do).
template <typename T>
using ScanAcc = std::conditional_t<std::is_integral_v<T>, T, double>;

// One thread per lane (o, i), walking the axis in order: coalesced across i.
template <typename T>
__global__ void CumsumLanes(const T* x, T* y, int64_t outer, int64_t R, int64_t inner,
                            bool exclusive, bool reverse) {
  using A = ScanAcc<T>;
  const int64_t lanes = outer * inner;
  for (int64_t lane = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; lane < lanes;
       lane += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = lane / inner, i = lane % inner;
    A run = A(0);
    for (int64_t k = 0; k < R; ++k) {
      const int64_t r = reverse ? R - 1 - k : k;
      const int64_t at = (o * R + r) * inner + i;
      const A v = static_cast<A>(x[at]);
      if (!exclusive) run = fn::WrapAdd(run, v);
      y[at] = static_cast<T>(run);
      if (exclusive) run = fn::WrapAdd(run, v);
    }
  }
}

constexpr int kScanThreads = 256, kScanItems = 8;

// One block per lane (o, i) of a contiguous (outer, R, inner) input (a row when inner is
// 1): chunks of kScanThreads * kScanItems elements in order, each thread scanning
// kScanItems neighbours, the thread totals scanned in shared memory, the running carry
// added. For inner > 1 the reads are strided: used when there are too few lanes for one
// thread per lane to keep the GPU busy.
template <typename T>
__global__ void __launch_bounds__(kScanThreads)
    CumsumRows(const T* x, T* y, int64_t outer, int64_t R, int64_t inner, bool exclusive,
               bool reverse) {
  using A = ScanAcc<T>;
  __shared__ A sm[kScanThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t lanes = outer * inner;
  for (int64_t lane = blockIdx.x; lane < lanes; lane += gridDim.x) {
    const int64_t o = lane / inner, i = lane % inner;
    const T* xr = x + o * R * inner + i;
    T* yr = y + o * R * inner + i;
    A carry = A(0);
    for (int64_t c0 = 0; c0 < R; c0 += int64_t{kScanThreads} * kScanItems) {
      const int64_t k0 = c0 + static_cast<int64_t>(t) * kScanItems;
      A v[kScanItems];
      A tsum = A(0);
#pragma unroll
      for (int j = 0; j < kScanItems; ++j) {
        const int64_t k = k0 + j;
        v[j] = k < R ? static_cast<A>(xr[(reverse ? R - 1 - k : k) * inner]) : A(0);
        tsum = fn::WrapAdd(tsum, v[j]);
      }
      sm[t] = tsum;
      __syncthreads();
      for (int off = 1; off < kScanThreads; off *= 2) {  // Hillis-Steele inclusive scan
        const A add = t >= off ? sm[t - off] : A(0);
        __syncthreads();
        sm[t] = fn::WrapAdd(sm[t], add);
        __syncthreads();
      }
      A run = fn::WrapAdd(carry, t > 0 ? sm[t - 1] : A(0));
      const A total = sm[kScanThreads - 1];
#pragma unroll
      for (int j = 0; j < kScanItems; ++j) {
        const int64_t k = k0 + j;
        if (k >= R) break;
        if (!exclusive) run = fn::WrapAdd(run, v[j]);
        yr[(reverse ? R - 1 - k : k) * inner] = static_cast<T>(run);
        if (exclusive) run = fn::WrapAdd(run, v[j]);
      }
      carry = fn::WrapAdd(carry, total);
      __syncthreads();
    }
  }
}

void Cumsum(const Tensor& x, size_t ax, bool exclusive, bool reverse, const Tensor& out) {
  const char* fn = "CumSum";
  cudaStream_t stream = red::Begin(x, fn);
  const int64_t outer = static_cast<int64_t>(Product(x.shape(), 0, ax));
  const int64_t R = static_cast<int64_t>(x.shape(ax));
  const int64_t inner = static_cast<int64_t>(Product(x.shape(), ax + 1));
  if (outer * R * inner == 0) return;
  SINGA_RED_DISPATCH_ARITH(x.data_type(), fn, {
    const T* xp = x.data<T>();
    T* yp = out.data<T>();
    if (R > 64 && (inner == 1 || outer * inner < kFewLanes)) {
      SINGA_RED_LAUNCH(Grid(outer * inner), kScanThreads, stream, CumsumRows<T>)(
          xp, yp, outer, R, inner, exclusive, reverse);
    } else {
      SINGA_RED_LAUNCH(BlocksFor(outer * inner), kThreads, stream, CumsumLanes<T>)(xp, yp, outer, R, inner,
                                                                        exclusive, reverse);
    }
    CheckLaunch(fn, x);
  });
}

}  // namespace

void FillSoftmaxAndLoss(ReduceKernels& k);  // softmax_loss.cu

void FillReduce(ReduceKernels& k) {
  k.reduce = Reduce;
  k.argmax = [](const Tensor& x, size_t axis, const Tensor& out) {
    ArgExtreme<false>(x, axis, out, "ArgMax");
  };
  k.argmin = [](const Tensor& x, size_t axis, const Tensor& out) {
    ArgExtreme<true>(x, axis, out, "ArgMin");
  };
  k.cumsum = Cumsum;
  FillSoftmaxAndLoss(k);
}

}  // namespace cuda
}  // namespace singa
