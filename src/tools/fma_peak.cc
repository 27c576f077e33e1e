// The machine's floating-point ceiling, measured: every thread runs independent chains
// of fused multiply-adds at the widest vector width the kernels run at (in a portable
// build, the ISA level the kernels dispatched to, cpu/isa.h). Benchmarks quote GEMM speed
// as a share of this figure rather than of a number from another machine.
#include "tools/fma_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <chrono>

#include "core/common.h"
#include "cpu/isa.h"

SINGA_ISA_BEGIN
namespace singa {
namespace cpu {
namespace SINGA_ISA_NS {
namespace fma_peak {
namespace {

#if SINGA_ISA_LEVEL >= 2
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec Splat(float v) { return _mm512_set1_ps(v); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
// Through memory: _mm512_reduce_add_ps trips GCC 12's -Wuninitialized under a target pragma.
inline float Sum(Vec v) {
  alignas(64) float x[16];
  _mm512_store_ps(x, v);
  float total = 0;
  for (float lane : x) total += lane;
  return total;
}
#elif SINGA_ISA_LEVEL >= 1
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

}  // namespace

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

// Floating-point operations of one FmaChains round.
int FlopsPerRound() { return 2 * kLanes * kChains; }

int Lanes() { return kLanes; }

}  // namespace fma_peak
}  // namespace SINGA_ISA_NS
}  // namespace cpu
}  // namespace singa
SINGA_ISA_END

#if SINGA_ISA_PRIMARY
namespace singa {

namespace cpu {
#define SINGA_FMA_DECLARATIONS(variant, level) \
  namespace variant {                          \
  namespace fma_peak {                         \
  float FmaChains(long iters);                 \
  int FlopsPerRound();                         \
  int Lanes();                                 \
  }                                            \
  }
SINGA_CPU_ISA_VARIANTS(SINGA_FMA_DECLARATIONS)
#undef SINGA_FMA_DECLARATIONS
}  // namespace cpu

namespace {

struct FmaCopy {
  float (*chains)(long);
  int (*flops_per_round)();
  int (*lanes)();
};

const FmaCopy& Copy() {
#define SINGA_FMA_COPY(variant, level) \
  FmaCopy{&cpu::variant::fma_peak::FmaChains, &cpu::variant::fma_peak::FlopsPerRound, \
          &cpu::variant::fma_peak::Lanes},
  static const FmaCopy copies[] = {SINGA_CPU_ISA_VARIANTS(SINGA_FMA_COPY)};
#undef SINGA_FMA_COPY
  return copies[CpuIsaVariantIndex()];
}

}  // namespace

double MeasureFmaPeak(int repeats, long iters) {
  if (repeats < 1 || iters < 1)
    throw ValueError(Msg("fma_peak_gflops: repeats and iters must be positive, got ", repeats,
                         " and ", iters));
  const FmaCopy& copy = Copy();
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
      total += copy.chains(iters);
    }
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    double flops = static_cast<double>(copy.flops_per_round()) * static_cast<double>(iters) * threads;
    if (sec > 0 && flops / sec / 1e9 > best) best = flops / sec / 1e9;
  }
  return best;
}

int FmaPeakLanes() { return Copy().lanes(); }

}  // namespace singa
#endif
