// CUDA fused kernels (math/kernels.h, SINGA_FUSED_KERNELS): each optimizer update and
// dropout's mask-and-scale in one grid-stride pass, the per-element arithmetic that of the
// CPU (math/fused.h: fused_math), with the hyper-parameters converted to T as the CPU does.
#include <algorithm>
#include <cstdint>

#include "cuda/cuda_common.h"
#include "cuda/cuda_kernels.h"
#include "math/fused.h"

namespace singa {
namespace cuda {

namespace {

__device__ inline int64_t FirstIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t GridStep() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

template <typename T>
__global__ void SGDKernel(T* w, const T* g, int64_t n, T lr, T wd) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) fused_math::SGD(w[i], g[i], lr, wd);
}

template <typename T>
__global__ void SGDMomentumKernel(T* w, const T* g, T* buf, int64_t n, T lr, T mom, T damp, T wd,
                                  bool nesterov) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step)
    fused_math::SGDMomentum(w[i], g[i], buf[i], lr, mom, damp, wd, nesterov);
}

template <typename T>
__global__ void RMSPropKernel(T* w, const T* g, T* v, int64_t n, T lr, T rho, T eps, T wd) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step)
    fused_math::RMSProp(w[i], g[i], v[i], lr, rho, eps, wd);
}

template <typename T>
__global__ void AdaGradKernel(T* w, const T* g, T* h, int64_t n, T lr, T eps, T wd) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step)
    fused_math::AdaGrad(w[i], g[i], h[i], lr, eps, wd);
}

template <typename T>
__global__ void AdamKernel(T* w, const T* g, T* m, T* v, int64_t n, T b1, T b2, T step_size, T eps,
                           T wd) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step)
    fused_math::Adam(w[i], g[i], m[i], v[i], b1, b2, step_size, eps, wd);
}

// One block of at most 2^32 elements, i counted from the block's start (the counter of
// RandomBits32 is 32 bits).
template <typename T>
__global__ void DropoutKernel(const T* x, T* y, T* mask, int64_t n, uint32_t key, uint32_t threshold,
                              T scale) {
  for (int64_t i = FirstIndex(), step = GridStep(); i < n; i += step) {
    const T keep = fused_math::DropoutMask(key, static_cast<uint32_t>(i), threshold, scale);
    mask[i] = keep;
    y[i] = x[i] * keep;
  }
}

// Runs body(T) for p's dtype (float32 or float64) on p's stream; nothing for no elements.
// body launches with <<<BlocksFor(n), kThreads, 0, stream>>>.
template <typename Body>
void Dispatch(const Tensor& p, const char* fn, Body&& body) {
  cudaStream_t stream = StreamOf(p, fn);
  const int64_t n = static_cast<int64_t>(p.Size());
  if (n == 0) return;
  switch (p.data_type()) {
    case kFloat32:
      body(float{}, stream, n);
      break;
    case kDouble:
      body(double{}, stream, n);
      break;
    default:
      throw TypeError(Msg(fn, ": expects float32 or float64, got ", DataTypeName(p.data_type())));
  }
  CheckLaunch(fn, p);
}

}  // namespace

void FillFused(FusedKernels& k) {
  k.sgd = [](const Tensor& p, const Tensor& g, const Tensor* buf, double lr, double momentum,
             double dampening, double wd, bool nesterov) {
    Dispatch(p, "cuda SGD update", [&](auto zero, cudaStream_t s, int64_t n) {
      using T = decltype(zero);
      if (buf == nullptr)
        SGDKernel<T><<<BlocksFor(n), kThreads, 0, s>>>(p.data<T>(), g.data<T>(), n, T(lr), T(wd));
      else
        SGDMomentumKernel<T><<<BlocksFor(n), kThreads, 0, s>>>(
            p.data<T>(), g.data<T>(), buf->data<T>(), n, T(lr), T(momentum), T(1.0 - dampening),
            T(wd), nesterov);
    });
  };
  k.rmsprop = [](const Tensor& p, const Tensor& g, const Tensor& v, double lr, double rho,
                 double eps, double wd) {
    Dispatch(p, "cuda RMSProp update", [&](auto zero, cudaStream_t s, int64_t n) {
      using T = decltype(zero);
      RMSPropKernel<T><<<BlocksFor(n), kThreads, 0, s>>>(p.data<T>(), g.data<T>(), v.data<T>(), n,
                                                         T(lr), T(rho), T(eps), T(wd));
    });
  };
  k.adagrad = [](const Tensor& p, const Tensor& g, const Tensor& h, double lr, double eps,
                 double wd) {
    Dispatch(p, "cuda AdaGrad update", [&](auto zero, cudaStream_t s, int64_t n) {
      using T = decltype(zero);
      AdaGradKernel<T><<<BlocksFor(n), kThreads, 0, s>>>(p.data<T>(), g.data<T>(), h.data<T>(), n,
                                                         T(lr), T(eps), T(wd));
    });
  };
  k.adam = [](const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double lr,
              double beta1, double beta2, double eps, double wd, int64_t t) {
    const fused_math::AdamScalars sc = fused_math::AdamStepScalars(lr, beta1, beta2, eps, t);
    Dispatch(p, "cuda Adam update", [&](auto zero, cudaStream_t s, int64_t n) {
      using T = decltype(zero);
      AdamKernel<T><<<BlocksFor(n), kThreads, 0, s>>>(p.data<T>(), g.data<T>(), m.data<T>(),
                                                      v.data<T>(), n, T(beta1), T(beta2),
                                                      T(sc.step), T(sc.eps), T(wd));
    });
  };
  k.dropout = [](const Tensor& x, double ratio, uint64_t seed, uint64_t counter, const Tensor& y,
                 const Tensor& mask) {
    const uint32_t threshold = fused_math::DropoutThreshold(ratio);
    Dispatch(x, "cuda dropout", [&](auto zero, cudaStream_t s, int64_t n) {
      using T = decltype(zero);
      const T scale = static_cast<T>(1.0 / (1.0 - ratio));
      const uint64_t total = static_cast<uint64_t>(n);
      constexpr uint64_t kBlock = fused_math::kDropoutBlock;
      for (uint64_t first = 0; first < total; first += kBlock) {
        const uint32_t key = fused_math::DropoutKey(seed, counter, first / kBlock);
        const int64_t len = static_cast<int64_t>(std::min<uint64_t>(kBlock, total - first));
        const int64_t off = static_cast<int64_t>(first);
        DropoutKernel<T><<<BlocksFor(len), kThreads, 0, s>>>(x.data<T>() + off, y.data<T>() + off,
                                                             mask.data<T>() + off, len, key,
                                                             threshold, scale);
      }
    });
  };
}

}  // namespace cuda
}  // namespace singa
