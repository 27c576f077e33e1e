// Convolution entry points: the ConvHandle geometry, shape checks and the helpers the
// nn entry points share; the convolutions run in the device's nn kernels.
#include "math/kernels.h"
#include "math/nn.h"

namespace singa {

namespace nn_detail {

DataType FloatDType(const Tensor& x, const char* fn) {
  const DataType dt = x.data_type();
  if (dt != kFloat32 && dt != kDouble && !IsHalfFloat(dt))
    throw TypeError(Msg(fn, ": expects float32, float64, float16 or bfloat16 input, got ",
                        DataTypeName(dt)));
  return dt;
}

DataType ResultOf(const char* fn, std::initializer_list<const Tensor*> operands) {
  const DataType first = FloatDType(**operands.begin(), fn);
  DataType r = first;
  bool half = false;
  for (const Tensor* t : operands) {
    half = half || IsHalfFloat(t->data_type());
    r = ResultDType(r, t->data_type());
  }
  return half ? r : first;
}

std::pair<size_t, size_t> PairArg(const std::vector<int>& v, const char* fn, const char* what) {
  if (v.size() != 1 && v.size() != 2)
    throw ValueError(Msg(fn, ": ", what, " needs 1 or 2 values, got ", v.size()));
  int a = v[0], b = v.size() == 2 ? v[1] : v[0];
  if (a <= 0 || b <= 0)
    throw ValueError(Msg(fn, ": ", what, " must be positive, got (", a, ", ", b, ")"));
  return {size_t(a), size_t(b)};
}

Tensor Prepare(const Tensor& t, DataType dtype) { return t.AsType(dtype).Contiguous(); }

}  // namespace nn_detail

using nn_detail::Prepare;
using nn_detail::PairArg;
using nn_detail::ResultOf;

Pad4 ParsePadding(const std::vector<int>& p, const char* fn) {
  for (int v : p)
    if (v < 0) throw ValueError(Msg(fn, ": padding must be non-negative, got ", v));
  if (p.size() == 1) return {size_t(p[0]), size_t(p[0]), size_t(p[0]), size_t(p[0])};
  if (p.size() == 2) return {size_t(p[0]), size_t(p[0]), size_t(p[1]), size_t(p[1])};
  if (p.size() == 4) return {size_t(p[0]), size_t(p[1]), size_t(p[2]), size_t(p[3])};
  throw ValueError(Msg(fn, ": padding needs 1, 2 (pad_h, pad_w) or 4 values (top, bottom, "
                       "left, right), got ", p.size()));
}

namespace {

void CheckX(const Tensor& x, const ConvHandle& h, const char* fn) {
  if (x.nDim() != 4 || x.shape(1) != h.channels || x.shape(2) != h.height ||
      x.shape(3) != h.width)
    throw ValueError(Msg(fn, ": x must have shape (N, ", h.channels, ", ", h.height, ", ",
                         h.width, ") as the ConvHandle was built for, got ",
                         ShapeStr(x.shape())));
}

void CheckW(const Tensor& W, const ConvHandle& h, const char* fn) {
  Shape want{h.num_filters, h.channels / h.group, h.kernel_h, h.kernel_w};
  if (W.shape() != want)
    throw ValueError(Msg(fn, ": W must have shape ", ShapeStr(want),
                         " (num_filters, channels/group, kernel_h, kernel_w), got ",
                         ShapeStr(W.shape())));
}

void CheckDy(const Tensor& dy, size_t n, const ConvHandle& h, const char* fn) {
  Shape want{n, h.num_filters, h.conv_height, h.conv_width};
  if (dy.shape() != want)
    throw ValueError(Msg(fn, ": dy must have shape ", ShapeStr(want), ", got ",
                         ShapeStr(dy.shape())));
}

}  // namespace

ConvHandle::ConvHandle(const Shape& x_shape, const std::vector<int>& kernel_size,
                       const std::vector<int>& stride, const std::vector<int>& padding,
                       size_t in_channels, size_t out_channels, bool bias, size_t group_,
                       const std::vector<int>& dilation) {
  const char* fn = "ConvHandle";
  if (x_shape.size() != 4)
    throw ValueError(Msg(fn, ": x must be 4-D (N, C, H, W), got ", ShapeStr(x_shape)));
  std::tie(kernel_h, kernel_w) = PairArg(kernel_size, fn, "kernel_size");
  std::tie(stride_h, stride_w) = PairArg(stride, fn, "stride");
  std::tie(dilation_h, dilation_w) = PairArg(dilation, fn, "dilation");
  Pad4 p = ParsePadding(padding, fn);
  pad_top = p.top, pad_bottom = p.bottom, pad_left = p.left, pad_right = p.right;
  if (in_channels != x_shape[1])
    throw ValueError(Msg(fn, ": in_channels is ", in_channels, " but x of shape ",
                         ShapeStr(x_shape), " has ", x_shape[1], " channels"));
  if (group_ == 0 || in_channels % group_ != 0 || out_channels % group_ != 0)
    throw ValueError(Msg(fn, ": group ", group_, " must divide in_channels ", in_channels,
                         " and out_channels ", out_channels));
  if (out_channels == 0) throw ValueError(Msg(fn, ": out_channels must be positive"));
  channels = in_channels, num_filters = out_channels, group = group_, bias_term = bias;
  batchsize = x_shape[0], height = x_shape[2], width = x_shape[3];
  const size_t eh = dilation_h * (kernel_h - 1) + 1, ew = dilation_w * (kernel_w - 1) + 1;
  if (height + pad_top + pad_bottom < eh || width + pad_left + pad_right < ew)
    throw ValueError(Msg(fn, ": kernel (", kernel_h, ", ", kernel_w, ") with dilation (",
                         dilation_h, ", ", dilation_w, ") is larger than the padded input of ",
                         ShapeStr(x_shape)));
  conv_height = (height + pad_top + pad_bottom - eh) / stride_h + 1;
  conv_width = (width + pad_left + pad_right - ew) / stride_w + 1;
  col_height = channels / group * kernel_h * kernel_w;
  col_width = conv_height * conv_width;
}

Tensor CpuConvForward(const Tensor& x_in, const Tensor& W_in, const Tensor& b_in,
                      const ConvHandle& h) {
  const char* fn = "CpuConvForward";
  if (h.bias_term) CheckSameDevice(fn, {&x_in, &W_in, &b_in});
  else CheckSameDevice(fn, {&x_in, &W_in});
  // One 16-bit float dtype throughout reaches the kernel as it is (the device decides how
  // it computes it); any other mix is converted to the result dtype first.
  DataType dt = h.bias_term ? ResultOf(fn, {&x_in, &W_in, &b_in}) : ResultOf(fn, {&x_in, &W_in});
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  if (h.bias_term && b_in.Size() != h.num_filters)
    throw ValueError(Msg(fn, ": b must have ", h.num_filters, " elements (num_filters), got ",
                         ShapeStr(b_in.shape())));
  Tensor x = Prepare(x_in, dt), W = Prepare(W_in, dt);
  // Without a bias, an empty stand-in on x's device (a default Tensor is a CPU scalar).
  Tensor b = h.bias_term ? Prepare(b_in, dt) : Tensor(Shape{0}, x.device());
  Tensor y({x.shape(0), h.num_filters, h.conv_height, h.conv_width}, x_in.device(), dt);
  if (y.Size() == 0) return y;
  x.device()->kernels().nn.conv_forward(h, x, W, h.bias_term ? &b : nullptr, &y);
  return y;
}

Tensor CpuConvBackwardx(const Tensor& dy_in, const Tensor& W_in, const Tensor& x_in,
                        const ConvHandle& h) {
  const char* fn = "CpuConvBackwardx";
  CheckSameDevice(fn, {&dy_in, &W_in, &x_in});
  DataType dt = ResultOf(fn, {&dy_in, &W_in});
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  CheckDy(dy_in, x_in.shape(0), h, fn);
  Tensor dy = Prepare(dy_in, dt), W = Prepare(W_in, dt);
  Tensor dx(x_in.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx;
  dx.device()->kernels().nn.conv_backward_data(h, dy, W, &dx);
  return dx;
}

Tensor CpuConvBackwardW(const Tensor& dy_in, const Tensor& x_in, const Tensor& W_in,
                        const ConvHandle& h) {
  const char* fn = "CpuConvBackwardW";
  CheckSameDevice(fn, {&dy_in, &x_in, &W_in});
  DataType dt = ResultOf(fn, {&dy_in, &x_in});
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  CheckDy(dy_in, x_in.shape(0), h, fn);
  Tensor dy = Prepare(dy_in, dt), x = Prepare(x_in, dt);
  Tensor dW(W_in.shape(), W_in.device(), dt);
  if (dW.Size() == 0) return dW;
  dW.device()->kernels().nn.conv_backward_weights(h, dy, x, &dW);
  return dW;
}

Tensor CpuConvBackwardb(const Tensor& dy_in, const Tensor& b_in, const ConvHandle& h) {
  const char* fn = "CpuConvBackwardb";
  CheckSameDevice(fn, {&dy_in, &b_in});
  const DataType out = nn_detail::FloatDType(dy_in, fn), dt = ComputeDType(out);
  if (dy_in.nDim() != 4) throw ValueError(Msg(fn, ": dy must be 4-D, got ", ShapeStr(dy_in.shape())));
  CheckDy(dy_in, dy_in.shape(0), h, fn);
  if (b_in.Size() != h.num_filters)
    throw ValueError(Msg(fn, ": b must have ", h.num_filters, " elements (num_filters), got ",
                         ShapeStr(b_in.shape())));
  Tensor dy = Prepare(dy_in, dt);
  Tensor db(b_in.shape(), dy_in.device(), dt);
  dy.device()->kernels().nn.conv_backward_bias(h, dy, &db);
  return db.AsType(out);
}

}  // namespace singa
