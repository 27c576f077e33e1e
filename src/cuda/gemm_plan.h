// How the CUDA GEMM (blas.cc) walks a batch of matrices: the batch axes split into outer
// axes, looped over on the host, and the longest inner run of axes whose strides merge
// into one uniform stride, one strided-batched cuBLAS call per outer index. Host-only
// and free of CUDA, so tests/cuda_emulation/ checks it without a GPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/common.h"

namespace singa {
namespace cuda {

// One batch axis as the GEMM sees it: its extent and the element strides of a and b.
struct BatchAxis {
  int64_t size, sa, sb;
};

// The batch split into outer axes (looped over) and one inner run of `count` matrices at
// the uniform strides (sa, sb) (one strided-batched call each).
struct BatchPlan {
  std::vector<BatchAxis> outer;  // outermost first
  int64_t count = 1, sa = 0, sb = 0;
};

inline BatchPlan PlanBatch(const Shape& batch, const Strides& sa, const Strides& sb) {
  std::vector<BatchAxis> axes;
  for (size_t d = 0; d < batch.size(); ++d)
    if (batch[d] != 1)  // an axis of one matrix adds no offset
      axes.push_back({static_cast<int64_t>(batch[d]), sa[d], sb[d]});
  BatchPlan plan;
  if (axes.empty()) return plan;
  // The innermost axis starts the run; an outer axis joins while its strides continue it.
  // Negative strides stay outside the run (cuBLAS documents non-negative batch strides).
  size_t first = axes.size() - 1;
  if (axes[first].sa >= 0 && axes[first].sb >= 0) {
    plan.count = axes[first].size, plan.sa = axes[first].sa, plan.sb = axes[first].sb;
    while (first > 0 && axes[first - 1].sa == plan.sa * plan.count &&
           axes[first - 1].sb == plan.sb * plan.count) {
      --first;
      plan.count *= axes[first].size;
    }
    plan.outer.assign(axes.begin(), axes.begin() + first);
  } else {
    plan.outer = axes;
  }
  return plan;
}

// A stored matrix of one row is never stepped through by its leading dimension: it gets
// the smallest legal one (as the CPU's gemm does), so a single-row view with a huge or
// zero row stride passes cuBLAS's ld >= rows check. Row-major shapes: A is (ta ? K x M :
// M x K), B is (tb ? N x K : K x N).
inline int64_t TightLd(bool trans, int64_t rows_if_not, int64_t rows_if_trans,
                       int64_t cols_if_not, int64_t cols_if_trans, int64_t ld) {
  const int64_t rows = trans ? rows_if_trans : rows_if_not;
  const int64_t cols = trans ? cols_if_trans : cols_if_not;
  if (rows == 1) return std::max<int64_t>(1, cols);
  return ld;
}

// One row-major product C (M x N, ldc = N) = op(A) op(B) in cuBLAS's column-major terms:
// C^T (N x M) = op(B)^T op(A)^T, so cuBLAS's first operand is our B and its second our A.
struct ColumnMajorGemm {
  bool trans_first, trans_second;  // cuBLAS's transa (for our b) and transb (for our a)
  int64_t m, n, k, ld_first, ld_second, ldc;
};

inline ColumnMajorGemm ToColumnMajor(bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                                     int64_t lda, int64_t ldb) {
  return {tb, ta, N, M, K, TightLd(tb, K, N, N, K, ldb), TightLd(ta, M, K, K, M, lda), N};
}

// The number of outer indices (strided-batched calls) of a plan.
inline int64_t OuterCount(const BatchPlan& plan) {
  int64_t n = 1;
  for (const BatchAxis& ax : plan.outer) n *= ax.size;
  return n;
}

// The element offsets into a and b of outer index o (the outer axes in row-major order);
// matrix j of that call's run is at oa + j * plan.sa (ob + j * plan.sb), and its product
// is matrix o * plan.count + j of c.
inline void OuterOffsets(const BatchPlan& plan, int64_t o, int64_t* oa, int64_t* ob) {
  int64_t a = 0, b = 0, rem = o;
  for (size_t d = plan.outer.size(); d-- > 0;) {
    const int64_t idx = rem % plan.outer[d].size;
    rem /= plan.outer[d].size;
    a += idx * plan.outer[d].sa;
    b += idx * plan.outer[d].sb;
  }
  *oa = a, *ob = b;
}

}  // namespace cuda
}  // namespace singa
