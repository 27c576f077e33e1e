// 2-D max and average pooling on CPU, one (n, c) plane per OpenMP work item.
#include "math/iter.h"
#include "math/dnnl_nn.h"
#include "math/nn.h"

namespace singa {

using nn_detail::FloatDType;
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

// The window of output (oh, ow) clipped to the image: rows [h0, h1), cols [w0, w1).
struct Window {
  size_t h0, h1, w0, w1;
};

inline Window WindowAt(const PoolingHandle& h, size_t oh, size_t ow) {
  int64_t hs = int64_t(oh * h.stride_h) - int64_t(h.pad_top);
  int64_t ws = int64_t(ow * h.stride_w) - int64_t(h.pad_left);
  int64_t he = std::min<int64_t>(hs + int64_t(h.kernel_h), int64_t(h.height));
  int64_t we = std::min<int64_t>(ws + int64_t(h.kernel_w), int64_t(h.width));
  return {size_t(std::max<int64_t>(hs, 0)), size_t(std::max<int64_t>(he, 0)),
          size_t(std::max<int64_t>(ws, 0)), size_t(std::max<int64_t>(we, 0))};
}

inline double Divisor(const PoolingHandle& h, const Window& w) {
  if (h.count_include_pad) return double(h.kernel_h * h.kernel_w);
  return double((w.h1 - w.h0) * (w.w1 - w.w0));
}

// Index (within the plane) of the first maximal cell of the window.
template <typename T>
inline size_t ArgMax(const T* plane, size_t width, const Window& w) {
  size_t best = w.h0 * width + w.w0;
  for (size_t i = w.h0; i < w.h1; ++i)
    for (size_t j = w.w0; j < w.w1; ++j)
      if (plane[i * width + j] > plane[best]) best = i * width + j;
  return best;
}

template <typename T>
void PoolForward(const PoolingHandle& h, const T* x, T* y, size_t planes) {
  const size_t HW = h.height * h.width, PH = h.pooled_height, PW = h.pooled_width;
  const int threads = NumThreadsFor(planes * PH * PW * h.kernel_h * h.kernel_w);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t p = 0; p < planes; ++p) {
    const T* xp = x + p * HW;
    T* yp = y + p * PH * PW;
    for (size_t oh = 0; oh < PH; ++oh)
      for (size_t ow = 0; ow < PW; ++ow) {
        Window w = WindowAt(h, oh, ow);
        if (h.is_max_pooling) {
          yp[oh * PW + ow] = xp[ArgMax(xp, h.width, w)];
        } else {
          T s = 0;
          for (size_t i = w.h0; i < w.h1; ++i)
            for (size_t j = w.w0; j < w.w1; ++j) s += xp[i * h.width + j];
          yp[oh * PW + ow] = T(s / Divisor(h, w));
        }
      }
  }
}

template <typename T>
void PoolBackward(const PoolingHandle& h, const T* dy, const T* x, T* dx, size_t planes) {
  const size_t HW = h.height * h.width, PH = h.pooled_height, PW = h.pooled_width;
  const int threads = NumThreadsFor(planes * PH * PW * h.kernel_h * h.kernel_w);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t p = 0; p < planes; ++p) {
    const T* xp = x + p * HW;
    const T* dyp = dy + p * PH * PW;
    T* dxp = dx + p * HW;
    for (size_t i = 0; i < HW; ++i) dxp[i] = T(0);
    for (size_t oh = 0; oh < PH; ++oh)
      for (size_t ow = 0; ow < PW; ++ow) {
        Window w = WindowAt(h, oh, ow);
        const T g = dyp[oh * PW + ow];
        if (h.is_max_pooling) {
          dxp[ArgMax(xp, h.width, w)] += g;
        } else {
          const T share = T(g / Divisor(h, w));
          for (size_t i = w.h0; i < w.h1; ++i)
            for (size_t j = w.w0; j < w.w1; ++j) dxp[i * h.width + j] += share;
        }
      }
  }
}

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
  DataType dt = FloatDType(x_in, fn);
  CheckX(x_in, h, fn);
  Tensor x = Prepare(x_in, dt, fn, "x");
  Tensor y({x.shape(0), h.channels, h.pooled_height, h.pooled_width}, x_in.device(), dt);
  if (y.Size() == 0) return y;
  if (dt == kFloat32 && UseDnnl() && dnnl_nn::PoolForward(h, x, &y)) return y;
  const size_t planes = x.shape(0) * h.channels;
  SINGA_DISPATCH_FLOAT(dt, fn, PoolForward<T>(h, x.data<T>(), y.data<T>(), planes));
  return y;
}

Tensor CpuPoolingBackward(const PoolingHandle& h, const Tensor& dy_in, const Tensor& x_in,
                          const Tensor& y_in) {
  const char* fn = "CpuPoolingBackward";
  DataType dt = FloatDType(dy_in, fn);
  CheckX(x_in, h, fn);
  Shape ys{x_in.shape(0), h.channels, h.pooled_height, h.pooled_width};
  if (dy_in.shape() != ys || y_in.shape() != ys)
    throw ValueError(Msg(fn, ": dy and y must have shape ", ShapeStr(ys), ", got ",
                         ShapeStr(dy_in.shape()), " and ", ShapeStr(y_in.shape())));
  Tensor dy = Prepare(dy_in, dt, fn, "dy"), x = Prepare(x_in, dt, fn, "x");
  Tensor dx(x.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx;
  if (dt == kFloat32 && UseDnnl() && dnnl_nn::PoolBackward(h, dy, x, &dx)) return dx;
  const size_t planes = x.shape(0) * h.channels;
  SINGA_DISPATCH_FLOAT(dt, fn,
                       PoolBackward<T>(h, dy.data<T>(), x.data<T>(), dx.data<T>(), planes));
  return dx;
}

}  // namespace singa
