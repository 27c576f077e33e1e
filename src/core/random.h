// Counter-based random bits: a value depends only on (seed, counter), so a seed fixes
// every later draw whatever the thread count, and any device computes the same stream.
#pragma once

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

}  // namespace singa
