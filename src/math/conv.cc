// 2-D convolution on CPU: im2col + GEMM (OpenBLAS), grouped and depthwise included.
// Images are processed one at a time: im2col/col2im run on OpenMP threads and each
// GEMM is threaded by OpenBLAS itself, so the two never nest.
#include <cblas.h>

#include "math/gemm.h"
#include "math/iter.h"
#include "math/dnnl_nn.h"
#include "math/nn.h"

namespace singa {

namespace nn_detail {

DataType FloatDType(const Tensor& x, const char* fn) {
  if (x.data_type() != kFloat32 && x.data_type() != kDouble)
    throw TypeError(Msg(fn, ": expects float32 or float64 input, got ",
                        DataTypeName(x.data_type())));
  return x.data_type();
}

std::pair<size_t, size_t> PairArg(const std::vector<int>& v, const char* fn, const char* what) {
  if (v.size() != 1 && v.size() != 2)
    throw ValueError(Msg(fn, ": ", what, " needs 1 or 2 values, got ", v.size()));
  int a = v[0], b = v.size() == 2 ? v[1] : v[0];
  if (a <= 0 || b <= 0)
    throw ValueError(Msg(fn, ": ", what, " must be positive, got (", a, ", ", b, ")"));
  return {size_t(a), size_t(b)};
}

Tensor Prepare(const Tensor& t, DataType dtype, const char* fn, const char* what) {
  if (t.device() && t.device()->lang() != kCpp)
    throw DeviceError(Msg(fn, ": ", what, " must be on the CPU, got ", t.device()->name()));
  return t.AsType(dtype).Contiguous();
}

}  // namespace nn_detail

using nn_detail::FloatDType;
using nn_detail::Prepare;
using nn_detail::PairArg;

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

template <typename T>
void Gemm(bool ta, bool tb, size_t M, size_t N, size_t K, const T* a, size_t lda, const T* b,
          size_t ldb, T beta, T* c, size_t ldc) {
  OpenBlasGemm<T>(ta, tb, M, N, K, T(1), a, lda, b, ldb, beta, c, ldc);
}

// True when the im2col matrix of an image is the image itself (1x1, stride 1, no pad).
bool IsPointwise(const ConvHandle& h) {
  return h.kernel_h == 1 && h.kernel_w == 1 && h.stride_h == 1 && h.stride_w == 1 &&
         h.pad_top + h.pad_bottom + h.pad_left + h.pad_right == 0;
}

// col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*sh - pt + kh*dh][ow*sw - pl + kw*dw] (0 outside).
template <typename T>
void Im2Col(const ConvHandle& h, const T* x, T* col) {
  const size_t rows = h.channels * h.kernel_h * h.kernel_w, OH = h.conv_height,
               OW = h.conv_width, H = h.height, W = h.width;
  const int threads = NumThreadsFor(rows * OH * OW);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t r = 0; r < rows; ++r) {
    const size_t kw = r % h.kernel_w, kh = (r / h.kernel_w) % h.kernel_h,
                 c = r / (h.kernel_w * h.kernel_h);
    const T* xc = x + c * H * W;
    T* out = col + r * OH * OW;
    for (size_t oh = 0; oh < OH; ++oh) {
      const int64_t ih = int64_t(oh * h.stride_h + kh * h.dilation_h) - int64_t(h.pad_top);
      T* o = out + oh * OW;
      if (ih < 0 || ih >= int64_t(H)) {
        for (size_t ow = 0; ow < OW; ++ow) o[ow] = T(0);
        continue;
      }
      const T* xr = xc + ih * W;
      const int64_t base = int64_t(kw * h.dilation_w) - int64_t(h.pad_left);
      for (size_t ow = 0; ow < OW; ++ow) {
        const int64_t iw = base + int64_t(ow * h.stride_w);
        o[ow] = (iw >= 0 && iw < int64_t(W)) ? xr[iw] : T(0);
      }
    }
  }
}

