// Batch normalisation entry points: the BatchNormHandle, shape checks and the running
// statistics; the normalisation runs in the device's nn kernels.
#include "math/kernels.h"
#include "math/nn.h"
#include "math/ops.h"

namespace singa {

using nn_detail::FloatDType;
using nn_detail::ResultOf;
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
  return Prepare(t, dt);
}

// running = factor * running + (1 - factor) * batch * correction, written back into
// `running`: element-wise kernels in float64 doing the same operations in the same order
// as one fused loop would.
void UpdateRunning(Tensor* running, const Tensor& batch, double factor, double correction,
                   const char* fn) {
  Tensor r = running->AsType(kDouble).Contiguous();
  Tensor b = batch.AsType(kDouble).Contiguous().Reshape(r.shape());
  Tensor fresh = ApplyScalar(Binary::kMul, b, 1 - factor, fn);
  if (correction != 1.0) fresh = ApplyScalar(Binary::kMul, fresh, correction, fn);
  running->CopyData(Apply(Binary::kAdd, ApplyScalar(Binary::kMul, r, factor, fn), fresh, fn));
}

}  // namespace

std::vector<Tensor> CpuBatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x_in,
                                                const Tensor& scale_in, const Tensor& bias_in,
                                                Tensor* running_mean, Tensor* running_var) {
  const char* fn = "CpuBatchNormForwardTraining";
  CheckSameDevice(fn, {&x_in, &scale_in, &bias_in, running_mean, running_var});
  // y has x's dtype; with 16-bit floats the batch statistics stay float32 (backward reads
  // them, and the running statistics are updated from them in float64).
  const DataType out = ResultOf(fn, {&x_in, &scale_in, &bias_in}), dt = ComputeDType(out);
  Dims d = CheckX(x_in, h, fn);
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  Tensor bias = PerChannel(bias_in, d.C, dt, fn, "bias");
  PerChannel(*running_mean, d.C, dt, fn, "running_mean");
  PerChannel(*running_var, d.C, dt, fn, "running_var");
  if (d.N * d.S == 0)
    throw ValueError(Msg(fn, ": cannot compute batch statistics of an empty batch ",
                         ShapeStr(x_in.shape())));
  Tensor x = Prepare(x_in, dt);
  Tensor y(x.shape(), x_in.device(), dt), mean({d.C}, x_in.device(), dt),
      var({d.C}, x_in.device(), dt);
  x.device()->kernels().nn.batchnorm_training(h, x, scale, bias, &y, &mean, &var);
  const double m = double(d.N * d.S);
  UpdateRunning(running_mean, mean, h.factor, 1.0, fn);
  UpdateRunning(running_var, var, h.factor, m > 1 ? m / (m - 1) : 1.0, fn);
  return {y.AsType(out), mean, var};
}

Tensor CpuBatchNormForwardInference(const BatchNormHandle& h, const Tensor& x_in,
                                    const Tensor& scale_in, const Tensor& bias_in,
                                    const Tensor& running_mean, const Tensor& running_var) {
  const char* fn = "CpuBatchNormForwardInference";
  CheckSameDevice(fn, {&x_in, &scale_in, &bias_in, &running_mean, &running_var});
  const DataType out = ResultOf(fn, {&x_in, &scale_in, &bias_in}), dt = ComputeDType(out);
  Dims d = CheckX(x_in, h, fn);
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  Tensor bias = PerChannel(bias_in, d.C, dt, fn, "bias");
  Tensor mean = PerChannel(running_mean, d.C, dt, fn, "running_mean");
  Tensor var = PerChannel(running_var, d.C, dt, fn, "running_var");
  Tensor x = Prepare(x_in, dt);
  Tensor y(x.shape(), x_in.device(), dt);
  if (y.Size() == 0) return y.AsType(out);
  x.device()->kernels().nn.batchnorm_inference(h, x, scale, bias, mean, var, &y);
  return y.AsType(out);
}

std::vector<Tensor> CpuBatchNormBackwardx(const BatchNormHandle& h, const Tensor& y_in,
                                          const Tensor& dy_in, const Tensor& x_in,
                                          const Tensor& scale_in, const Tensor& bias_in,
                                          const Tensor& mean_in, const Tensor& var_in) {
  const char* fn = "CpuBatchNormBackwardx";
  CheckSameDevice(fn, {&y_in, &dy_in, &x_in, &scale_in, &bias_in, &mean_in, &var_in});
  // dx has the dtype of dy and x, dscale and dbias that of scale and bias.
  const DataType out = ResultOf(fn, {&dy_in, &x_in}), dt = ComputeDType(out);
  const bool half = IsHalfFloat(out) || IsHalfFloat(scale_in.data_type()) ||
                    IsHalfFloat(bias_in.data_type());
  const DataType param = half ? ResultOf(fn, {&scale_in, &bias_in}) : out;
  Dims d = CheckX(x_in, h, fn);
  if (dy_in.shape() != x_in.shape() || y_in.shape() != x_in.shape())
    throw ValueError(Msg(fn, ": y and dy must have x's shape ", ShapeStr(x_in.shape()),
                         ", got ", ShapeStr(y_in.shape()), " and ", ShapeStr(dy_in.shape())));
  Tensor scale = PerChannel(scale_in, d.C, dt, fn, "scale");
  PerChannel(bias_in, d.C, dt, fn, "bias");
  Tensor mean = PerChannel(mean_in, d.C, dt, fn, "mean");
  Tensor var = PerChannel(var_in, d.C, dt, fn, "var");
  Tensor x = Prepare(x_in, dt), dy = Prepare(dy_in, dt);
  Tensor dx(x.shape(), x_in.device(), dt), dscale(scale_in.shape(), x_in.device(), dt),
      dbias(bias_in.shape(), x_in.device(), dt);
  if (d.N * d.S == 0) {
    dscale.SetValue(0);
    dbias.SetValue(0);
    return {dx.AsType(out), dscale.AsType(param), dbias.AsType(param)};
  }
  x.device()->kernels().nn.batchnorm_backward(h, x, dy, scale, mean, var, &dx, &dscale, &dbias);
  return {dx.AsType(out), dscale.AsType(param), dbias.AsType(param)};
}

}  // namespace singa
