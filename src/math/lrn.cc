// Local response normalisation across channels (AlexNet/Caffe/ONNX) on CPU.
// x is (N, C, ...); each (n, c) plane of the trailing axes is one OpenMP work item.
#include "math/iter.h"
#include "math/dnnl_nn.h"
#include "math/nn.h"

namespace singa {

using nn_detail::FloatDType;
using nn_detail::Prepare;

namespace {

struct LRNDims {
  size_t N, C, S;
};

LRNDims CheckLRN(const Tensor& x, size_t size, double k, const char* fn) {
  if (x.nDim() < 2)
    throw ValueError(Msg(fn, ": x must be (N, C, ...), got ", ShapeStr(x.shape())));
  if (size == 0) throw ValueError(Msg(fn, ": size must be positive"));
  if (!(k > 0)) throw ValueError(Msg(fn, ": k must be positive, got ", k));
  return {x.shape(0), x.shape(1), Product(x.shape(), 2)};
}

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
void LRNForward(const T* x, LRNDims d, size_t size, double alpha, double beta, double k, T* y) {
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
void LRNBackward(const T* dy, const T* x, const T* y, LRNDims d, size_t size, double alpha,
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

Tensor CpuLRNForward(const Tensor& x_in, size_t size, double alpha, double beta, double k) {
  const char* fn = "CpuLRNForward";
  DataType dt = FloatDType(x_in, fn);
  LRNDims d = CheckLRN(x_in, size, k, fn);
  Tensor x = Prepare(x_in, dt, fn, "x");
  Tensor y(x.shape(), x_in.device(), dt);
  if (y.Size() == 0) return y;
  if (dt == kFloat32 && UseDnnl() && dnnl_nn::LRNForward(x, size, alpha, beta, k, &y)) return y;
  SINGA_DISPATCH_FLOAT(dt, fn, LRNForward<T>(x.data<T>(), d, size, alpha, beta, k, y.data<T>()));
  return y;
}

Tensor CpuLRNBackward(const Tensor& dy_in, const Tensor& x_in, const Tensor& y_in, size_t size,
                      double alpha, double beta, double k) {
  const char* fn = "CpuLRNBackward";
  DataType dt = FloatDType(dy_in, fn);
  LRNDims d = CheckLRN(x_in, size, k, fn);
  if (dy_in.shape() != x_in.shape() || y_in.shape() != x_in.shape())
    throw ValueError(Msg(fn, ": dy and y must have x's shape ", ShapeStr(x_in.shape()), ", got ",
                         ShapeStr(dy_in.shape()), " and ", ShapeStr(y_in.shape())));
  Tensor x = Prepare(x_in, dt, fn, "x"), dy = Prepare(dy_in, dt, fn, "dy"),
         y = Prepare(y_in, dt, fn, "y");
  Tensor dx(x.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx;
  if (dt == kFloat32 && UseDnnl() && dnnl_nn::LRNBackward(dy, x, size, alpha, beta, k, &dx))
    return dx;
  SINGA_DISPATCH_FLOAT(dt, fn,
                       LRNBackward<T>(dy.data<T>(), x.data<T>(), y.data<T>(), d, size, alpha,
                                      beta, k, dx.data<T>()));
  return dx;
}

}  // namespace singa