// The adjoint of Im2Col: dx = sum of col entries scattered back (dx overwritten).
template <typename T>
void Col2Im(const ConvHandle& h, const T* col, T* dx) {
  const size_t C = h.channels, OH = h.conv_height, OW = h.conv_width, H = h.height, W = h.width;
  const int threads = NumThreadsFor(C * h.kernel_h * h.kernel_w * OH * OW);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t c = 0; c < C; ++c) {
    T* xc = dx + c * H * W;
    for (size_t i = 0; i < H * W; ++i) xc[i] = T(0);
    for (size_t kh = 0; kh < h.kernel_h; ++kh)
      for (size_t kw = 0; kw < h.kernel_w; ++kw) {
        const T* in = col + ((c * h.kernel_h + kh) * h.kernel_w + kw) * OH * OW;
        for (size_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = int64_t(oh * h.stride_h + kh * h.dilation_h) - int64_t(h.pad_top);
          if (ih < 0 || ih >= int64_t(H)) continue;
          T* xr = xc + ih * W;
          const T* ir = in + oh * OW;
          const int64_t base = int64_t(kw * h.dilation_w) - int64_t(h.pad_left);
          for (size_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = base + int64_t(ow * h.stride_w);
            if (iw >= 0 && iw < int64_t(W)) xr[iw] += ir[ow];
          }
        }
      }
  }
}

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

template <typename T>
void ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& w, const Tensor* b,
                 Tensor* y) {
  const size_t N = x.shape(0), G = h.group, Fg = h.num_filters / G, OHW = h.col_width,
               CKK = h.col_height, img = h.channels * h.height * h.width;
  const bool pointwise = IsPointwise(h);
  std::vector<T> col(pointwise ? 0 : G * CKK * OHW);
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  T* yp = y->data<T>();
  for (size_t n = 0; n < N; ++n) {
    const T* c = xp + n * img;
    if (!pointwise) {
      Im2Col(h, c, col.data());
      c = col.data();
    }
    T* yn = yp + n * h.num_filters * OHW;
    for (size_t g = 0; g < G; ++g)
      Gemm<T>(false, false, Fg, OHW, CKK, wp + g * Fg * CKK, CKK, c + g * CKK * OHW, OHW, T(0),
              yn + g * Fg * OHW, OHW);
  }
  if (b) {
    const T* bp = b->data<T>();
    const size_t F = h.num_filters;
    const int threads = NumThreadsFor(N * F * OHW);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t i = 0; i < N * F; ++i) {
      T* row = yp + i * OHW;
      const T bv = bp[i % F];
      for (size_t j = 0; j < OHW; ++j) row[j] += bv;
    }
  }
}

template <typename T>
void ConvBackwardX(const ConvHandle& h, const Tensor& dy, const Tensor& w, Tensor* dx) {
  const size_t N = dx->shape(0), G = h.group, Fg = h.num_filters / G, OHW = h.col_width,
               CKK = h.col_height, img = h.channels * h.height * h.width;
  const bool pointwise = IsPointwise(h);
  std::vector<T> col(pointwise ? 0 : G * CKK * OHW);
  const T* dyp = dy.data<T>();
  const T* wp = w.data<T>();
  T* dxp = dx->data<T>();
  for (size_t n = 0; n < N; ++n) {
    T* c = pointwise ? dxp + n * img : col.data();
    const T* dyn = dyp + n * h.num_filters * OHW;
    for (size_t g = 0; g < G; ++g)
      Gemm<T>(true, false, CKK, OHW, Fg, wp + g * Fg * CKK, CKK, dyn + g * Fg * OHW, OHW, T(0),
              c + g * CKK * OHW, OHW);
    if (!pointwise) Col2Im(h, col.data(), dxp + n * img);
  }
}

template <typename T>
void ConvBackwardW(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dw) {
  const size_t N = x.shape(0), G = h.group, Fg = h.num_filters / G, OHW = h.col_width,
               CKK = h.col_height, img = h.channels * h.height * h.width;
  const bool pointwise = IsPointwise(h);
  std::vector<T> col(pointwise ? 0 : G * CKK * OHW);
  const T* xp = x.data<T>();
  const T* dyp = dy.data<T>();
  T* dwp = dw->data<T>();
  if (N == 0) dw->SetValue(0);
  for (size_t n = 0; n < N; ++n) {
    const T* c = xp + n * img;
    if (!pointwise) {
      Im2Col(h, c, col.data());
      c = col.data();
    }
    const T* dyn = dyp + n * h.num_filters * OHW;
    for (size_t g = 0; g < G; ++g)
      Gemm<T>(false, true, Fg, CKK, OHW, dyn + g * Fg * OHW, OHW, c + g * CKK * OHW, OHW,
              n == 0 ? T(0) : T(1), dwp + g * Fg * CKK, CKK);
  }
}

