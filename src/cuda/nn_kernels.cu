// Pooling, batch norm, LRN and the convolution bias as the CUDA device's own kernels
// (why not cuDNN's: cuda/nn_kernels.h). Grid-stride loops over 64-bit indices; every
// launch on the tensor's stream, checked right after; scratch memory from the device's
// allocator (freed in stream order when the entry returns).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <memory>
#include <type_traits>

#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"
#include "cuda/nn_kernels.h"

namespace singa {
namespace cuda {
namespace nn {

namespace {

// Calls f(T{}) with T the C++ type of dtype dt (float32 or float64).
template <typename F>
void DispatchFloat(DataType dt, const char* fn, F&& f) {
  if (dt == kFloat32) f(float{});
  else if (dt == kDouble) f(double{});
  else throw TypeError(Msg(fn, ": the CUDA kernel takes float32 or float64, got ", DataTypeName(dt)));
}

// Threads of the per-channel reduction blocks.
constexpr int kReduceThreads = 256;

// The sum of v over the block (blockDim.x == kReduceThreads), returned to every thread.
// `shared` holds kReduceThreads / 32 + 1 doubles.
__device__ double BlockSum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kReduceThreads / 32 ? shared[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) shared[kReduceThreads / 32] = v;
  }
  __syncthreads();
  return shared[kReduceThreads / 32];
}

// Scratch device memory of `bytes` (at least 1) on the device of t.
std::shared_ptr<Block> Scratch(const Tensor& t, size_t bytes, const char* fn) {
  return GpuOf(t, fn).NewBlock(bytes > 0 ? bytes : 1);
}

// ------------------------------------------------------------------ pooling

struct PoolGeom {
  int64_t H, W, PH, PW, kh, kw, sh, sw, pt, pl;
  bool is_max, include_pad;
};

PoolGeom GeomOf(const PoolingHandle& h) {
  return {int64_t(h.height), int64_t(h.width), int64_t(h.pooled_height), int64_t(h.pooled_width),
          int64_t(h.kernel_h), int64_t(h.kernel_w), int64_t(h.stride_h), int64_t(h.stride_w),
          int64_t(h.pad_top), int64_t(h.pad_left), h.is_max_pooling, h.count_include_pad};
}

// The window of output (oh, ow) clipped to the image: rows [h0, h1), cols [w0, w1)
// (cpu/pool.cc's WindowAt).
struct Window {
  int64_t h0, h1, w0, w1;
};

__device__ __forceinline__ Window WindowAt(const PoolGeom& g, int64_t oh, int64_t ow) {
  const int64_t hs = oh * g.sh - g.pt, ws = ow * g.sw - g.pl;
  const int64_t he = min(hs + g.kh, g.H), we = min(ws + g.kw, g.W);
  return {max(hs, int64_t(0)), max(he, int64_t(0)), max(ws, int64_t(0)), max(we, int64_t(0))};
}

__device__ __forceinline__ double Divisor(const PoolGeom& g, const Window& w) {
  if (g.include_pad) return double(g.kh * g.kw);
  return double((w.h1 - w.h0) * (w.w1 - w.w0));
}

// Index within the plane of the first maximal cell of the window (row-major scan).
template <typename T>
__device__ __forceinline__ int64_t ArgMax(const T* plane, int64_t W, const Window& w) {
  int64_t best = w.h0 * W + w.w0;
  for (int64_t i = w.h0; i < w.h1; ++i)
    for (int64_t j = w.w0; j < w.w1; ++j)
      if (plane[i * W + j] > plane[best]) best = i * W + j;
  return best;
}

template <typename T>
__global__ void PoolForwardKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total,
                                  PoolGeom g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % g.PW, t = i / g.PW, oh = t % g.PH, p = t / g.PH;
    const T* xp = x + p * g.H * g.W;
    const Window w = WindowAt(g, oh, ow);
    if (g.is_max) {
      y[i] = xp[ArgMax(xp, g.W, w)];
    } else {
      T s = 0;
      for (int64_t r = w.h0; r < w.h1; ++r)
        for (int64_t c = w.w0; c < w.w1; ++c) s += xp[r * g.W + c];
      y[i] = T(double(s) / Divisor(g, w));
    }
  }
}

