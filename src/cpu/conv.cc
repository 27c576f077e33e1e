// 2-D convolution on the CPU: oneDNN for float32 when selected (and for the 16-bit floats
// where half_compute.h says so), else im2col + GEMM
// (OpenBLAS), grouped and depthwise included. Images are processed one at a time:
// im2col/col2im run on OpenMP threads and each GEMM is split over them (cpu/gemm.h).
#include "cpu/dnnl_nn.h"
#include "cpu/half_compute.h"
#include "cpu/gemm.h"
#include "cpu/iter.h"
#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

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

template <typename T>
void ConvForwardRef(const ConvHandle& h, const Tensor& x, const Tensor& w, const Tensor* b,
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
void ConvBackwardXRef(const ConvHandle& h, const Tensor& dy, const Tensor& w, Tensor* dx) {
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
void ConvBackwardWRef(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dw) {
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
void ConvBackwardBRef(const ConvHandle& h, const Tensor& dy, Tensor* db) {
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

namespace nn {

// 16-bit float operands take oneDNN's native primitive where NativeHalf says so, else
// run the float32 kernels on widened copies and round the result once.
void conv_forward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b, Tensor* y) {
  if (IsHalfFloat(x.data_type())) {
    if (NativeHalf(x.data_type()) && dnnl_nn::ConvForward(h, x, W, b, y)) return;
    Tensor b32 = b ? b->AsType(kFloat32) : Tensor(Shape{0}, x.device());
    Tensor y32(y->shape(), y->device(), kFloat32);
    conv_forward(h, x.AsType(kFloat32), W.AsType(kFloat32), b ? &b32 : nullptr, &y32);
    y->CopyData(y32);
    return;
  }
  if (x.data_type() == kFloat32 && UseDnnl() && dnnl_nn::ConvForward(h, x, W, b, y)) return;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuConvForward", ConvForwardRef<T>(h, x, W, b, y));
}

void conv_backward_data(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx) {
  if (IsHalfFloat(dy.data_type())) {
    if (NativeHalf(dy.data_type()) && dnnl_nn::ConvBackwardData(h, dy, W, dx)) return;
    Tensor dx32(dx->shape(), dx->device(), kFloat32);
    conv_backward_data(h, dy.AsType(kFloat32), W.AsType(kFloat32), &dx32);
    dx->CopyData(dx32);
    return;
  }
  if (dy.data_type() == kFloat32 && UseDnnl() && dnnl_nn::ConvBackwardData(h, dy, W, dx)) return;
  SINGA_DISPATCH_FLOAT(dy.data_type(), "CpuConvBackwardx", ConvBackwardXRef<T>(h, dy, W, dx));
}

void conv_backward_weights(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW) {
  if (IsHalfFloat(dy.data_type())) {
    if (x.shape(0) > 0 && NativeHalf(dy.data_type()) && dnnl_nn::ConvBackwardWeights(h, dy, x, dW))
      return;
    Tensor dW32(dW->shape(), dW->device(), kFloat32);
    conv_backward_weights(h, dy.AsType(kFloat32), x.AsType(kFloat32), &dW32);
    dW->CopyData(dW32);
    return;
  }
  if (dy.data_type() == kFloat32 && x.shape(0) > 0 && UseDnnl() &&
      dnnl_nn::ConvBackwardWeights(h, dy, x, dW))
    return;
  SINGA_DISPATCH_FLOAT(dy.data_type(), "CpuConvBackwardW", ConvBackwardWRef<T>(h, dy, x, dW));
}

void conv_backward_bias(const ConvHandle& h, const Tensor& dy, Tensor* db) {
  if (dnnl_nn::ConvBackwardBias(dy, db)) return;
  SINGA_DISPATCH_FLOAT(dy.data_type(), "CpuConvBackwardb", ConvBackwardBRef<T>(h, dy, db));
}

}  // namespace nn

}  // namespace cpu
}  // namespace singa
