// The device code of the CUDA device's own NN kernels (cuda/nn_kernels.h says which and
// why): the __global__ kernels and their helpers, launched by nn_kernels.cu. Kept free of
// singa's host types so that tests/cuda_emulation/ can compile it with the host compiler
// (SINGA_NN_KERNELS_EMULATE: the CUDA keywords defined away, each block run as one
// thread) and check the kernels' indexing against the CPU's loops on machines without
// a GPU.
#pragma once

#include <cstdint>
#include <type_traits>

#if defined(SINGA_NN_KERNELS_EMULATE)
#include <algorithm>
#include <cmath>
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace singa {
namespace cuda {
namespace nn {
namespace kernels {

#if defined(SINGA_NN_KERNELS_EMULATE)
using std::max;
using std::min;
using std::pow;
using std::sqrt;
#endif

// Threads of the per-channel reduction blocks (the kernels stride by blockDim.x).
constexpr int kReduceThreads = 256;
// Threads of the per-channel reduction blocks.

#if defined(SINGA_NN_KERNELS_EMULATE)
// The host emulation runs one thread per block: its sum is the block's.
inline double BlockSum(double v, double*) { return v; }
#else
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
#endif


// ------------------------------------------------------------------ pooling

struct PoolGeom {
  int64_t H, W, PH, PW, kh, kw, sh, sw, pt, pl;
  bool is_max, include_pad;
};

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

// Per-channel sums over (N, S) of (N, C, S) data, in two stages so that a channel of
// many elements spreads over many blocks: block b sums part p = b % splits of channel
// c = b / splits (its elements j = n * S + i in [p * per, (p + 1) * per)), writing two
// partial sums to part[2 * b]; a finalize kernel adds a channel's parts in order (the
// result is deterministic). kKind: kSumX (x), kSqDev (x - center[c])^2, kGrad (dy and
// dy * (x - center[c])).
constexpr int kSumX = 0, kSqDev = 1, kGrad = 2;

template <int kKind, typename T, typename CT>
__global__ void __launch_bounds__(kReduceThreads)
    ChannelPartialKernel(const T* __restrict__ x, const T* __restrict__ dy, int64_t N, int64_t C,
                         int64_t S, int64_t splits, int64_t per, const CT* center, double* part) {
  __shared__ double shared[kReduceThreads / 32 + 1];
  const int64_t b = blockIdx.x, c = b / splits, p = b - c * splits, count = N * S;
  const int64_t lo = p * per, hi = min(count, lo + per);
  const double mu = kKind == kSumX ? 0.0 : double(center[c]);
  double s0 = 0, s1 = 0;
#if !defined(SINGA_NN_KERNELS_EMULATE)
#pragma unroll 1  // unrolled, the loop spills registers (ptxas -v)
#endif
  for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) {
    const int64_t n = j / S, o = (n * C + c) * S + (j - n * S);
    if (kKind == kSumX) {
      s0 += double(x[o]);
    } else if (kKind == kSqDev) {
      const double d = double(x[o]) - mu;
      s0 += d * d;
    } else {
      const double g = double(dy[o]);
      s0 += g;
      s1 += g * (double(x[o]) - mu);
    }
  }
  s0 = BlockSum(s0, shared);
  if (kKind == kGrad) s1 = BlockSum(s1, shared);
  if (threadIdx.x == 0) {
    part[2 * b] = s0;
    part[2 * b + 1] = s1;
  }
}

// The sums of channel c: its parts added in order.
__device__ __forceinline__ void ChannelSums(const double* part, int64_t c, int64_t splits,
                                            double* s0, double* s1) {
  double a = 0, b = 0;
  for (int64_t p = 0; p < splits; ++p) {
    a += part[2 * (c * splits + p)];
    b += part[2 * (c * splits + p) + 1];
  }
  *s0 = a, *s1 = b;
}

// center[c] = the channel's mean in double (from kSumX parts).
__global__ void BnMeanKernel(const double* part, int64_t C, int64_t splits, int64_t count,
                             double* center) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double s0, s1;
    ChannelSums(part, c, splits, &s0, &s1);
    center[c] = s0 / double(count);
  }
}

// mean and biased variance (from kSqDev parts about the double mean), as
// cpu/batchnorm_loops.h's ChannelStats: two passes in double, rounded once.
template <typename T>
__global__ void BnVarKernel(const double* part, const double* center, int64_t C, int64_t splits,
                            int64_t count, T* mean, T* var) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double s0, s1;
    ChannelSums(part, c, splits, &s0, &s1);
    mean[c] = T(center[c]);
    var[c] = T(s0 / double(count));
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

// Per channel, from the kGrad parts (sum dy, sum dy * (x - mu)): dbias = sum dy,
// dscale = sum dy * xhat, and the coefficients of dx (k, mean(dy), mean(dy * xhat) *
// istd, mu) into coef[4c..4c+3] (cpu/batchnorm_loops.h's Backward).
template <typename T>
__global__ void BnBackwardFinalizeKernel(const double* part, int64_t C, int64_t splits,
                                         int64_t count, const T* mean, const T* var,
                                         const T* scale, double eps, T* dscale, T* dbias,
                                         double* coef) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double sdy, sdyx;
    ChannelSums(part, c, splits, &sdy, &sdyx);
    const double mu = double(mean[c]), istd = 1.0 / sqrt(double(var[c]) + eps);
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

// ------------------------------------------------------------------ convolution bias

__device__ __forceinline__ float ToFloat(float v) { return v; }
#if !defined(SINGA_NN_KERNELS_EMULATE)
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
#endif
template <typename T> __device__ __forceinline__ T FromFloat(float v);
template <> __device__ __forceinline__ float FromFloat<float>(float v) { return v; }
#if !defined(SINGA_NN_KERNELS_EMULATE)
template <> __device__ __forceinline__ __half FromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
#endif

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

// db[f] = the sum over n and s of dy[n, f, s], from the kSumX parts of dy.
template <typename T>
__global__ void BiasGradFinalizeKernel(const double* part, int64_t F, int64_t splits, T* db) {
  for (int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; f < F;
       f += int64_t(gridDim.x) * blockDim.x) {
    double s0, s1;
    ChannelSums(part, f, splits, &s0, &s1);
    db[f] = T(s0);
  }
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

}  // namespace kernels
}  // namespace nn
}  // namespace cuda
}  // namespace singa