// dx of one input cell: the gradients of every output whose window holds it, added in
// the CPU's (oh, ow) order.
template <typename T>
__global__ void PoolBackwardKernel(const T* __restrict__ dy, const T* __restrict__ x,
                                   T* __restrict__ dx, int64_t total, PoolGeom g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % g.W, t = i / g.W, ih = t % g.H, p = t / g.H;
    const T* xp = x + p * g.H * g.W;
    const T* dyp = dy + p * g.PH * g.PW;
    // oh * sh - pt <= ih <= oh * sh - pt + kh - 1
    const int64_t ah = ih + g.pt - g.kh + 1, aw = iw + g.pl - g.kw + 1;
    const int64_t oh0 = ah <= 0 ? 0 : (ah + g.sh - 1) / g.sh;
    const int64_t ow0 = aw <= 0 ? 0 : (aw + g.sw - 1) / g.sw;
    const int64_t oh1 = min((ih + g.pt) / g.sh, g.PH - 1);
    const int64_t ow1 = min((iw + g.pl) / g.sw, g.PW - 1);
    const int64_t self = ih * g.W + iw;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Window w = WindowAt(g, oh, ow);
        const T grad = dyp[oh * g.PW + ow];
        if (g.is_max) {
          if (ArgMax(xp, g.W, w) == self) acc += grad;
        } else {
          acc += T(double(grad) / Divisor(g, w));
        }
      }
    dx[i] = acc;
  }
}

// ------------------------------------------------------------------ batch norm

// Mean and biased variance of channel blockIdx.x over (N, S), two passes in double
// (cpu/batchnorm_loops.h's ChannelStats).
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    BnStatsKernel(const T* __restrict__ x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
  __shared__ double shared[kReduceThreads / 32 + 1];
  const int64_t c = blockIdx.x, count = N * S;
  double s = 0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const int64_t n = j / S, i = j - n * S;
    s += double(x[(n * C + c) * S + i]);
  }
  const double m = BlockSum(s, shared) / double(count);
  double v = 0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const int64_t n = j / S, i = j - n * S;
    const double d = double(x[(n * C + c) * S + i]) - m;
    v += d * d;
  }
  v = BlockSum(v, shared);
  if (threadIdx.x == 0) {
    mean[c] = T(m);
    var[c] = T(v / double(count));
  }
}

// y = x * a + b per channel: a = scale / sqrt(var + eps), b = bias - mean * a, each
// rounded to T once (NormalizeRow).
template <typename T>
__global__ void BnAffineKernel(const T* mean, const T* var, const T* scale, const T* bias,
                               double eps, int64_t C, T* a, T* b) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    const T av = T(double(scale[c]) / sqrt(double(var[c]) + eps));
    a[c] = av;
    b[c] = T(double(bias[c]) - double(mean[c]) * double(av));
  }
}

template <typename T>
__global__ void BnNormalizeKernel(const T* __restrict__ x, int64_t total, int64_t C, int64_t S,
                                  const T* __restrict__ a, const T* __restrict__ b,
                                  T* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    y[i] = x[i] * a[c] + b[c];
  }
}

// Per channel: dbias = sum dy, dscale = sum dy * xhat, and the coefficients of dx
// (k, mean(dy), mean(dy * xhat) * istd, mu) into coef[4c..4c+3] (Backward).
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    BnBackwardReduceKernel(const T* __restrict__ x, const T* __restrict__ dy, int64_t N,
                           int64_t C, int64_t S, const T* mean, const T* var, const T* scale,
                           double eps, T* dscale, T* dbias, double* coef) {
  __shared__ double shared[kReduceThreads / 32 + 1];
  const int64_t c = blockIdx.x, count = N * S;
  const double mu = double(mean[c]), istd = 1.0 / sqrt(double(var[c]) + eps);
  double sdy = 0, sdyx = 0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const int64_t n = j / S, i = j - n * S, o = (n * C + c) * S + i;
    const T g = dy[o];
    sdy += double(g);
    sdyx += double(g) * (double(x[o]) - mu);
  }
  sdy = BlockSum(sdy, shared);
  sdyx = BlockSum(sdyx, shared);
  if (threadIdx.x == 0) {
    const double m = double(count), ds = sdyx * istd;
    dbias[c] = T(sdy);
    dscale[c] = T(ds);
    coef[4 * c] = double(scale[c]) * istd;
    coef[4 * c + 1] = sdy / m;
    coef[4 * c + 2] = ds / m * istd;
    coef[4 * c + 3] = mu;
  }
}

// dx = k * (dy - mean(dy) - (x - mu) * mean(dy * xhat) * istd), in double.
template <typename T>
__global__ void BnBackwardDxKernel(const T* __restrict__ x, const T* __restrict__ dy,
                                   int64_t total, int64_t C, int64_t S,
                                   const double* __restrict__ coef, T* __restrict__ dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (i / S) % C;
    const double* k = coef + 4 * c;
    dx[i] = T(k[0] * (double(dy[i]) - k[1] - (double(x[i]) - k[3]) * k[2]));
  }
}

