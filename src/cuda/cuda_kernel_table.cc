#include "cuda/cuda_kernels.h"

namespace singa {
namespace cuda {

const KernelTable& Kernels() {
  static const KernelTable table = [] {
    KernelTable t;
    FillElementwise(t.elementwise);
    FillReduce(t.reduce);
    FillBlas(t.blas);
    FillRandom(t.random);
    FillShape(t.shape);
    FillNN(t.nn);
    FillFused(t.fused);
    CheckKernelTable(t, "cuda");
    return t;
  }();
  return table;
}

}  // namespace cuda
}  // namespace singa
