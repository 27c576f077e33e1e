// Local response normalisation across channels (AlexNet/Caffe/ONNX) on the CPU: oneDNN
// for float32 odd window sizes when selected, else each (n, c) plane of the trailing
// axes is one OpenMP work item.
#include "cpu/dnnl_nn.h"
#include "cpu/iter.h"
#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

namespace {

struct LRNDims {
  size_t N, C, S;
};

LRNDims DimsOf(const Tensor& x) { return {x.shape(0), x.shape(1), Product(x.shape(), 2)}; }

// scale[i] = k + alpha/size * sum of x^2 over channels [c - (size-1)/2, c + size/2].
template <typename T>
void ScalePlane(const T* x, LRNDims d, size_t n, size_t c, size_t size, double alpha, double k,
                T* scale) {
  const size_t lo = c >= (size - 1) / 2 ? c - (size - 1) / 2 : 0;
  const size_t hi = std::min(d.C - 1, c + size / 2);
  for (size_t i = 0; i < d.S; ++i) scale[i] = T(0);
  for (size_t cc = lo; cc <= hi; ++cc) {
    const T* xp = x + (n * d.C + cc) * d.S;
    for (size_t i = 0; i < d.S; ++i) scale[i] += xp[i] * xp[i];
  }
  const T a = T(alpha / double(size));
  for (size_t i = 0; i < d.S; ++i) scale[i] = T(k) + a * scale[i];
}

// s[i] = s[i]^-beta. std::pow does not vectorise; the common betas (0.75 in AlexNet/Caffe,
// 0.5, 1) are written with sqrt and division, which do (about 10x faster).
template <typename T>
void InvPow(T* s, size_t n, double beta) {
  if (beta == 0.75) {
    for (size_t i = 0; i < n; ++i) s[i] = T(1) / (std::sqrt(s[i]) * std::sqrt(std::sqrt(s[i])));
  } else if (beta == 0.5) {
    for (size_t i = 0; i < n; ++i) s[i] = T(1) / std::sqrt(s[i]);
  } else if (beta == 1) {
    for (size_t i = 0; i < n; ++i) s[i] = T(1) / s[i];
  } else {
    for (size_t i = 0; i < n; ++i) s[i] = std::pow(s[i], T(-beta));
  }
}

template <typename T>
void LRNForwardRef(const T* x, LRNDims d, size_t size, double alpha, double beta, double k, T* y) {
  const int threads = NumThreadsFor(d.N * d.C * d.S * size);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t nc = 0; nc < d.N * d.C; ++nc) {
    T* yp = y + nc * d.S;
    const T* xp = x + nc * d.S;
    ScalePlane(x, d, nc / d.C, nc % d.C, size, alpha, k, yp);  // scale into y, then y = x*s^-b
    InvPow(yp, d.S, beta);
    for (size_t i = 0; i < d.S; ++i) yp[i] *= xp[i];
  }
}

// dx_i = dy_i * s_i^-beta - 2*alpha*beta/size * x_i * sum_{j: i in window(j)} dy_j * y_j / s_j
template <typename T>
void LRNBackwardRef(const T* dy, const T* x, const T* y, LRNDims d, size_t size, double alpha,
                 double beta, double k, T* dx) {
  std::vector<T> t(d.N * d.C * d.S);
  const int threads = NumThreadsFor(d.N * d.C * d.S * size);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t nc = 0; nc < d.N * d.C; ++nc) {
    T* tp = t.data() + nc * d.S;
    T* dxp = dx + nc * d.S;
    const T* gp = dy + nc * d.S;
    const T* yp = y + nc * d.S;
    ScalePlane(x, d, nc / d.C, nc % d.C, size, alpha, k, tp);
    for (size_t i = 0; i < d.S; ++i) dxp[i] = tp[i];
    InvPow(dxp, d.S, beta);
    for (size_t i = 0; i < d.S; ++i) {
      dxp[i] *= gp[i];
      tp[i] = gp[i] * yp[i] / tp[i];
    }
  }
  const T coef = T(2 * alpha * beta / double(size));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t nc = 0; nc < d.N * d.C; ++nc) {
    const size_t n = nc / d.C, c = nc % d.C;
    // j covers c when j - (size-1)/2 <= c <= j + size/2.
    const size_t lo = c >= size / 2 ? c - size / 2 : 0;
    const size_t hi = std::min(d.C - 1, c + (size - 1) / 2);
    T* dxp = dx + nc * d.S;
    const T* xp = x + nc * d.S;
    std::vector<T> acc(d.S, T(0));
    for (size_t j = lo; j <= hi; ++j) {
      const T* tp = t.data() + (n * d.C + j) * d.S;
      for (size_t i = 0; i < d.S; ++i) acc[i] += tp[i];
    }
    for (size_t i = 0; i < d.S; ++i) dxp[i] -= coef * xp[i] * acc[i];
  }
}

}  // namespace

namespace nn {

void lrn_forward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y) {
  if (x.data_type() == kFloat32 && UseDnnl() && dnnl_nn::LRNForward(x, size, alpha, beta, k, y))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuLRNForward",
                       LRNForwardRef<T>(x.data<T>(), DimsOf(x), size, alpha, beta, k, y->data<T>()));
}

void lrn_backward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size, double alpha,
                 double beta, double k, Tensor* dx) {
  if (x.data_type() == kFloat32 && UseDnnl() &&
      dnnl_nn::LRNBackward(dy, x, size, alpha, beta, k, dx))
    return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuLRNBackward",
                       LRNBackwardRef<T>(dy.data<T>(), x.data<T>(), y.data<T>(), DimsOf(x), size,
                                         alpha, beta, k, dx->data<T>()));
}

}  // namespace nn

}  // namespace cpu
}  // namespace singa