struct BnDims {
  int64_t N, C, S;
};

BnDims BnDimsOf(const Tensor& x) {
  return {int64_t(x.shape(0)), int64_t(x.shape(1)),
          x.nDim() == 4 ? int64_t(x.shape(2) * x.shape(3)) : 1};
}

// Normalises x into y with the per-channel statistics (mean, var).
template <typename T>
void BnNormalize(const BatchNormHandle& h, const Tensor& x, const T* mean, const T* var,
                 const Tensor& scale, const Tensor& bias, Tensor* y, const char* fn) {
  const BnDims d = BnDimsOf(x);
  const int64_t total = d.N * d.C * d.S;
  if (total == 0) return;
  cudaStream_t s = StreamOf(x, fn);
  auto ab = Scratch(x, 2 * size_t(d.C) * sizeof(T), fn);
  T* a = static_cast<T*>(ab->data());
  T* b = a + d.C;
  BnAffineKernel<T><<<BlocksFor(d.C), kThreads, 0, s>>>(mean, var, scale.data<T>(),
                                                        bias.data<T>(), h.eps, d.C, a, b);
  CheckLaunch("BnAffineKernel", x);
  BnNormalizeKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), total, d.C, d.S, a, b,
                                                             y->data<T>());
  CheckLaunch("BnNormalizeKernel", x);
}

// ------------------------------------------------------------------ LRN

struct LrnGeom {
  int64_t C, S, size;
};

// x^-beta with the CPU's special cases (cpu/lrn.cc InvPow).
template <typename T>
__device__ __forceinline__ T InvPow(T s, double beta) {
  if (beta == 0.75) return T(1) / (sqrt(s) * sqrt(sqrt(s)));
  if (beta == 0.5) return T(1) / sqrt(s);
  if (beta == 1) return T(1) / s;
  return pow(s, T(-beta));
}

// k + alpha/size * sum of x^2 over channels [c - (size-1)/2, c + size/2] at element i.
template <typename T>
__device__ __forceinline__ T LrnScale(const T* x, int64_t i, const LrnGeom& g, T a, T k) {
  const int64_t s = i % g.S, t = i / g.S, c = t % g.C, n = t / g.C;
  const int64_t lo = c >= (g.size - 1) / 2 ? c - (g.size - 1) / 2 : 0;
  const int64_t hi = min(g.C - 1, c + g.size / 2);
  T sum = 0;
  for (int64_t cc = lo; cc <= hi; ++cc) {
    const T v = x[(n * g.C + cc) * g.S + s];
    sum += v * v;
  }
  return k + a * sum;
}

template <typename T>
__global__ void LrnForwardKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total,
                                 LrnGeom g, T a, T k, double beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = InvPow(LrnScale(x, i, g, a, k), beta) * x[i];
}

// dx = dy * s^-beta (the first term) and t = dy * y / s.
template <typename T>
__global__ void LrnBackwardScaleKernel(const T* __restrict__ dy, const T* __restrict__ x,
                                       const T* __restrict__ y, T* __restrict__ dx,
                                       T* __restrict__ t, int64_t total, LrnGeom g, T a, T k,
                                       double beta) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T s = LrnScale(x, i, g, a, k);
    dx[i] = InvPow(s, beta) * dy[i];
    t[i] = dy[i] * y[i] / s;
  }
}

// dx -= coef * x * sum of t over the channels j whose window holds c:
// j in [c - size/2, c + (size-1)/2].
template <typename T>
__global__ void LrnBackwardSumKernel(const T* __restrict__ x, const T* __restrict__ t,
                                     T* __restrict__ dx, int64_t total, LrnGeom g, T coef) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = i % g.S, q = i / g.S, c = q % g.C, n = q / g.C;
    const int64_t lo = c >= g.size / 2 ? c - g.size / 2 : 0;
    const int64_t hi = min(g.C - 1, c + (g.size - 1) / 2);
    T acc = 0;
    for (int64_t j = lo; j <= hi; ++j) acc += t[(n * g.C + j) * g.S + s];
    dx[i] -= coef * x[i] * acc;
  }
}

LrnGeom LrnGeomOf(const Tensor& x, size_t size) {
  return {int64_t(x.shape(1)), int64_t(Product(x.shape(), 2)), int64_t(size)};
}

// ------------------------------------------------------------------ convolution bias

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T FromFloat(float v);
template <> __device__ __forceinline__ float FromFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ __half FromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

