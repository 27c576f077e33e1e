#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

const KernelTable& Kernels() {
  static const KernelTable table = [] {
    KernelTable t{MakeElementwiseKernels(), MakeReduceKernels(), MakeBlasKernels(),
                  MakeRandomKernels(),      MakeShapeKernels(),  MakeNNKernels(),
                  MakeFusedKernels()};
    CheckKernelTable(t, "cpu");
    return t;
  }();
  return table;
}

}  // namespace cpu
}  // namespace singa
