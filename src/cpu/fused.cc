// CPU fused kernels: each optimizer update and dropout's mask-and-scale in one pass
// over memory instead of a chain of element-wise calls.
#include <xmmintrin.h>

#include <algorithm>
#include <cmath>

#include "core/random.h"
#include "cpu/cpu_kernels.h"
#include "cpu/isa.h"
#include "cpu/iter.h"
#include "math/fused.h"

// Compiled once per ISA level in a portable build (cpu/isa.h); SetFlushDenormals once.
SINGA_ISA_BEGIN
namespace singa {
namespace cpu {
namespace SINGA_ISA_NS {

namespace {

// Flush-to-zero and denormals-are-zero while in scope: running averages of squared
// gradients decay into denormals, which are many times slower to compute with.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() : old_(_mm_getcsr()) { _mm_setcsr(old_ | 0x8040u); }
  ~ScopedFlushDenormals() { _mm_setcsr(old_); }

 private:
  unsigned old_;
};

// Runs f(begin, end) over [0, n) on the OpenMP pool in contiguous chunks.
template <typename F>
void ParallelRange(size_t n, F f) {
  const int threads = NumThreadsFor(n);
  if (threads <= 1) {
    ScopedFlushDenormals ftz;
    f(size_t(0), n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    ScopedFlushDenormals ftz;
    size_t nt = static_cast<size_t>(omp_get_num_threads()), id = static_cast<size_t>(omp_get_thread_num());
    size_t chunk = (n + nt - 1) / nt;
    size_t b = std::min(n, id * chunk), e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace

namespace fused {

template <typename T>
void SGDKernel(T* w, const T* gp, T* bp, size_t n, T lr, T mom, T damp, T wd, bool nesterov) {
  ParallelRange(n, [=](size_t b, size_t e) {
    if (!bp) {
#pragma omp simd
      for (size_t i = b; i < e; ++i) fused_math::SGD(w[i], gp[i], lr, wd);
      return;
    }
#pragma omp simd
    for (size_t i = b; i < e; ++i) fused_math::SGDMomentum(w[i], gp[i], bp[i], lr, mom, damp, wd, nesterov);
  });
}

template <typename T>
void RMSPropKernel(T* w, const T* gp, T* vp, size_t n, T lr, T rho, T eps, T wd) {
  ParallelRange(n, [=](size_t b, size_t e) {
#pragma omp simd
    for (size_t i = b; i < e; ++i) fused_math::RMSProp(w[i], gp[i], vp[i], lr, rho, eps, wd);
  });
}

template <typename T>
void AdaGradKernel(T* w, const T* gp, T* hp, size_t n, T lr, T eps, T wd) {
  ParallelRange(n, [=](size_t b, size_t e) {
#pragma omp simd
    for (size_t i = b; i < e; ++i) fused_math::AdaGrad(w[i], gp[i], hp[i], lr, eps, wd);
  });
}

template <typename T>
void AdamKernel(T* w, const T* gp, T* mp, T* vp, size_t n, T b1, T b2, T step, T eps, T wd) {
  ParallelRange(n, [=](size_t b, size_t e) {
#pragma omp simd
    for (size_t i = b; i < e; ++i) fused_math::Adam(w[i], gp[i], mp[i], vp[i], b1, b2, step, eps, wd);
  });
}

template <typename T>
void DropoutKernel(const T* xp, T* yp, T* mp, size_t n, uint64_t seed, uint64_t base,
                   uint32_t threshold, T scale) {
  // One key per block of 2^32 elements (math/fused.h: fused_math::DropoutKey).
  constexpr uint64_t kBlock = fused_math::kDropoutBlock;
  for (uint64_t first = 0; first < n; first += kBlock) {
    const uint32_t key = fused_math::DropoutKey(seed, base, first / kBlock);
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kBlock, n - first));
    const T* xb = xp + first;
    T* yb = yp + first;
    T* mb = mp + first;
    ParallelRange(len, [=](size_t b, size_t e) {
#pragma omp simd
      for (size_t i = b; i < e; ++i) {
        T keep = fused_math::DropoutMask(key, static_cast<uint32_t>(i), threshold, scale);
        mb[i] = keep;
        yb[i] = xb[i] * keep;
      }
    });
  }
}

void sgd(const Tensor& p, const Tensor& g, const Tensor* buf, double lr, double momentum,
         double dampening, double wd, bool nesterov) {
  if (p.data_type() == kDouble)
    SGDKernel<double>(p.data<double>(), g.data<double>(), buf ? buf->data<double>() : nullptr,
                      p.Size(), lr, momentum, 1.0 - dampening, wd, nesterov);
  else
    SGDKernel<float>(p.data<float>(), g.data<float>(), buf ? buf->data<float>() : nullptr,
                     p.Size(), float(lr), float(momentum), float(1.0 - dampening), float(wd), nesterov);
}

void rmsprop(const Tensor& p, const Tensor& g, const Tensor& v, double lr, double rho, double eps,
             double wd) {
  if (p.data_type() == kDouble)
    RMSPropKernel<double>(p.data<double>(), g.data<double>(), v.data<double>(), p.Size(), lr,
                          rho, eps, wd);
  else
    RMSPropKernel<float>(p.data<float>(), g.data<float>(), v.data<float>(), p.Size(), float(lr),
                         float(rho), float(eps), float(wd));
}

void adagrad(const Tensor& p, const Tensor& g, const Tensor& h, double lr, double eps, double wd) {
  if (p.data_type() == kDouble)
    AdaGradKernel<double>(p.data<double>(), g.data<double>(), h.data<double>(), p.Size(), lr,
                          eps, wd);
  else
    AdaGradKernel<float>(p.data<float>(), g.data<float>(), h.data<float>(), p.Size(), float(lr),
                         float(eps), float(wd));
}

void adam(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double lr,
          double beta1, double beta2, double eps, double wd, int64_t t) {
  const fused_math::AdamScalars sc = fused_math::AdamStepScalars(lr, beta1, beta2, eps, t);
  const double step = sc.step, eps2 = sc.eps;
  if (p.data_type() == kDouble)
    AdamKernel<double>(p.data<double>(), g.data<double>(), m.data<double>(), v.data<double>(),
                       p.Size(), beta1, beta2, step, eps2, wd);
  else
    AdamKernel<float>(p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(),
                      p.Size(), float(beta1), float(beta2), float(step), float(eps2), float(wd));
}

void dropout(const Tensor& x, double ratio, uint64_t seed, uint64_t counter, const Tensor& y,
             const Tensor& mask) {
  const uint32_t threshold = fused_math::DropoutThreshold(ratio);
  if (x.data_type() == kDouble)
    DropoutKernel<double>(x.data<double>(), y.data<double>(), mask.data<double>(), x.Size(), seed,
                          counter, threshold, 1.0 / (1.0 - ratio));
  else
    DropoutKernel<float>(x.data<float>(), y.data<float>(), mask.data<float>(), x.Size(), seed,
                         counter, threshold, float(1.0 / (1.0 - ratio)));
}

}  // namespace fused

}  // namespace SINGA_ISA_NS
}  // namespace cpu
}  // namespace singa
SINGA_ISA_END

#if SINGA_ISA_PRIMARY
namespace singa {

void SetFlushDenormals(bool on) {
  // MXCSR is per thread. Set it on the pool's worker threads but leave the calling
  // (Python) thread as it was, so NumPy code in the same process is unaffected.
  const unsigned caller = _mm_getcsr();
#pragma omp parallel
  {
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | 0x8040u) : (csr & ~0x8040u));  // FTZ (bit 15), DAZ (bit 6)
  }
  _mm_setcsr(caller);
}

}  // namespace singa
#endif
