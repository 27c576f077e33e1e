// The machine's floating-point ceiling, measured: every thread runs independent chains
// of fused multiply-adds at the widest vector width this build targets. Benchmarks quote
// GEMM speed as a share of this figure rather than of a number from another machine.
#include "tools/fma_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <chrono>

#include "core/common.h"

namespace singa {
namespace {

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec Splat(float v) { return _mm512_set1_ps(v); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float Sum(Vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec Splat(float v) { return _mm256_set1_ps(v); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float Sum(Vec v) {
  alignas(32) float x[8];
  _mm256_store_ps(x, v);
  return x[0] + x[1] + x[2] + x[3] + x[4] + x[5] + x[6] + x[7];
}
#else
using Vec = float;
constexpr int kLanes = 1;
inline Vec Splat(float v) { return v; }
inline Vec Fma(Vec a, Vec b, Vec c) { return a * b + c; }
inline float Sum(Vec v) { return v; }
#endif

// Enough independent accumulators to cover the FMA latency times the number of FMA units.
constexpr int kChains = 12;

// Runs `iters` rounds of kChains FMAs on one thread; the sum keeps the work observable.
float FmaChains(long iters) {
  Vec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = Splat(static_cast<float>(i));
  const Vec scale = Splat(0.999999f), shift = Splat(1e-7f);
  for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = Fma(acc[i], scale, shift);
  }
  float total = 0;
  for (int i = 0; i < kChains; ++i) total += Sum(acc[i]);
  return total;
}

}  // namespace

double MeasureFmaPeak(int repeats, long iters) {
  if (repeats < 1 || iters < 1)
    throw ValueError(Msg("fma_peak_gflops: repeats and iters must be positive, got ", repeats,
                         " and ", iters));
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < repeats; ++r) {
    int threads = 1;
    float total = 0;
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : total)
    {
#pragma omp single
      threads = omp_get_num_threads();
      total += FmaChains(iters);
    }
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    double flops = 2.0 * kLanes * kChains * static_cast<double>(iters) * threads;
    if (sec > 0 && flops / sec / 1e9 > best) best = flops / sec / 1e9;
  }
  return best;
}

int FmaPeakLanes() { return kLanes; }

}  // namespace singa
