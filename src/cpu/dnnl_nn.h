// oneDNN fast paths for the CPU nn kernels (conv, pooling, batch norm, LRN), float32 only.
// Each function returns false when it cannot serve the request (oneDNN not compiled in,
// or a geometry oneDNN rejects), and the caller then runs the reference kernel. Inputs
// are host, contiguous float32 tensors already shape-checked by the caller; outputs are
// pre-allocated contiguous float32 tensors. Primitives are cached by geometry, so repeated
// calls with the same shapes create nothing.
#pragma once

#include <string>

#include "math/nn.h"

namespace singa {

// Which implementation the nn kernels use for float32 (float64 always uses the reference).
enum class NNBackend { kAuto, kReference, kDnnl };
// Initially from the environment variable SINGA_CONV_BACKEND (auto|reference|dnnl).
NNBackend GetNNBackend();
// name: "auto", "reference" or "dnnl"; ValueError on anything else or "dnnl" when
// oneDNN is not compiled in.
void SetNNBackend(const std::string& name);
std::string NNBackendName(NNBackend b);
// True when float32 kernels should try oneDNN first.
bool UseDnnl();

namespace dnnl_nn {

bool Compiled();

// relu: the output is relu(conv(x, W) + b), oneDNN's eltwise_relu post-op (the fused
// conv + ReLU of dnnl_fused.h).
bool ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b,
                 Tensor* y, bool relu = false);
bool ConvBackwardData(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx);
bool ConvBackwardWeights(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW);
// The bias gradient (sum of dy over N, H, W) of a dy held channel-blocked; false for
// any other dy.
bool ConvBackwardBias(const Tensor& dy, Tensor* db);

bool PoolForward(const PoolingHandle& h, const Tensor& x, Tensor* y);
bool PoolBackward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx);

// mean/var: (C,) float32 outputs (biased batch variance).
// Whether the batch norm of x runs oneDNN ((N, C) inputs, and 4-D ones where activations
// stay channel-blocked); the functions below return false where it does not.
bool BatchNormUsesDnnl(const Tensor& x);
// relu: y is relu(batchnorm(x)) (oneDNN's fuse_norm_relu; the fused batch norm + ReLU of
// dnnl_fused.h, whose backward masks dy by y > 0 and calls BatchNormBackward).
bool BatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                              const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var,
                              bool relu = false);
bool BatchNormForwardInference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                               const Tensor& bias, const Tensor& mean, const Tensor& var,
                               Tensor* y, bool relu = false);
bool BatchNormBackward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias);

bool LRNForward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y);
bool LRNBackward(const Tensor& dy, const Tensor& x, size_t size, double alpha, double beta,
                 double k, Tensor* dx);

}  // namespace dnnl_nn
}  // namespace singa
