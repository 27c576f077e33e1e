// Fused convolution + bias + ReLU and batch normalisation + ReLU (SINGA-style handle API).
//
// Each entry point computes exactly what its unfused pair computes (CpuConvForward then
// ReLU; CpuBatchNorm* then ReLU), on any device and float dtype. On the CPU the pair runs
// as one pass: the convolution as one oneDNN primitive with an eltwise_relu post-op, batch
// norm as oneDNN's fuse_norm_relu where the plain batch norm runs oneDNN (dnnl_nn.h), else
// as one loop per channel. Other devices, dtypes and the 'reference' conv
// backend run the unfused pair. Backward takes the ReLU mask from the fused output y
// (y > 0 exactly where the pre-activation is), so no pre-activation tensor is kept.
#pragma once

#include <vector>

#include "math/nn.h"

namespace singa {

// relu(conv(x, W) + b); b is ignored (may be empty) when the handle has no bias term.
Tensor CpuConvReLUForward(const Tensor& x, const Tensor& W, const Tensor& b,
                          const ConvHandle& h);

// relu(batchnorm(x)) with the batch statistics: {y, mean, var}, running stats updated as
// CpuBatchNormForwardTraining does.
std::vector<Tensor> CpuBatchNormReLUForwardTraining(const BatchNormHandle& h, const Tensor& x,
                                                    const Tensor& scale, const Tensor& bias,
                                                    Tensor* running_mean, Tensor* running_var);
// relu(batchnorm(x)) with the running statistics.
Tensor CpuBatchNormReLUForwardInference(const BatchNormHandle& h, const Tensor& x,
                                        const Tensor& scale, const Tensor& bias,
                                        const Tensor& running_mean, const Tensor& running_var);
// {dx, dscale, dbias} of the training forward; y is its (fused) output, mean/var the batch
// statistics it returned.
std::vector<Tensor> CpuBatchNormReLUBackwardx(const BatchNormHandle& h, const Tensor& y,
                                              const Tensor& dy, const Tensor& x,
                                              const Tensor& scale, const Tensor& bias,
                                              const Tensor& mean, const Tensor& var);

}  // namespace singa
