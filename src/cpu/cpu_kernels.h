// The CPU device's kernel table, one function per family filling that family's entries
// (each in the src/cpu file of the family).
#pragma once

#include "math/kernels.h"

namespace singa {
namespace cpu {

ElementwiseKernels MakeElementwiseKernels();
ReduceKernels MakeReduceKernels();
BlasKernels MakeBlasKernels();
RandomKernels MakeRandomKernels();
ShapeKernels MakeShapeKernels();
NNKernels MakeNNKernels();
FusedKernels MakeFusedKernels();

// The complete table (built once).
const KernelTable& Kernels();

}  // namespace cpu
}  // namespace singa
