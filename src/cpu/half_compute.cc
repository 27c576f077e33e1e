// float16 / bfloat16 GEMM on the CPU and the choice between oneDNN's native 16-bit
// primitives and float32 conversion (see half_compute.h).
#include "cpu/half_compute.h"

#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/dnnl_nn.h"
#include "cpu/iter.h"
#ifdef USE_DNNL
#include "cpu/dnnl_common.h"
#endif

namespace singa {

bool NativeHalf(DataType dt) {
#ifdef USE_DNNL
  if (!UseDnnl()) return false;
  // The effective ISA is a bit set in which each level contains the ones below it.
  static const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  auto has = [](unsigned want) { return (isa & want) == want; };
  if (dt == kFloat16) return has(dnnl_cpu_isa_avx512_core_fp16);
  if (dt == kBFloat16) return has(dnnl_cpu_isa_avx512_core_bf16);
#else
  (void)dt;
#endif
  return false;
}

namespace cpu {

namespace {

// Matrix i of a batched operand: its element offset from the operand's data pointer.
int64_t BatchOffset(const GemmCall& g, const Strides& batch_strides, size_t i) {
  int64_t off = 0;
  for (size_t d = g.batch.size(); d-- > 0;) {
    off += static_cast<int64_t>(i % g.batch[d]) * batch_strides[d];
    i /= g.batch[d];
  }
  return off;
}

#ifdef USE_DNNL
using namespace dnnl_nn;  // NOLINT: the oneDNN helpers of dnnl_common.h

struct MatmulEntry : Entry {
  dn::matmul prim;
  dn::memory::desc a, b, c;
};

// c = op(a) @ op(b) for every matrix of the batch on one cached 2-D matmul primitive
// reading the operands where they lie (strided descriptors, no repacking).
bool DnnlHalfGemm(const GemmCall& g) {
  const DataType dt = g.c.data_type();
  const DnType t = DnnlType(dt);
  using D = dn::memory::dim;
  const D M = D(g.M), N = D(g.N), K = D(g.K), lda = g.a.ld, ldb = g.b.ld;
  auto e = Cached<MatmulEntry>({7, int64_t(dt), M, N, K, g.a.trans, g.b.trans, lda, ldb},
                               [&](MatmulEntry& e) {
    e.a = dn::memory::desc({M, K}, t, g.a.trans ? Dims{1, lda} : Dims{lda, 1});
    e.b = dn::memory::desc({K, N}, t, g.b.trans ? Dims{1, ldb} : Dims{ldb, 1});
    e.c = dn::memory::desc({M, N}, t, Dims{N, 1});
    dn::matmul::primitive_desc pd(Engine(), e.a, e.b, e.c);
    RequireOptimised(pd, dt);
    e.prim = dn::matmul(pd);
  });
  if (!e->ok) return false;
  auto* ap = static_cast<uint16_t*>(g.a.t.raw());
  auto* bp = static_cast<uint16_t*>(g.b.t.raw());
  auto* cp = static_cast<uint16_t*>(g.c.raw());
  const size_t nbatch = Product(g.batch);
  for (size_t i = 0; i < nbatch; ++i) {
    dn::memory a(e->a, Engine(), ap + BatchOffset(g, g.a.batch_strides, i));
    dn::memory b(e->b, Engine(), bp + BatchOffset(g, g.b.batch_strides, i));
    dn::memory c(e->c, Engine(), cp + i * g.M * g.N);
    e->prim.execute(Stream(), {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  }
  Stream().wait();
  return true;
}
#endif

void Widen(DataType dt, const uint16_t* src, float* dst, size_t n) {
  if (dt == kFloat16) HalfToFloatN(src, dst, n);
  else BFloat16ToFloatN(src, dst, n);
}

void Narrow(DataType dt, const float* src, uint16_t* dst, size_t n) {
  if (dt == kFloat16) FloatToHalfN(src, dst, n);
  else FloatToBFloat16N(src, dst, n);
}

// An operand's stored matrices (rows x cols with leading dimension ld, `trans` kept) widened
// into one contiguous float32 tensor (nbatch, rows, cols).
GemmCall::Operand WidenOperand(const GemmCall& g, const GemmCall::Operand& op, size_t rows,
                               size_t cols) {
  const size_t nbatch = Product(g.batch);
  Tensor w({nbatch, rows, cols}, g.c.device(), kFloat32);
  const auto* src = static_cast<const uint16_t*>(op.t.raw());
  float* dst = w.data<float>();
  const DataType dt = op.t.data_type();
  ParallelFor(NumThreadsFor(nbatch * rows * cols), nbatch * rows, [&](size_t r) {
    const size_t i = r / rows, row = r % rows;
    Widen(dt, src + BatchOffset(g, op.batch_strides, i) + row * op.ld,
          dst + r * cols, cols);
  });
  return {w, op.trans, static_cast<int64_t>(cols),
          Strides(1, static_cast<int64_t>(rows * cols))};
}

}  // namespace

void HalfGemm(const GemmCall& g) {
  const DataType dt = g.c.data_type();
#ifdef USE_DNNL
  if (g.alpha == 1 && g.beta == 0 && NativeHalf(dt) && DnnlHalfGemm(g)) return;
#endif
  const size_t nbatch = Product(g.batch);
  GemmCall::Operand a = g.a.trans ? WidenOperand(g, g.a, g.K, g.M) : WidenOperand(g, g.a, g.M, g.K);
  GemmCall::Operand b = g.b.trans ? WidenOperand(g, g.b, g.N, g.K) : WidenOperand(g, g.b, g.K, g.N);
  Tensor c32({nbatch, g.M, g.N}, g.c.device(), kFloat32);
  auto* c = static_cast<uint16_t*>(g.c.raw());
  const size_t n = nbatch * g.M * g.N;
  if (g.beta != 0) Widen(dt, c, c32.data<float>(), n);
  GemmCall call(a, b, c32, g.M, g.N, g.K);
  call.alpha = g.alpha, call.beta = g.beta;
  call.batch = {nbatch};
  blas::gemm(call);
  Narrow(dt, c32.data<float>(), c, n);
}

}  // namespace cpu
}  // namespace singa
