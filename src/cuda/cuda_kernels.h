// The CUDA device's kernel table (math/kernels.h): one Fill function per family, each
// defined in the src/cuda file of its family, and the complete table built from them.
// A kernel's tensors are on one CUDA device (the entry points checked that); it runs on
// that device's stream (cuda/cuda_common.h: StreamOf) and returns without waiting.
#pragma once

#include "math/kernels.h"

namespace singa {
namespace cuda {

void FillElementwise(ElementwiseKernels& k);  // elementwise.cu
void FillReduce(ReduceKernels& k);            // reduce.cu
void FillBlas(BlasKernels& k);                // blas.cc (cuBLAS)
void FillRandom(RandomKernels& k);            // random.cu
void FillShape(ShapeKernels& k);              // shape.cu
void FillNN(NNKernels& k);                    // nn_cudnn.cc (cuDNN)
void FillFused(FusedKernels& k);              // fused.cu

// Every family filled, checked complete (CheckKernelTable) once.
const KernelTable& Kernels();

}  // namespace cuda
}  // namespace singa
