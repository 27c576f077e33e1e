// CPU random fills: element i takes the bits of counter first+i (core/random.h).
#include <cmath>

#include "core/random.h"
#include "cpu/cpu_kernels.h"
#include "cpu/iter.h"

namespace singa {
namespace cpu {

namespace random {

inline double UnitDouble(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

template <typename G>
void Fill(const Tensor& t, const char* fn, uint64_t seed, uint64_t first, G gen) {
  const size_t n = t.Size();
  SINGA_DISPATCH_FLOAT(t.data_type(), fn, {
    T* p = t.data<T>();
_Pragma("omp parallel for num_threads(NumThreadsFor(n * 8)) schedule(static)")
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(gen(RandomBits(seed, first + i)));
  });
}

void bernoulli(const Tensor& t, double p, uint64_t seed, uint64_t first) {
  // Compare 32 random bits against p scaled to 2^32 (exact for p = 0 and p = 1).
  const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
  Fill(t, "Bernoulli", seed, first,
       [threshold](uint64_t bits) { return static_cast<double>((bits >> 32) < threshold); });
}

void uniform(const Tensor& t, double low, double high, uint64_t seed, uint64_t first) {
  Fill(t, "Uniform", seed, first,
       [low, high](uint64_t bits) { return low + (high - low) * UnitDouble(bits); });
}

void gaussian(const Tensor& t, double mean, double std, uint64_t seed, uint64_t first) {
  // Box-Muller on two independent uniforms drawn from one counter.
  Fill(t, "Gaussian", seed, first, [mean, std](uint64_t bits) {
    double u1 = (static_cast<double>(bits >> 40) + 0.5) * 0x1.0p-24;
    double u2 = static_cast<double>((bits >> 8) & 0xffffffu) * 0x1.0p-24;
    double r = std::sqrt(-2.0 * std::log(u1));
    return mean + std * r * std::cos(6.283185307179586 * u2);
  });
}

}  // namespace random

}  // namespace cpu
}  // namespace singa
