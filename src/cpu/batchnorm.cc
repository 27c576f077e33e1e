// Batch normalisation on the CPU: oneDNN for float32 (N, C) inputs when selected, else
// per-channel statistics over (N, H, W), one channel per OpenMP work item; sums
// accumulate in double so float32 statistics stay accurate.
#include "cpu/batchnorm_loops.h"
#include "cpu/cpu_kernels.h"
#include "cpu/dnnl_nn.h"

namespace singa {
namespace cpu {

using bn::DimsOf;

namespace nn {

void batchnorm_training(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                       const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var) {
  if (x.data_type() == kFloat32 && UseDnnl() &&
      dnnl_nn::BatchNormForwardTraining(h, x, scale, bias, y, mean, var))
    return;
  const bn::Dims d = DimsOf(x);
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormForwardTraining", {
    bn::Stats<T>(x.data<T>(), d, mean->data<T>(), var->data<T>());
    bn::Normalize<T, false>(x.data<T>(), d, mean->data<T>(), var->data<T>(), scale.data<T>(),
                            bias.data<T>(), h.eps, y->data<T>());
  });
}

void batchnorm_inference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y) {
  if (x.data_type() == kFloat32 && UseDnnl() &&
      dnnl_nn::BatchNormForwardInference(h, x, scale, bias, mean, var, y))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormForwardInference",
                       bn::Normalize<T, false>(x.data<T>(), DimsOf(x), mean.data<T>(),
                                               var.data<T>(), scale.data<T>(), bias.data<T>(),
                                               h.eps, y->data<T>()));
}

void batchnorm_backward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias) {
  if (x.data_type() == kFloat32 && UseDnnl() && dscale->Size() == x.shape(1) &&
      dbias->Size() == x.shape(1) &&
      dnnl_nn::BatchNormBackward(h, x, dy, scale, mean, var, dx, dscale, dbias))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormBackwardx",
                       (bn::Backward<T, false>(x.data<T>(), nullptr, dy.data<T>(), DimsOf(x),
                                               mean.data<T>(), var.data<T>(), scale.data<T>(),
                                               h.eps, dx->data<T>(), dscale->data<T>(),
                                               dbias->data<T>())));
}

}  // namespace nn

}  // namespace cpu
}  // namespace singa
