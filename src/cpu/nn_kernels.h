// The CPU's nn kernels (kernel table family `nn`), one file per op family:
// conv.cc, pool.cc, batchnorm.cc, lrn.cc. Each tries oneDNN first for float32 (when
// compiled in and selected, cpu/dnnl_nn.h) and runs the reference kernel otherwise.
#pragma once

#include "math/nn.h"

namespace singa {
namespace cpu {

void ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b, Tensor* y);
void ConvBackwardData(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx);
void ConvBackwardWeights(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW);
void ConvBackwardBias(const ConvHandle& h, const Tensor& dy, Tensor* db);
void PoolForward(const PoolingHandle& h, const Tensor& x, Tensor* y);
void PoolBackward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx);
void BatchNormTraining(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                       const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var);
void BatchNormInference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y);
void BatchNormBackward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias);
void LRNForward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y);
void LRNBackward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size, double alpha,
                 double beta, double k, Tensor* dx);

}  // namespace cpu
}  // namespace singa
