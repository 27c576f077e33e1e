// How the CPU computes on float16 and bfloat16. There are two ways, chosen in one place
// (NativeHalf): oneDNN's own 16-bit primitives, which read and write the 16-bit values
// and accumulate in float32, where the CPU has instructions for the dtype; else the
// operands are widened to float32 (F16C / AVX-512 conversions, core/half.cc), the float32
// kernel runs, and the result is rounded once to the 16-bit dtype. GEMM and convolution
// take either way; every other op converts in its math entry point.
#pragma once

#include "math/kernels.h"

namespace singa {

// True when kernels on `dt` (kFloat16 or kBFloat16) should try oneDNN's native primitives:
// oneDNN is compiled in, the nn backend is not 'reference', and the CPU oneDNN runs on has
// AVX512-FP16 (float16) or AVX512-BF16 / AMX (bfloat16).
bool NativeHalf(DataType dt);

namespace cpu {

// The GEMM of a call whose operands and result are all of one 16-bit float dtype.
void HalfGemm(const GemmCall& call);

}  // namespace cpu
}  // namespace singa
