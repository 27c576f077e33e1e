// The CUDA device's GEMM (math/kernels.h GemmCall) on cuBLAS: float32 and float64 in
// their own precision (the handle's default math mode: no TF32), float16 and bfloat16
// through cublasGemmEx with float32 compute. cuBLAS is column-major and singa row-major:
// the row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so every call
// swaps the operands (and M with N). The 64-bit (_64) entry points take every size, so
// nothing is split. A batch whose matrices lie at one uniform stride is one
// strided-batched call; other batches (broadcast over several axes with strides that do
// not merge) are a loop of strided-batched calls over the longest run that does.
#include <cstdint>
#include <vector>

#include "cuda/cublas_api.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"

namespace singa {
namespace cuda {

namespace {

using cublas::ComputeType;
using cublas::Operation;

struct GemmTypes {
  cudaDataType data;
  ComputeType compute;
  bool double_scalars;  // alpha and beta as double (float64), else float
};

GemmTypes TypesOf(DataType dt) {
  switch (dt) {
    case kFloat32: return {CUDA_R_32F, ComputeType::k32F, false};
    case kDouble: return {CUDA_R_64F, ComputeType::k64F, true};
    case kFloat16: return {CUDA_R_16F, ComputeType::k32F, false};
    case kBFloat16: return {CUDA_R_16BF, ComputeType::k32F, false};
    default:
      throw TypeError(Msg("Mult: the CUDA GEMM takes float32, float64, float16 or bfloat16, got ",
                          DataTypeName(dt)));
  }
}

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

BatchPlan PlanBatch(const GemmCall& g) {
  std::vector<BatchAxis> axes;
  for (size_t d = 0; d < g.batch.size(); ++d)
    if (g.batch[d] != 1)  // an axis of one matrix adds no offset
      axes.push_back({static_cast<int64_t>(g.batch[d]), g.a.batch_strides[d], g.b.batch_strides[d]});
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
int64_t TightLd(bool trans, int64_t rows_if_not, int64_t rows_if_trans, int64_t cols_if_not,
                int64_t cols_if_trans, int64_t ld) {
  const int64_t rows = trans ? rows_if_trans : rows_if_not;
  const int64_t cols = trans ? cols_if_trans : cols_if_not;
  if (rows == 1) return std::max<int64_t>(1, cols);
  return ld;
}

void Gemm(const GemmCall& g) {
  const char* fn = "Mult";
  const DataType dt = g.c.data_type();
  if (g.a.t.data_type() != dt || g.b.t.data_type() != dt)
    throw TypeError(Msg(fn, ": the CUDA GEMM needs one dtype, got ", DataTypeName(g.a.t.data_type()),
                        " @ ", DataTypeName(g.b.t.data_type()), " -> ", DataTypeName(dt)));
  const GemmTypes types = TypesOf(dt);
  const int64_t M = static_cast<int64_t>(g.M), N = static_cast<int64_t>(g.N),
                K = static_cast<int64_t>(g.K);
  if (M == 0 || N == 0) return;
  const size_t nbatch = Product(g.batch);
  if (nbatch == 0) return;

  CudaGPU& gpu = GpuOf(g.c, fn);
  gpu.Activate();
  cublasHandle_t handle = gpu.cublas();
  const cublas::Api& api = cublas::Lib();

  const float alpha_f = static_cast<float>(g.alpha), beta_f = static_cast<float>(g.beta);
  const double alpha_d = g.alpha, beta_d = g.beta;
  const void* alpha = types.double_scalars ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = types.double_scalars ? static_cast<const void*>(&beta_d) : &beta_f;

  const bool ta = g.a.trans, tb = g.b.trans;
  const int64_t lda = TightLd(ta, M, K, K, M, g.a.ld);
  const int64_t ldb = TightLd(tb, K, N, N, K, g.b.ld);
  const int64_t ldc = N;
  // Column-major: C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M).
  const Operation opb = tb ? Operation::kT : Operation::kN;
  const Operation opa = ta ? Operation::kT : Operation::kN;

  const size_t es = SizeOf(dt);
  const char* a = static_cast<const char*>(g.a.t.raw());
  const char* b = static_cast<const char*>(g.b.t.raw());
  char* c = static_cast<char*>(g.c.raw());
  const int64_t mat_c = M * N;

  auto detail = [&] {
    return Msg(" (", DataTypeName(dt), " M=", M, " N=", N, " K=", K, " lda=", lda, " ldb=", ldb,
               " trans=", ta, tb, ")");
  };

  const BatchPlan plan = PlanBatch(g);
  int64_t outer_total = 1;
  for (const BatchAxis& ax : plan.outer) outer_total *= ax.size;
  for (int64_t o = 0; o < outer_total; ++o) {
    // Offsets of this outer index (the outer axes in row-major order).
    int64_t oa = 0, ob = 0, rem = o;
    for (size_t d = plan.outer.size(); d-- > 0;) {
      const int64_t idx = rem % plan.outer[d].size;
      rem /= plan.outer[d].size;
      oa += idx * plan.outer[d].sa;
      ob += idx * plan.outer[d].sb;
    }
    const char* ap = a + oa * static_cast<int64_t>(es);
    const char* bp = b + ob * static_cast<int64_t>(es);
    char* cp = c + o * plan.count * mat_c * static_cast<int64_t>(es);
    cublas::Status st;
    if (plan.count == 1) {
      st = api.cublasGemmEx_64(handle, opb, opa, N, M, K, alpha, bp, types.data, ldb, ap,
                               types.data, lda, beta, cp, types.data, ldc, types.compute,
                               cublas::GemmAlgo::kDefault);
      if (st != cublas::Status::kSuccess)
        cublas::Check(st, "cublasGemmEx_64", gpu.ordinal(), detail().c_str());
    } else {
      st = api.cublasGemmStridedBatchedEx_64(handle, opb, opa, N, M, K, alpha, bp, types.data,
                                             ldb, plan.sb, ap, types.data, lda, plan.sa, beta, cp,
                                             types.data, ldc, mat_c, plan.count, types.compute,
                                             cublas::GemmAlgo::kDefault);
      if (st != cublas::Status::kSuccess)
        cublas::Check(st, "cublasGemmStridedBatchedEx_64", gpu.ordinal(),
                      Msg(detail(), " batch=", plan.count).c_str());
    }
  }
}

}  // namespace

void FillBlas(BlasKernels& k) { k.gemm = Gemm; }

}  // namespace cuda
}  // namespace singa
