// Counter-based random bits: a value depends only on (seed, counter), so a seed fixes
// every later draw whatever the thread count, and any device computes the same stream.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace singa {

// SplitMix64's output function.
SINGA_HD inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// 32 random bits for element `counter` of a stream keyed by `key`: two rounds of a
// 32-bit integer hash. 32-bit multiplies vectorise 16 to a register, so bulk masks
// (dropout) cost about as much as any element-wise op.
SINGA_HD inline uint32_t Hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

SINGA_HD inline uint32_t RandomBits32(uint32_t key, uint32_t counter) {
  return Hash32(Hash32(counter ^ key) + key);
}

// Random bits number `counter` of the stream of `seed`: SplitMix64 whose state starts
// at a hash of the seed (loop-invariant, so hoisted out of fill loops).
SINGA_HD inline uint64_t RandomBits(uint64_t seed, uint64_t counter) {
  return Mix64(Mix64(seed + 0x94d049bb133111ebull) + counter * 0x9e3779b97f4a7c15ull);
}

// The per-element transforms of the random fills (math/kernels.h: SINGA_RANDOM_KERNELS):
// element i of a fill is Transform(RandomBits(seed, first + i)), computed in double and
// converted to the tensor's dtype. Every device calls these, so a seed draws the same
// numbers everywhere (up to the last bit of the device's double log/cos in Gaussian).

// 53 random bits as a double in [0, 1).
SINGA_HD inline double UnitDouble(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Bernoulli(p): the top 32 random bits compared against p scaled to 2^32 (exact for p = 0
// and p = 1); the threshold is computed once per fill.
SINGA_HD inline uint64_t BernoulliThreshold(double p) { return static_cast<uint64_t>(p * 4294967296.0); }
SINGA_HD inline double BernoulliValue(uint64_t bits, uint64_t threshold) {
  return static_cast<double>((bits >> 32) < threshold);
}

SINGA_HD inline double UniformValue(uint64_t bits, double low, double high) {
  return low + (high - low) * UnitDouble(bits);
}

// Box-Muller on two independent uniforms drawn from one counter.
SINGA_HD inline double GaussianValue(uint64_t bits, double mean, double std) {
  double u1 = (static_cast<double>(bits >> 40) + 0.5) * 0x1.0p-24;
  double u2 = static_cast<double>((bits >> 8) & 0xffffffu) * 0x1.0p-24;
  double r = std::sqrt(-2.0 * std::log(u1));
  return mean + std * r * std::cos(6.283185307179586 * u2);
}

}  // namespace singa
