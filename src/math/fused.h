// Fused optimizer updates and dropout: entry points in math/fused.cc, CPU kernels in
// cpu/fused.cc, CUDA kernels in cuda/fused.cu; both kernels do the per-element arithmetic
// of fused_math below.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/hd.h"
#include "core/random.h"
#include "core/tensor.h"

namespace singa {

// All updates work in place on a contiguous float parameter and its state tensors,
// with g' = g + wd * p.
// buf = momentum * buf + (1 - dampening) * g';  p -= lr * (nesterov ? g' + momentum * buf : buf)
// (buf may be null: p -= lr * g').
void SGDUpdate(Tensor* p, const Tensor& g, Tensor* buf, double lr, double momentum,
               double dampening, double wd, bool nesterov);
// v = rho * v + (1 - rho) * g'^2;  p -= lr * g' / sqrt(v + eps)
void RMSPropUpdate(Tensor* p, const Tensor& g, Tensor* v, double lr, double rho, double eps,
                   double wd);
// h += g'^2;  p -= lr * g' / sqrt(h + eps)
void AdaGradUpdate(Tensor* p, const Tensor& g, Tensor* h, double lr, double eps, double wd);
// Bias-corrected Adam at step t >= 1.
void AdamUpdate(Tensor* p, const Tensor& g, Tensor* m, Tensor* v, double lr, double beta1,
                double beta2, double eps, double wd, int64_t t);

// y = x * mask with mask = Bernoulli(1 - ratio) / (1 - ratio), in one pass.
std::pair<Tensor, Tensor> DropoutForward(const Tensor& x, double ratio);

// The per-element arithmetic of the fused kernels, shared by every device (SINGA_HD) and
// inlined into the CPU's `omp simd` loops (SINGA_INLINE). T is float or double; the
// hyper-parameters arrive converted to T, g' = g + wd * w.
namespace fused_math {

// buf == nullptr: w -= lr * g'.
template <typename T>
SINGA_HD SINGA_INLINE void SGD(T& w, T g, T lr, T wd) {
  w -= lr * (g + wd * w);
}
// With a momentum buffer; damp = 1 - dampening.
template <typename T>
SINGA_HD SINGA_INLINE void SGDMomentum(T& w, T g, T& buf, T lr, T mom, T damp, T wd, bool nesterov) {
  T gi = g + wd * w;
  T m = mom * buf + damp * gi;
  buf = m;
  w -= lr * (nesterov ? gi + mom * m : m);
}
template <typename T>
SINGA_HD SINGA_INLINE void RMSProp(T& w, T g, T& v, T lr, T rho, T eps, T wd) {
  T gi = g + wd * w;
  T a = rho * v + (T(1) - rho) * gi * gi;
  v = a;
  w -= lr * gi / std::sqrt(a + eps);
}
template <typename T>
SINGA_HD SINGA_INLINE void AdaGrad(T& w, T g, T& h, T lr, T eps, T wd) {
  T gi = g + wd * w;
  T a = h + gi * gi;
  h = a;
  w -= lr * gi / std::sqrt(a + eps);
}
// step and eps from AdamScalars (the bias corrections folded in).
template <typename T>
SINGA_HD SINGA_INLINE void Adam(T& w, T g, T& m, T& v, T b1, T b2, T step, T eps, T wd) {
  T gi = g + wd * w;
  T mi = b1 * m + (T(1) - b1) * gi;
  T vi = b2 * v + (T(1) - b2) * gi * gi;
  m = mi;
  v = vi;
  w -= step * mi / (std::sqrt(vi) + eps);
}
// lr * (m / c1) / (sqrt(v / c2) + eps) = step * m / (sqrt(v) + eps * sqrt(c2)) at step t,
// with c1 = 1 - beta1^t, c2 = 1 - beta2^t (computed once per update, in double).
struct AdamScalars {
  double step, eps;
};
inline AdamScalars AdamStepScalars(double lr, double beta1, double beta2, double eps, int64_t t) {
  const double c1 = 1.0 - std::pow(beta1, static_cast<double>(t));
  const double c2 = 1.0 - std::pow(beta2, static_cast<double>(t));
  return {lr * std::sqrt(c2) / c1, eps * std::sqrt(c2)};
}

// Dropout keeps an element when its 32 random bits fall below (1 - ratio) * 2^32, and
// scales kept ones by 1 / (1 - ratio). The 64-bit stream position `base` selects the key,
// so every call draws fresh bits; the per-element counter is 32 bits, so each further 2^32
// elements (block 1, 2, ...) take a key of their own, from a seed no call uses for its
// first block, lest element i + 2^32 repeat i's bit.
constexpr uint64_t kDropoutBlock = uint64_t{1} << 32;
inline uint32_t DropoutThreshold(double ratio) {
  return static_cast<uint32_t>(std::min(4294967295.0, (1.0 - ratio) * 4294967296.0));
}
SINGA_HD inline uint32_t DropoutKey(uint64_t seed, uint64_t base, uint64_t block) {
  const uint64_t block_seed = block == 0 ? seed : seed ^ (block * 0x9e3779b97f4a7c15ull);
  return static_cast<uint32_t>(RandomBits(block_seed, base));
}
// The mask value of element i (counted from its block's start): arithmetic, not a branch
// (a random 40/60 branch mispredicts half the time on a CPU).
template <typename T>
SINGA_HD SINGA_INLINE T DropoutMask(uint32_t key, uint32_t i, uint32_t threshold, T scale) {
  return scale * static_cast<T>(RandomBits32(key, i) < threshold);
}

}  // namespace fused_math

// Flush-to-zero / denormals-are-zero on the CPU's OpenMP worker threads (not the caller).
void SetFlushDenormals(bool on);

}  // namespace singa
