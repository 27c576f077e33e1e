// Pooling entry points: the PoolingHandle geometry and shape checks; the pooling runs
// in the device's nn kernels.
#include "math/kernels.h"
#include "math/nn.h"

namespace singa {

using nn_detail::FloatDType;
using nn_detail::ResultOf;
using nn_detail::PairArg;
using nn_detail::Prepare;

PoolingHandle::PoolingHandle(const Shape& x_shape, const std::vector<int>& kernel_size,
                             const std::vector<int>& stride, const std::vector<int>& padding,
                             bool is_max, bool include_pad)
    : is_max_pooling(is_max), count_include_pad(include_pad) {
  const char* fn = "PoolingHandle";
  if (x_shape.size() != 4)
    throw ValueError(Msg(fn, ": x must be 4-D (N, C, H, W), got ", ShapeStr(x_shape)));
  std::tie(kernel_h, kernel_w) = PairArg(kernel_size, fn, "kernel_size");
  std::tie(stride_h, stride_w) = PairArg(stride, fn, "stride");
  Pad4 p = ParsePadding(padding, fn);
  pad_top = p.top, pad_bottom = p.bottom, pad_left = p.left, pad_right = p.right;
  // A window made only of padding would have no value to take (max) or a
  // meaningless one (average); cuDNN and PyTorch forbid it the same way.
  if (pad_top >= kernel_h || pad_bottom >= kernel_h || pad_left >= kernel_w ||
      pad_right >= kernel_w)
    throw ValueError(Msg(fn, ": padding (", pad_top, ", ", pad_bottom, ", ", pad_left, ", ",
                         pad_right, ") must be smaller than the kernel (", kernel_h, ", ",
                         kernel_w, ")"));
  batchsize = x_shape[0], channels = x_shape[1], height = x_shape[2], width = x_shape[3];
  if (height + pad_top + pad_bottom < kernel_h || width + pad_left + pad_right < kernel_w)
    throw ValueError(Msg(fn, ": kernel (", kernel_h, ", ", kernel_w,
                         ") is larger than the padded input of ", ShapeStr(x_shape)));
  pooled_height = (height + pad_top + pad_bottom - kernel_h) / stride_h + 1;
  pooled_width = (width + pad_left + pad_right - kernel_w) / stride_w + 1;
}

namespace {

void CheckX(const Tensor& x, const PoolingHandle& h, const char* fn) {
  if (x.nDim() != 4 || x.shape(1) != h.channels || x.shape(2) != h.height ||
      x.shape(3) != h.width)
    throw ValueError(Msg(fn, ": x must have shape (N, ", h.channels, ", ", h.height, ", ",
                         h.width, ") as the PoolingHandle was built for, got ",
                         ShapeStr(x.shape())));
}

}  // namespace

Tensor CpuPoolingForward(const PoolingHandle& h, const Tensor& x_in) {
  const char* fn = "CpuPoolingForward";
  // The 16-bit floats pool in float32 and round once (as every nn entry point here does).
  const DataType out = FloatDType(x_in, fn), dt = ComputeDType(out);
  CheckX(x_in, h, fn);
  Tensor x = Prepare(x_in, dt);
  Tensor y({x.shape(0), h.channels, h.pooled_height, h.pooled_width}, x_in.device(), dt);
  if (y.Size() == 0) return y.AsType(out);
  x.device()->kernels().nn.pool_forward(h, x, &y);
  return y.AsType(out);
}

Tensor CpuPoolingBackward(const PoolingHandle& h, const Tensor& dy_in, const Tensor& x_in,
                          const Tensor& y_in) {
  const char* fn = "CpuPoolingBackward";
  CheckSameDevice(fn, {&dy_in, &x_in, &y_in});
  const DataType out = ResultOf(fn, {&dy_in, &x_in}), dt = ComputeDType(out);
  CheckX(x_in, h, fn);
  Shape ys{x_in.shape(0), h.channels, h.pooled_height, h.pooled_width};
  if (dy_in.shape() != ys || y_in.shape() != ys)
    throw ValueError(Msg(fn, ": dy and y must have shape ", ShapeStr(ys), ", got ",
                         ShapeStr(dy_in.shape()), " and ", ShapeStr(y_in.shape())));
  Tensor dy = Prepare(dy_in, dt), x = Prepare(x_in, dt);
  Tensor dx(x.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx.AsType(out);
  dx.device()->kernels().nn.pool_backward(h, dy, x, &dx);
  return dx.AsType(out);
}

}  // namespace singa
