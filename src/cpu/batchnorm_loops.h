// singa's own batch-norm loops on (N, C, S) data (S = H * W), shared by the plain batch norm
// (batchnorm.cc) and the fused batch norm + ReLU (dnnl_fused.cc), so that both give the same
// numbers. Statistics and gradient sums accumulate in double so float32 stays accurate; the
// affine map is rounded to T once per channel. kReLU applies the ReLU to the output, and in
// backward masks dy by y > 0 as each element is read.
#pragma once

#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "cpu/iter.h"

namespace singa {
namespace cpu {
namespace bn {

struct Dims {
  size_t N, C, S;
};

inline Dims DimsOf(const Tensor& x) {
  return {x.shape(0), x.shape(1), x.nDim() == 4 ? x.shape(2) * x.shape(3) : 1};
}

// Mean and biased variance of channel c, in two passes (no cancellation when |mean| >> std).
template <typename T>
void ChannelStats(const T* x, Dims d, size_t c, T* mean, T* var) {
  double s = 0;
  for (size_t n = 0; n < d.N; ++n) {
    const T* p = x + (n * d.C + c) * d.S;
    // simd reduction: partial sums per lane (in double) instead of one add chain
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < d.S; ++i) s += p[i];
  }
  const double m = s / double(d.N * d.S);
  double v = 0;
  for (size_t n = 0; n < d.N; ++n) {
    const T* p = x + (n * d.C + c) * d.S;
#pragma omp simd reduction(+ : v)
    for (size_t i = 0; i < d.S; ++i) v += (p[i] - m) * (p[i] - m);
  }
  mean[c] = T(m);
  var[c] = T(v / double(d.N * d.S));
}

// y = (x - mean) / sqrt(var + eps) * scale + bias over the S elements at x (channel c).
template <typename T, bool kReLU>
void NormalizeRow(const T* x, size_t S, size_t c, const T* mean, const T* var, const T* scale,
                  const T* bias, double eps, T* y) {
  const T a = T(double(scale[c]) / std::sqrt(double(var[c]) + eps));
  const T b = T(double(bias[c]) - double(mean[c]) * double(a));
#pragma omp simd
  for (size_t i = 0; i < S; ++i) y[i] = kReLU ? std::max(x[i] * a + b, T(0)) : x[i] * a + b;
}

template <typename T>
void Stats(const T* x, Dims d, T* mean, T* var) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < d.C; ++c) ChannelStats(x, d, c, mean, var);
}

template <typename T, bool kReLU>
void Normalize(const T* x, Dims d, const T* mean, const T* var, const T* scale, const T* bias,
               double eps, T* y) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t nc = 0; nc < d.N * d.C; ++nc)
    NormalizeRow<T, kReLU>(x + nc * d.S, d.S, nc % d.C, mean, var, scale, bias, eps,
                           y + nc * d.S);
}

// Statistics and normalisation one channel at a time, so the normalising pass reads the
// channel while it is still in cache from the statistics passes.
template <typename T, bool kReLU>
void Training(const T* x, Dims d, const T* scale, const T* bias, double eps, T* y, T* mean,
              T* var) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < d.C; ++c) {
    ChannelStats(x, d, c, mean, var);
    for (size_t n = 0; n < d.N; ++n) {
      const size_t o = (n * d.C + c) * d.S;
      NormalizeRow<T, kReLU>(x + o, d.S, c, mean, var, scale, bias, eps, y + o);
    }
  }
}

// dx, dscale, dbias from dy (masked by y > 0 when kReLU; y is unused otherwise).
template <typename T, bool kReLU>
void Backward(const T* x, const T* y, const T* dy, Dims d, const T* mean, const T* var,
              const T* scale, double eps, T* dx, T* dscale, T* dbias) {
  const int threads = NumThreadsFor(d.N * d.C * d.S);
  const double m = double(d.N * d.S);
  auto grad = [y, dy](size_t j) { return kReLU && !(y[j] > T(0)) ? T(0) : dy[j]; };
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < d.C; ++c) {
    const double mu = mean[c], istd = 1.0 / std::sqrt(double(var[c]) + eps);
    double sdy = 0, sdyx = 0;
    for (size_t n = 0; n < d.N; ++n) {
      const size_t o = (n * d.C + c) * d.S;
#pragma omp simd reduction(+ : sdy, sdyx)
      for (size_t i = 0; i < d.S; ++i) {
        const T g = grad(o + i);
        sdy += g;
        sdyx += g * (x[o + i] - mu);
      }
    }
    const double ds = sdyx * istd;  // sum(dy * xhat)
    dbias[c] = T(sdy);
    dscale[c] = T(ds);
    // dx = scale * istd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const double k = double(scale[c]) * istd;
    const double mdy = sdy / m, mdsx = ds / m * istd;  // xhat*mean(dy*xhat) = (x-mu)*mdsx
    for (size_t n = 0; n < d.N; ++n) {
      const size_t o = (n * d.C + c) * d.S;
#pragma omp simd
      for (size_t i = 0; i < d.S; ++i)
        dx[o + i] = T(k * (grad(o + i) - mdy - (x[o + i] - mu) * mdsx));
    }
  }
}

}  // namespace bn
}  // namespace cpu
}  // namespace singa
