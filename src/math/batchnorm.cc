// Batch normalisation on CPU: per-channel statistics over (N, H, W), one channel per
// OpenMP work item; sums accumulate in double so float32 statistics stay accurate.
#include "math/iter.h"
#include "math/dnnl_nn.h"
#include "math/nn.h"

namespace singa {

using nn_detail::FloatDType;
using nn_detail::Prepare;

BatchNormHandle::BatchNormHandle(double momentum, const Shape& x_shape) : factor(momentum) {
  const char* fn = "BatchNormHandle";
  if (x_shape.size() != 2 && x_shape.size() != 4)
    throw ValueError(Msg(fn, ": x must be (N, C, H, W) or (N, C), got ", ShapeStr(x_shape)));
  is_2d = x_shape.size() == 2;
  batchsize = x_shape[0], channels = x_shape[1];
  height = is_2d ? 1 : x_shape[2], width = is_2d ? 1 : x_shape[3];
}

namespace {

// Layout of x as (N, C, S) with S = H * W.
struct Dims {
  size_t N, C, S;
};

Dims CheckX(const Tensor& x, const BatchNormHandle& h, const char* fn) {
  bool ok = (x.nDim() == 2 || x.nDim() == 4) && x.shape(1) == h.channels;
  if (!ok)
    throw ValueError(Msg(fn, ": x must be (N, ", h.channels, ", H, W) or (N, ", h.channels,
                         ") as the BatchNormHandle was built for, got ", ShapeStr(x.shape())));
  return {x.shape(0), x.shape(1), x.nDim() == 4 ? x.shape(2) * x.shape(3) : 1};
}

Tensor PerChannel(const Tensor& t, size_t C, DataType dt, const char* fn, const char* what) {
  if (t.Size() != C)
    throw ValueError(Msg(fn, ": ", what, " must have ", C, " elements (one per channel), got ",
                         ShapeStr(t.shape())));
  return Prepare(t, dt, fn, what);
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

// running = factor * running + (1 - factor) * batch, written back into `running`.
void UpdateRunning(Tensor* running, const Tensor& batch, double factor, double correction) {
  Tensor r = running->AsType(kDouble).Contiguous().Clone();
  Tensor b = batch.AsType(kDouble).Contiguous();
  double* rp = r.data<double>();
  const double* bp = b.data<double>();
  for (size_t i = 0; i < r.Size(); ++i)
    rp[i] = factor * rp[i] + (1 - factor) * bp[i] * correction;
  running->CopyData(r);
}

}  // namespace

std::vector<Tensor> CpuBatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x_in,
                                                const Tensor& scale_in, const Tensor& bias_in,
                                                Tensor* running_mean, Tensor* running_var) {
  const char* fn = "CpuBatchNormForwardTraining";
  DataType dt = FloatDType(x_in, fn);
  Dims d = CheckX(x_in, h, fn);
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  Tensor bias = PerChannel(bias_in, d.C, dt, fn, "bias");
  PerChannel(*running_mean, d.C, dt, fn, "running_mean");
  PerChannel(*running_var, d.C, dt, fn, "running_var");
  if (d.N * d.S == 0)
    throw ValueError(Msg(fn, ": cannot compute batch statistics of an empty batch ",
                         ShapeStr(x_in.shape())));
  Tensor x = Prepare(x_in, dt, fn, "x");
  Tensor y(x.shape(), x_in.device(), dt), mean({d.C}, x_in.device(), dt),
      var({d.C}, x_in.device(), dt);
  if (!(dt == kFloat32 && UseDnnl() &&
        dnnl_nn::BatchNormForwardTraining(h, x, scale, bias, &y, &mean, &var)))
    SINGA_DISPATCH_FLOAT(dt, fn, {
    Stats<T>(x.data<T>(), d, mean.data<T>(), var.data<T>());
    Normalize<T>(x.data<T>(), d, mean.data<T>(), var.data<T>(), scale.data<T>(),
                 bias.data<T>(), h.eps, y.data<T>());
  });
  const double m = double(d.N * d.S);
  UpdateRunning(running_mean, mean, h.factor, 1.0);
  UpdateRunning(running_var, var, h.factor, m > 1 ? m / (m - 1) : 1.0);
  return {y, mean, var};
}

Tensor CpuBatchNormForwardInference(const BatchNormHandle& h, const Tensor& x_in,
                                    const Tensor& scale_in, const Tensor& bias_in,
                                    const Tensor& running_mean, const Tensor& running_var) {
  const char* fn = "CpuBatchNormForwardInference";
  DataType dt = FloatDType(x_in, fn);
  Dims d = CheckX(x_in, h, fn);
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  Tensor bias = PerChannel(bias_in, d.C, dt, fn, "bias");
  Tensor mean = PerChannel(running_mean, d.C, dt, fn, "running_mean");
  Tensor var = PerChannel(running_var, d.C, dt, fn, "running_var");
  Tensor x = Prepare(x_in, dt, fn, "x");
  Tensor y(x.shape(), x_in.device(), dt);
  if (y.Size() == 0) return y;
  if (dt == kFloat32 && UseDnnl() &&
      dnnl_nn::BatchNormForwardInference(h, x, scale, bias, mean, var, &y))
    return y;
  SINGA_DISPATCH_FLOAT(dt, fn,
                       Normalize<T>(x.data<T>(), d, mean.data<T>(), var.data<T>(),
                                    scale.data<T>(), bias.data<T>(), h.eps, y.data<T>()));
  return y;
}

std::vector<Tensor> CpuBatchNormBackwardx(const BatchNormHandle& h, const Tensor& y_in,
                                          const Tensor& dy_in, const Tensor& x_in,
                                          const Tensor& scale_in, const Tensor& bias_in,
                                          const Tensor& mean_in, const Tensor& var_in) {
  const char* fn = "CpuBatchNormBackwardx";
  DataType dt = FloatDType(dy_in, fn);
  Dims d = CheckX(x_in, h, fn);
  if (dy_in.shape() != x_in.shape() || y_in.shape() != x_in.shape())
    throw ValueError(Msg(fn, ": y and dy must have x's shape ", ShapeStr(x_in.shape()),
                         ", got ", ShapeStr(y_in.shape()), " and ", ShapeStr(dy_in.shape())));
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  PerChannel(bias_in, d.C, dt, fn, "bias");
  Tensor mean = PerChannel(mean_in, d.C, dt, fn, "mean");
  Tensor var = PerChannel(var_in, d.C, dt, fn, "var");
  Tensor x = Prepare(x_in, dt, fn, "x"), dy = Prepare(dy_in, dt, fn, "dy");
  Tensor dx(x.shape(), x_in.device(), dt), dscale(scale_in.shape(), x_in.device(), dt),
      dbias(bias_in.shape(), x_in.device(), dt);
  if (d.N * d.S == 0) {
    dscale.SetValue(0);
    dbias.SetValue(0);
    return {dx, dscale, dbias};
  }
  if (dt == kFloat32 && UseDnnl() && dscale.Size() == d.C && dbias.Size() == d.C &&
      dnnl_nn::BatchNormBackward(h, x, dy, scale, mean, var, &dx, &dscale, &dbias))
    return {dx, dscale, dbias};
  SINGA_DISPATCH_FLOAT(dt, fn,
                       Backward<T>(x.data<T>(), dy.data<T>(), d, mean.data<T>(), var.data<T>(),
                                   scale.data<T>(), h.eps, dx.data<T>(), dscale.data<T>(),
                                   dbias.data<T>()));
  return {dx, dscale, dbias};
}

}  // namespace singa
