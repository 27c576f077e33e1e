// Fused optimizer updates and dropout: entry points in math/fused.cc, CPU kernels in
// cpu/fused.cc.
#pragma once

#include <utility>

#include "core/tensor.h"

namespace singa {

// All updates work in place on a contiguous float parameter and its state tensors,
// with g' = g + wd * p.
// buf = momentum * buf + (1 - dampening) * g';  p -= lr * (nesterov ? g' + momentum * buf : buf)
// (buf may be null: p -= lr * g').
void SGDUpdate(Tensor* p, const Tensor& g, Tensor* buf, double lr, double momentum,
               double dampening, double wd, bool nesterov);
// v = rho * v + (1 - rho) * g'^2;  p -= lr * g' / sqrt(v + eps)
void RMSPropUpdate(Tensor* p, const Tensor& g, Tensor* v, double lr, double rho, double eps,
                   double wd);
// h += g'^2;  p -= lr * g' / sqrt(h + eps)
void AdaGradUpdate(Tensor* p, const Tensor& g, Tensor* h, double lr, double eps, double wd);
// Bias-corrected Adam at step t >= 1.
void AdamUpdate(Tensor* p, const Tensor& g, Tensor* m, Tensor* v, double lr, double beta1,
                double beta2, double eps, double wd, int64_t t);

// y = x * mask with mask = Bernoulli(1 - ratio) / (1 - ratio), in one pass.
std::pair<Tensor, Tensor> DropoutForward(const Tensor& x, double ratio);

// Flush-to-zero / denormals-are-zero on the CPU's OpenMP worker threads (not the caller).
void SetFlushDenormals(bool on);

}  // namespace singa
