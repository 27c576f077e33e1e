// CPU random fills: element i takes the bits of counter first+i (core/random.h).
#include <cmath>

#include "core/random.h"
#include "cpu/cpu_kernels.h"
#include "cpu/iter.h"

namespace singa {
namespace cpu {

namespace random {

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
  // The transforms are core/random.h's, shared with the other devices.
  const uint64_t threshold = BernoulliThreshold(p);
  Fill(t, "Bernoulli", seed, first,
       [threshold](uint64_t bits) { return BernoulliValue(bits, threshold); });
}

void uniform(const Tensor& t, double low, double high, uint64_t seed, uint64_t first) {
  Fill(t, "Uniform", seed, first,
       [low, high](uint64_t bits) { return UniformValue(bits, low, high); });
}

void gaussian(const Tensor& t, double mean, double std, uint64_t seed, uint64_t first) {
  Fill(t, "Gaussian", seed, first,
       [mean, std](uint64_t bits) { return GaussianValue(bits, mean, std); });
}

}  // namespace random

}  // namespace cpu
}  // namespace singa
