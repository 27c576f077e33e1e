// 2-D max and average pooling on the CPU: oneDNN for float32 when selected, else one
// (n, c) plane per OpenMP work item.
#include "cpu/dnnl_nn.h"
#include "cpu/iter.h"
#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

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
void PoolForwardRef(const PoolingHandle& h, const T* x, T* y, size_t planes) {
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
void PoolBackwardRef(const PoolingHandle& h, const T* dy, const T* x, T* dx, size_t planes) {
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

}  // namespace

namespace nn {

void pool_forward(const PoolingHandle& h, const Tensor& x, Tensor* y) {
  if (x.data_type() == kFloat32 && UseDnnl() && dnnl_nn::PoolForward(h, x, y)) return;
  const size_t planes = x.shape(0) * h.channels;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuPoolingForward",
                       PoolForwardRef<T>(h, x.data<T>(), y->data<T>(), planes));
}

void pool_backward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx) {
  if (x.data_type() == kFloat32 && UseDnnl() && dnnl_nn::PoolBackward(h, dy, x, dx)) return;
  const size_t planes = x.shape(0) * h.channels;
  SINGA_DISPATCH_FLOAT(x.data_type(), "CpuPoolingBackward",
                       PoolBackwardRef<T>(h, dy.data<T>(), x.data<T>(), dx->data<T>(), planes));
}

}  // namespace nn

}  // namespace cpu
}  // namespace singa
