// Random fills from the device's counter-based generator: element i of a fill uses
// counter base+i, so results depend on the seed and the draw order, not on threads.
#include "math/iter.h"
#include "math/ops.h"

namespace singa {

namespace {

inline double UnitDouble(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

template <typename F>
void Fill(Tensor* t, const char* fn, F gen) {
  if (t->Size() == 0) return;
  DataType dt = t->data_type();
  Tensor target = (dt == kFloat32 || dt == kDouble) && t->IsContiguous()
                      ? *t : Tensor(t->shape(), t->device(), dt == kDouble ? kDouble : kFloat32);
  auto dev = t->device();
  const size_t n = target.Size();
  const uint64_t seed = dev->seed();
  const uint64_t base = dev->TakeCounters(n);
  SINGA_DISPATCH_FLOAT(target.data_type(), fn, {
    T* p = target.data<T>();
_Pragma("omp parallel for num_threads(NumThreadsFor(n * 8)) schedule(static)")
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<T>(gen(seed, base, i));
  });
  if (target.block() != t->block()) t->CopyData(target);
}

}  // namespace

void Bernoulli(double p, Tensor* t) {
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError(Msg("Bernoulli: probability ", p, " is not in [0, 1]"));
  // Compare 32 random bits against p scaled to 2^32 (exact for p = 0 and p = 1).
  const uint64_t threshold = static_cast<uint64_t>(p * 4294967296.0);
  Fill(t, "Bernoulli", [threshold](uint64_t seed, uint64_t base, size_t i) {
    return static_cast<double>((RandomBits(seed, base + i) >> 32) < threshold);
  });
}

void Uniform(double low, double high, Tensor* t) {
  if (!(low <= high)) throw ValueError(Msg("Uniform: low ", low, " is greater than high ", high));
  Fill(t, "Uniform", [low, high](uint64_t seed, uint64_t base, size_t i) {
    return low + (high - low) * UnitDouble(RandomBits(seed, base + i));
  });
}

void Gaussian(double mean, double std, Tensor* t) {
  if (!(std >= 0.0)) throw ValueError(Msg("Gaussian: std ", std, " must be non-negative"));
  // Box-Muller on two independent uniforms drawn from one counter.
  Fill(t, "Gaussian", [mean, std](uint64_t seed, uint64_t base, size_t i) {
    uint64_t bits = RandomBits(seed, base + i);
    double u1 = (static_cast<double>(bits >> 40) + 0.5) * 0x1.0p-24;
    double u2 = static_cast<double>((bits >> 8) & 0xffffffu) * 0x1.0p-24;
    double r = std::sqrt(-2.0 * std::log(u1));
    return mean + std * r * std::cos(6.283185307179586 * u2);
  });
}

}  // namespace singa
