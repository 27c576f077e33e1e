// Batch normalisation on the CPU: oneDNN for float32 (N, C) inputs when selected, else
// per-channel statistics over (N, H, W), one channel per OpenMP work item; sums
// accumulate in double so float32 statistics stay accurate.
#include "cpu/dnnl_nn.h"
#include "cpu/iter.h"
#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

namespace {


// Layout of x as (N, C, S) with S = H * W.
struct Dims {
  size_t N, C, S;
};

Dims DimsOf(const Tensor& x) {
  return {x.shape(0), x.shape(1), x.nDim() == 4 ? x.shape(2) * x.shape(3) : 1};
}

template <typename T>
void Stats(const T* x, Dims d, T* mean, T* var) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < d.C; ++c) {
    double s = 0;
    for (size_t n = 0; n < d.N; ++n) {
      const T* p = x + (n * d.C + c) * d.S;
      // simd reduction: partial sums per lane (in double) instead of one add chain
#pragma omp simd reduction(+ : s)
      for (size_t i = 0; i < d.S; ++i) s += p[i];
    }
    const double m = s / double(d.N * d.S);
    double v = 0;  // two passes: no cancellation when |mean| >> std
    for (size_t n = 0; n < d.N; ++n) {
      const T* p = x + (n * d.C + c) * d.S;
#pragma omp simd reduction(+ : v)
      for (size_t i = 0; i < d.S; ++i) v += (p[i] - m) * (p[i] - m);
    }
    mean[c] = T(m);
    var[c] = T(v / double(d.N * d.S));
  }
}

// y = (x - mean) / sqrt(var + eps) * scale + bias
template <typename T>
void Normalize(const T* x, Dims d, const T* mean, const T* var, const T* scale, const T* bias,
               double eps, T* y) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t nc = 0; nc < d.N * d.C; ++nc) {
    const size_t c = nc % d.C;
    const T a = T(double(scale[c]) / std::sqrt(double(var[c]) + eps));
    const T b = T(double(bias[c]) - double(mean[c]) * double(a));
    const T* xp = x + nc * d.S;
    T* yp = y + nc * d.S;
#pragma omp simd
    for (size_t i = 0; i < d.S; ++i) yp[i] = xp[i] * a + b;
  }
}

template <typename T>
void Backward(const T* x, const T* dy, Dims d, const T* mean, const T* var, const T* scale,
              double eps, T* dx, T* dscale, T* dbias) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
  const double m = double(d.N * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < d.C; ++c) {
    const double mu = mean[c], istd = 1.0 / std::sqrt(double(var[c]) + eps);
    double sdy = 0, sdyx = 0;
    for (size_t n = 0; n < d.N; ++n) {
      const T* xp = x + (n * d.C + c) * d.S;
      const T* gp = dy + (n * d.C + c) * d.S;
#pragma omp simd reduction(+ : sdy, sdyx)
      for (size_t i = 0; i < d.S; ++i) {
        sdy += gp[i];
        sdyx += gp[i] * (xp[i] - mu);
      }
    }
    const double ds = sdyx * istd;  // sum(dy * xhat)
    dbias[c] = T(sdy);
    dscale[c] = T(ds);
    // dx = scale * istd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const double k = double(scale[c]) * istd;
    const double mdy = sdy / m, mdsx = ds / m * istd;  // xhat*mean(dy*xhat) = (x-mu)*mdsx
    for (size_t n = 0; n < d.N; ++n) {
      const T* xp = x + (n * d.C + c) * d.S;
      const T* gp = dy + (n * d.C + c) * d.S;
      T* op = dx + (n * d.C + c) * d.S;
#pragma omp simd
      for (size_t i = 0; i < d.S; ++i) op[i] = T(k * (gp[i] - mdy - (xp[i] - mu) * mdsx));
    }
  }
}

}  // namespace

namespace nn {

void batchnorm_training(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                       const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var) {
  if (x.data_type() == kFloat32 && UseDnnl() &&
      dnnl_nn::BatchNormForwardTraining(h, x, scale, bias, y, mean, var))
    return;
  const Dims d = DimsOf(x);
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormForwardTraining", {
    Stats<T>(x.data<T>(), d, mean->data<T>(), var->data<T>());
    Normalize<T>(x.data<T>(), d, mean->data<T>(), var->data<T>(), scale.data<T>(),
                 bias.data<T>(), h.eps, y->data<T>());
  });
}

void batchnorm_inference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y) {
  if (x.data_type() == kFloat32 && UseDnnl() &&
      dnnl_nn::BatchNormForwardInference(h, x, scale, bias, mean, var, y))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormForwardInference",
                       Normalize<T>(x.data<T>(), DimsOf(x), mean.data<T>(), var.data<T>(),
                                    scale.data<T>(), bias.data<T>(), h.eps, y->data<T>()));
}

void batchnorm_backward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias) {
  if (x.data_type() == kFloat32 && UseDnnl() && dscale->Size() == x.shape(1) &&
      dbias->Size() == x.shape(1) &&
      dnnl_nn::BatchNormBackward(h, x, dy, scale, mean, var, dx, dscale, dbias))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuBatchNormBackwardx",
                       Backward<T>(x.data<T>(), dy.data<T>(), DimsOf(x), mean.data<T>(),
                                   var.data<T>(), scale.data<T>(), h.eps, dx->data<T>(),
                                   dscale->data<T>(), dbias->data<T>()));
}

}  // namespace nn

}  // namespace cpu
}  // namespace singa
