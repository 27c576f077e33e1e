// Fused conv + bias + ReLU and batch norm + ReLU (see dnnl_fused.h).
//
// Why fuse: the unfused pair writes the pre-activation, reads it back for the ReLU and
// keeps it alive for ReLU's backward; fused, the activation is written once and only the
// output is kept (its sign is the ReLU mask). The convolution gets this from oneDNN's
// eltwise_relu post-op, applied to each output block while it is still in registers. Batch
// norm takes oneDNN's fuse_norm_relu wherever the plain batch norm runs oneDNN ((N, C)
// inputs, and 4-D ones while activations stay channel-blocked: dnnl_nn.cc), so it reads
// and writes the blocked layout as the unfused one does. Elsewhere (4-D inputs with
// SINGA_DNNL_LAYOUT=plain or reorder, float64) it runs our own loops, one channel at a time
// so the normalising pass reads x while it is still in cache from the statistics passes.
#include "cpu/dnnl_fused.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/batchnorm_loops.h"
#include "cpu/cpu_device.h"
#include "cpu/dnnl_nn.h"
#include "cpu/half_compute.h"
#include "cpu/iter.h"
#include "math/ops.h"

namespace singa {

namespace {

namespace bn = cpu::bn;

bool OnCpu(const Tensor& t) { return dynamic_cast<const CppCPU*>(t.device().get()) != nullptr; }

// ---------------------------------------------------------------- conv + ReLU

void CheckConvOperands(const Tensor& x, const Tensor& W, const Tensor& b, const ConvHandle& h,
                       const char* fn) {
  if (h.bias_term) CheckSameDevice(fn, {&x, &W, &b});
  else CheckSameDevice(fn, {&x, &W});
  if (x.nDim() != 4 || x.shape(1) != h.channels || x.shape(2) != h.height ||
      x.shape(3) != h.width)
    throw ValueError(Msg(fn, ": x must have shape (N, ", h.channels, ", ", h.height, ", ",
                         h.width, ") as the ConvHandle was built for, got ",
                         ShapeStr(x.shape())));
  const Shape want{h.num_filters, h.channels / h.group, h.kernel_h, h.kernel_w};
  if (W.shape() != want)
    throw ValueError(Msg(fn, ": W must have shape ", ShapeStr(want),
                         " (num_filters, channels/group, kernel_h, kernel_w), got ",
                         ShapeStr(W.shape())));
  if (h.bias_term && b.Size() != h.num_filters)
    throw ValueError(Msg(fn, ": b must have ", h.num_filters, " elements (num_filters), got ",
                         ShapeStr(b.shape())));
}

// ---------------------------------------------------------------- batch norm + ReLU

// running = factor * running + (1 - factor) * batch * correction, in double and in the
// order CpuBatchNormForwardTraining's update computes it.
template <typename T>
void UpdateRunning(T* running, const T* batch, size_t C, double factor, double correction) {
  for (size_t c = 0; c < C; ++c) {
    double fresh = double(batch[c]) * (1 - factor);
    if (correction != 1.0) fresh = fresh * correction;
    const double kept = double(running[c]) * factor;
    running[c] = T(kept + fresh);
  }
}

// Whether the own loops can serve x with these per-channel operands: CPU, float32 or
// float64 throughout, contiguous, shapes as the handle says. Anything else takes the
// unfused pair, whose entry points convert or raise the right error.
bool BNFast(const BatchNormHandle& h, const Tensor& x,
            std::initializer_list<const Tensor*> per_channel) {
  const DataType dt = x.data_type();
  if ((dt != kFloat32 && dt != kDouble) || !OnCpu(x) || !x.IsContiguous()) return false;
  if ((x.nDim() != 2 && x.nDim() != 4) || x.shape(1) != h.channels) return false;
  for (const Tensor* t : per_channel)
    if (t->data_type() != dt || t->Size() != h.channels || !t->IsContiguous() ||
        t->device() != x.device())
      return false;
  return true;
}


}  // namespace

Tensor CpuConvReLUForward(const Tensor& x_in, const Tensor& W_in, const Tensor& b_in,
                          const ConvHandle& h) {
  const char* fn = "CpuConvReLUForward";
  CheckConvOperands(x_in, W_in, b_in, h, fn);
  const DataType dt = x_in.data_type();
  const bool one_dtype = W_in.data_type() == dt && (!h.bias_term || b_in.data_type() == dt);
  const bool dnnl_dtype = (dt == kFloat32 && UseDnnl()) || (IsHalfFloat(dt) && NativeHalf(dt));
  if (one_dtype && dnnl_dtype && OnCpu(x_in) && x_in.shape(0) > 0) {
    Tensor x = x_in.Contiguous(), W = W_in.Contiguous();
    Tensor b = h.bias_term ? b_in.Contiguous() : Tensor(Shape{0}, x.device());
    Tensor y({x.shape(0), h.num_filters, h.conv_height, h.conv_width}, x.device(), dt);
    if (dnnl_nn::ConvForward(h, x, W, h.bias_term ? &b : nullptr, &y, /*relu=*/true)) return y;
  }
  return Apply(Unary::kReLU, CpuConvForward(x_in, W_in, b_in, h), fn);
}

std::vector<Tensor> CpuBatchNormReLUForwardTraining(const BatchNormHandle& h, const Tensor& x,
                                                    const Tensor& scale, const Tensor& bias,
                                                    Tensor* running_mean, Tensor* running_var) {
  const char* fn = "CpuBatchNormReLUForwardTraining";
  if (BNFast(h, x, {&scale, &bias, running_mean, running_var}) &&
      x.shape(0) * bn::DimsOf(x).S > 0) {
    const bn::Dims d = bn::DimsOf(x);
    const DataType dt = x.data_type();
    Tensor y(x.shape(), x.device(), dt), mean({d.C}, x.device(), dt), var({d.C}, x.device(), dt);
    const bool dnnl = dt == kFloat32 && UseDnnl() &&
                      dnnl_nn::BatchNormForwardTraining(h, x, scale, bias, &y, &mean, &var,
                                                        /*relu=*/true);
    const double m = double(d.N * d.S), correction = m > 1 ? m / (m - 1) : 1.0;
    SINGA_DISPATCH_FLOAT(dt, fn, {
      if (!dnnl)
        bn::Training<T, true>(x.data<T>(), d, scale.data<T>(), bias.data<T>(), h.eps,
                              y.data<T>(), mean.data<T>(), var.data<T>());
      UpdateRunning<T>(running_mean->data<T>(), mean.data<T>(), d.C, h.factor, 1.0);
      UpdateRunning<T>(running_var->data<T>(), var.data<T>(), d.C, h.factor, correction);
    });
    return {y, mean, var};
  }
  auto out = CpuBatchNormForwardTraining(h, x, scale, bias, running_mean, running_var);
  out[0] = Apply(Unary::kReLU, out[0], fn);
  return out;
}

Tensor CpuBatchNormReLUForwardInference(const BatchNormHandle& h, const Tensor& x,
                                        const Tensor& scale, const Tensor& bias,
                                        const Tensor& running_mean, const Tensor& running_var) {
  const char* fn = "CpuBatchNormReLUForwardInference";
  if (BNFast(h, x, {&scale, &bias, &running_mean, &running_var}) && x.Size() > 0) {
    const DataType dt = x.data_type();
    Tensor y(x.shape(), x.device(), dt);
    if (dt == kFloat32 && UseDnnl() &&
        dnnl_nn::BatchNormForwardInference(h, x, scale, bias, running_mean, running_var, &y,
                                           /*relu=*/true))
      return y;
    SINGA_DISPATCH_FLOAT(dt, fn,
                         (bn::Normalize<T, true>(x.data<T>(), bn::DimsOf(x),
                                                 running_mean.data<T>(), running_var.data<T>(),
                                                 scale.data<T>(), bias.data<T>(), h.eps,
                                                 y.data<T>())));
    return y;
  }
  return Apply(Unary::kReLU,
               CpuBatchNormForwardInference(h, x, scale, bias, running_mean, running_var), fn);
}

std::vector<Tensor> CpuBatchNormReLUBackwardx(const BatchNormHandle& h, const Tensor& y,
                                              const Tensor& dy_in, const Tensor& x,
                                              const Tensor& scale, const Tensor& bias,
                                              const Tensor& mean, const Tensor& var) {
  const char* fn = "CpuBatchNormReLUBackwardx";
  // Where the batch norm runs oneDNN ((N, C) inputs, whose channel-vectorised loops beat
  // ours over a strided channel, and blocked 4-D ones, which ours would convert to NCHW)
  // the backward is the unfused pair's: dy masked by y > 0, then oneDNN's batch norm.
  const bool dnnl = x.data_type() == kFloat32 && UseDnnl() && dnnl_nn::BatchNormUsesDnnl(x);
  if (x.nDim() == 4 && !dnnl && BNFast(h, x, {&scale, &bias, &mean, &var}) &&
      y.shape() == x.shape() && dy_in.shape() == x.shape() && y.data_type() == x.data_type() &&
      dy_in.data_type() == x.data_type() && y.IsContiguous() && OnCpu(y) && OnCpu(dy_in) &&
      y.device() == x.device() && dy_in.device() == x.device() && x.Size() > 0) {
    const DataType dt = x.data_type();
    const bn::Dims d = bn::DimsOf(x);
    Tensor dy = dy_in.Contiguous();
    Tensor dx(x.shape(), x.device(), dt), dscale(scale.shape(), x.device(), dt),
        dbias(bias.shape(), x.device(), dt);
    SINGA_DISPATCH_FLOAT(dt, fn,
                         (bn::Backward<T, true>(x.data<T>(), y.data<T>(), dy.data<T>(), d,
                                                mean.data<T>(), var.data<T>(), scale.data<T>(),
                                                h.eps, dx.data<T>(), dscale.data<T>(),
                                                dbias.data<T>())));
    return {dx, dscale, dbias};
  }
  CheckSameDevice(fn, {&y, &dy_in});
  if (y.shape() != dy_in.shape())
    throw ValueError(Msg(fn, ": y and dy must have one shape, got ", ShapeStr(y.shape()),
                         " and ", ShapeStr(dy_in.shape())));
  const Tensor dz = Apply(Binary::kReLUBackward, dy_in, y, fn);
  return CpuBatchNormBackwardx(h, y, dz, x, scale, bias, mean, var);
}

}  // namespace singa