template <typename T>
void ConvBackwardB(const ConvHandle& h, const Tensor& dy, Tensor* db) {
  const size_t N = dy.shape(0), F = h.num_filters, OHW = h.col_width;
  const T* dyp = dy.data<T>();
  T* dbp = db->data<T>();
  const int threads = NumThreadsFor(N * F * OHW);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (size_t f = 0; f < F; ++f) {
    double s = 0;
    for (size_t n = 0; n < N; ++n) {
      const T* row = dyp + (n * F + f) * OHW;
      T part = 0;
      for (size_t j = 0; j < OHW; ++j) part += row[j];
      s += part;
    }
    dbp[f] = T(s);
  }
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
  DataType dt = FloatDType(x_in, fn);
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  Tensor x = Prepare(x_in, dt, fn, "x"), W = Prepare(W_in, dt, fn, "W"), b;
  if (h.bias_term) {
    if (b_in.Size() != h.num_filters)
      throw ValueError(Msg(fn, ": b must have ", h.num_filters, " elements (num_filters), got ",
                           ShapeStr(b_in.shape())));
    b = Prepare(b_in, dt, fn, "b");
  }
  Tensor y({x.shape(0), h.num_filters, h.conv_height, h.conv_width}, x_in.device(), dt);
  if (y.Size() == 0) return y;
  if (dt == kFloat32 && UseDnnl() &&
      dnnl_nn::ConvForward(h, x, W, h.bias_term ? &b : nullptr, &y))
    return y;
  SINGA_DISPATCH_FLOAT(dt, fn, ConvForward<T>(h, x, W, h.bias_term ? &b : nullptr, &y));
  return y;
}

Tensor CpuConvBackwardx(const Tensor& dy_in, const Tensor& W_in, const Tensor& x_in,
                        const ConvHandle& h) {
  const char* fn = "CpuConvBackwardx";
  DataType dt = FloatDType(dy_in, fn);
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  CheckDy(dy_in, x_in.shape(0), h, fn);
  Tensor dy = Prepare(dy_in, dt, fn, "dy"), W = Prepare(W_in, dt, fn, "W");
  Tensor dx(x_in.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx;
  if (dt == kFloat32 && UseDnnl() && dnnl_nn::ConvBackwardData(h, dy, W, &dx)) return dx;
  SINGA_DISPATCH_FLOAT(dt, fn, ConvBackwardX<T>(h, dy, W, &dx));
  return dx;
}

Tensor CpuConvBackwardW(const Tensor& dy_in, const Tensor& x_in, const Tensor& W_in,
                        const ConvHandle& h) {
  const char* fn = "CpuConvBackwardW";
  DataType dt = FloatDType(dy_in, fn);
  CheckX(x_in, h, fn);
  CheckW(W_in, h, fn);
  CheckDy(dy_in, x_in.shape(0), h, fn);
  Tensor dy = Prepare(dy_in, dt, fn, "dy"), x = Prepare(x_in, dt, fn, "x");
  Tensor dW(W_in.shape(), W_in.device(), dt);
  if (dW.Size() == 0) return dW;
  if (dt == kFloat32 && x.shape(0) > 0 && UseDnnl() &&
      dnnl_nn::ConvBackwardWeights(h, dy, x, &dW))
    return dW;
  SINGA_DISPATCH_FLOAT(dt, fn, ConvBackwardW<T>(h, dy, x, &dW));
  return dW;
}

Tensor CpuConvBackwardb(const Tensor& dy_in, const Tensor& b_in, const ConvHandle& h) {
  const char* fn = "CpuConvBackwardb";
  DataType dt = FloatDType(dy_in, fn);
  if (dy_in.nDim() != 4) throw ValueError(Msg(fn, ": dy must be 4-D, got ", ShapeStr(dy_in.shape())));
  CheckDy(dy_in, dy_in.shape(0), h, fn);
  if (b_in.Size() != h.num_filters)
    throw ValueError(Msg(fn, ": b must have ", h.num_filters, " elements (num_filters), got ",
                         ShapeStr(b_in.shape())));
  Tensor dy = Prepare(dy_in, dt, fn, "dy");
  Tensor db(b_in.shape(), b_in.device() ? b_in.device() : dy_in.device(), dt);
  SINGA_DISPATCH_FLOAT(dt, fn, ConvBackwardB<T>(h, dy, &db));
  return db;
}

}  // namespace singa
