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
#include "cuda/gemm_plan.h"

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
  const ColumnMajorGemm cm = ToColumnMajor(ta, tb, M, N, K, g.a.ld, g.b.ld);
  const Operation op_first = cm.trans_first ? Operation::kT : Operation::kN;
  const Operation op_second = cm.trans_second ? Operation::kT : Operation::kN;

  const size_t es = SizeOf(dt);
  const char* a = static_cast<const char*>(g.a.t.raw());
  const char* b = static_cast<const char*>(g.b.t.raw());
  char* c = static_cast<char*>(g.c.raw());
  const int64_t mat_c = M * N;

  auto detail = [&] {
    return Msg(" (", DataTypeName(dt), " M=", M, " N=", N, " K=", K, " lda=", cm.ld_second,
               " ldb=", cm.ld_first, " trans=", ta, tb, ")");
  };

  const BatchPlan plan = PlanBatch(g.batch, g.a.batch_strides, g.b.batch_strides);
  const int64_t outer_total = OuterCount(plan);
  for (int64_t o = 0; o < outer_total; ++o) {
    int64_t oa = 0, ob = 0;
    OuterOffsets(plan, o, &oa, &ob);
    const char* ap = a + oa * static_cast<int64_t>(es);
    const char* bp = b + ob * static_cast<int64_t>(es);
    char* cp = c + o * plan.count * mat_c * static_cast<int64_t>(es);
    cublas::Status st;
    if (plan.count == 1) {
      st = api.cublasGemmEx_64(handle, op_first, op_second, cm.m, cm.n, cm.k, alpha, bp,
                               types.data, cm.ld_first, ap, types.data, cm.ld_second, beta, cp,
                               types.data, cm.ldc, types.compute, cublas::GemmAlgo::kDefault);
      if (st != cublas::Status::kSuccess)
        cublas::Check(st, "cublasGemmEx_64", gpu.ordinal(), detail().c_str());
    } else {
      st = api.cublasGemmStridedBatchedEx_64(
          handle, op_first, op_second, cm.m, cm.n, cm.k, alpha, bp, types.data, cm.ld_first,
          plan.sb, ap, types.data, cm.ld_second, plan.sa, beta, cp, types.data, cm.ldc, mat_c,
          plan.count, types.compute, cublas::GemmAlgo::kDefault);
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