template <typename T>
__global__ void AddBiasKernel(T* __restrict__ y, const T* __restrict__ b, int64_t total,
                              int64_t F, int64_t S) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t f = (i / S) % F;
    if constexpr (std::is_same_v<T, double>) y[i] += b[f];
    else y[i] = FromFloat<T>(ToFloat(y[i]) + ToFloat(b[f]));
  }
}

// db[blockIdx.x] = the sum over n and s of dy[n, f, s], in double.
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    BiasGradKernel(const T* __restrict__ dy, int64_t N, int64_t F, int64_t S, T* db) {
  __shared__ double shared[kReduceThreads / 32 + 1];
  const int64_t f = blockIdx.x, count = N * S;
  double s = 0;
  for (int64_t j = threadIdx.x; j < count; j += kReduceThreads) {
    const int64_t n = j / S, i = j - n * S;
    s += double(dy[(n * F + f) * S + i]);
  }
  s = BlockSum(s, shared);
  if (threadIdx.x == 0) db[f] = T(s);
}

// ------------------------------------------------------------------ padded copies

template <typename E>
__global__ void PadPlanesKernel(const E* __restrict__ src, E* __restrict__ dst, int64_t total,
                                int64_t H, int64_t W, int64_t Hp, int64_t Wp, int64_t top,
                                int64_t left) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % Wp, t = i / Wp, r = t % Hp, p = t / Hp;
    const int64_t sr = r - top, sc = c - left;
    dst[i] = (sr >= 0 && sr < H && sc >= 0 && sc < W) ? src[(p * H + sr) * W + sc] : E(0);
  }
}

template <typename E>
__global__ void CropPlanesKernel(const E* __restrict__ src, E* __restrict__ dst, int64_t total,
                                 int64_t Hp, int64_t Wp, int64_t H, int64_t W, int64_t top,
                                 int64_t left) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % W, t = i / W, r = t % H, p = t / H;
    dst[i] = src[(p * Hp + r + top) * Wp + c + left];
  }
}

// Calls f(E{}) with E an unsigned integer of `bytes` bytes (the copies move bits only).
template <typename F>
void DispatchBits(size_t bytes, const char* fn, F&& f) {
  if (bytes == 2) f(uint16_t{});
  else if (bytes == 4) f(uint32_t{});
  else if (bytes == 8) f(uint64_t{});
  else throw TypeError(Msg(fn, ": no padded copy for elements of ", bytes, " bytes"));
}

}  // namespace

void PadPlanes(const void* src, void* dst, int64_t planes, int64_t H, int64_t W, int64_t top,
               int64_t bottom, int64_t left, int64_t right, size_t elem_size, const Tensor& on) {
  const int64_t Hp = H + top + bottom, Wp = W + left + right, total = planes * Hp * Wp;
  if (total == 0) return;
  cudaStream_t s = StreamOf(on, "conv padding");
  DispatchBits(elem_size, "conv padding", [&](auto tag) {
    using E = decltype(tag);
    PadPlanesKernel<E><<<BlocksFor(total), kThreads, 0, s>>>(
        static_cast<const E*>(src), static_cast<E*>(dst), total, H, W, Hp, Wp, top, left);
    CheckLaunch("PadPlanesKernel", on);
  });
}

void CropPlanes(const void* src, void* dst, int64_t planes, int64_t Hp, int64_t Wp, int64_t H,
                int64_t W, int64_t top, int64_t left, size_t elem_size, const Tensor& on) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  cudaStream_t s = StreamOf(on, "conv padding");
  DispatchBits(elem_size, "conv padding", [&](auto tag) {
    using E = decltype(tag);
    CropPlanesKernel<E><<<BlocksFor(total), kThreads, 0, s>>>(
        static_cast<const E*>(src), static_cast<E*>(dst), total, Hp, Wp, H, W, top, left);
    CheckLaunch("CropPlanesKernel", on);
  });
}

void pool_forward(const PoolingHandle& h, const Tensor& x, Tensor* y) {
  const char* fn = "CpuPoolingForward";
  const int64_t total = int64_t(y->Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    PoolForwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), y->data<T>(), total,
                                                               GeomOf(h));
    CheckLaunch("PoolForwardKernel", x);
  });
}

void pool_backward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx) {
  const char* fn = "CpuPoolingBackward";
  const int64_t total = int64_t(dx->Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    PoolBackwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(dy.data<T>(), x.data<T>(),
                                                                dx->data<T>(), total, GeomOf(h));
    CheckLaunch("PoolBackwardKernel", x);
  });
}

void batchnorm_training(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var) {
  const char* fn = "CpuBatchNormForwardTraining";
  const BnDims d = BnDimsOf(x);
  if (d.C == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    // The entry point refuses an empty batch (N * S == 0) before it gets here.
    BnStatsKernel<T><<<unsigned(d.C), kReduceThreads, 0, s>>>(x.data<T>(), d.N, d.C, d.S,
                                                              mean->data<T>(), var->data<T>());
    CheckLaunch("BnStatsKernel", x);
    BnNormalize<T>(h, x, mean->data<T>(), var->data<T>(), scale, bias, y, fn);
  });
}

void batchnorm_inference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                         const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y) {
  const char* fn = "CpuBatchNormForwardInference";
  GpuOf(x, fn).Activate();
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    BnNormalize<T>(h, x, mean.data<T>(), var.data<T>(), scale, bias, y, fn);
  });
}

void batchnorm_backward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                        const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                        Tensor* dscale, Tensor* dbias) {
  const char* fn = "CpuBatchNormBackwardx";
  const BnDims d = BnDimsOf(x);
  const int64_t total = d.N * d.C * d.S;
  if (d.C == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    auto coef = Scratch(x, 4 * size_t(d.C) * sizeof(double), fn);
    double* cp = static_cast<double*>(coef->data());
    BnBackwardReduceKernel<T><<<unsigned(d.C), kReduceThreads, 0, s>>>(
        x.data<T>(), dy.data<T>(), d.N, d.C, d.S, mean.data<T>(), var.data<T>(),
        scale.data<T>(), h.eps, dscale->data<T>(), dbias->data<T>(), cp);
    CheckLaunch("BnBackwardReduceKernel", x);
    if (total == 0) return;
    BnBackwardDxKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), dy.data<T>(), total,
                                                                d.C, d.S, cp, dx->data<T>());
    CheckLaunch("BnBackwardDxKernel", x);
  });
}

void lrn_forward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y) {
  const char* fn = "CpuLRNForward";
  const int64_t total = int64_t(x.Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    LrnForwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        x.data<T>(), y->data<T>(), total, LrnGeomOf(x, size), T(alpha / double(size)), T(k), beta);
    CheckLaunch("LrnForwardKernel", x);
  });
}

void lrn_backward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size, double alpha,
                  double beta, double k, Tensor* dx) {
  const char* fn = "CpuLRNBackward";
  const int64_t total = int64_t(x.Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    const LrnGeom g = LrnGeomOf(x, size);
    auto scratch = Scratch(x, size_t(total) * sizeof(T), fn);
    T* t = static_cast<T*>(scratch->data());
    LrnBackwardScaleKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        dy.data<T>(), x.data<T>(), y.data<T>(), dx->data<T>(), t, total, g,
        T(alpha / double(size)), T(k), beta);
    CheckLaunch("LrnBackwardScaleKernel", x);
    LrnBackwardSumKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        x.data<T>(), t, dx->data<T>(), total, g, T(2 * alpha * beta / double(size)));
    CheckLaunch("LrnBackwardSumKernel", x);
  });
}

void conv_add_bias(const Tensor& b, Tensor* y) {
  const char* fn = "CpuConvForward";
  const int64_t total = int64_t(y->Size());
  if (total == 0) return;
  const int64_t F = int64_t(y->shape(1)), S = int64_t(Product(y->shape(), 2));
  cudaStream_t s = StreamOf(*y, fn);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    AddBiasKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(static_cast<T*>(y->raw()),
                                                           static_cast<const T*>(b.raw()), total,
                                                           F, S);
    CheckLaunch("AddBiasKernel", *y);
  };
  switch (y->data_type()) {
    case kFloat32: launch(float{}); break;
    case kDouble: launch(double{}); break;
    case kFloat16: launch(__half{}); break;
    case kBFloat16: launch(__nv_bfloat16{}); break;
    default:
      throw TypeError(Msg(fn, ": the CUDA bias takes a float dtype, got ",
                          DataTypeName(y->data_type())));
  }
}

void conv_backward_bias(const ConvHandle& h, const Tensor& dy, Tensor* db) {
  const char* fn = "CpuConvBackwardb";
  const int64_t N = int64_t(dy.shape(0)), F = int64_t(h.num_filters),
                S = int64_t(Product(dy.shape(), 2));
  if (F == 0) return;
  GpuOf(dy, fn).Activate();
  cudaStream_t s = StreamOf(dy, fn);
  DispatchFloat(dy.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    BiasGradKernel<T><<<unsigned(F), kReduceThreads, 0, s>>>(dy.data<T>(), N, F, S,
                                                             db->data<T>());
    CheckLaunch("BiasGradKernel", dy);
  });
}

}  // namespace nn
}  // namespace cuda
}  // namespace singa
