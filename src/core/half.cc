// Bulk conversions between float32 and the 16-bit floats. Every op on float16/bfloat16
// tensors converts its operands through these (core/common.h), so they are vectorised:
// F16C or AVX-512 converts 8 or 16 halves per instruction. A portable build has a copy of
// the loops per ISA level (cpu/isa.h) and the entry points pick one at first use.
#include <immintrin.h>

#include "core/common.h"
#include "cpu/isa.h"

SINGA_ISA_BEGIN
namespace singa {
namespace cpu {
namespace SINGA_ISA_NS {
namespace half_convert {

void HalfToFloatN(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
#if SINGA_ISA_LEVEL >= 2
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i*>(src + i))));
#elif SINGA_ISA_LEVEL >= 1
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = HalfToFloat(src[i]);
}

void FloatToHalfN(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
#if SINGA_ISA_LEVEL >= 2
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#elif SINGA_ISA_LEVEL >= 1
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) dst[i] = FloatToHalf(src[i]);
}

// The bfloat16 loops are plain integer arithmetic the compiler vectorises; AVX512_BF16's
// convert instruction is not used because it flushes subnormals, which the scalar rule keeps.
void BFloat16ToFloatN(const uint16_t* src, float* dst, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) dst[i] = BFloat16ToFloat(src[i]);
}

void FloatToBFloat16N(const float* src, uint16_t* dst, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) dst[i] = FloatToBFloat16(src[i]);
}

}  // namespace half_convert
}  // namespace SINGA_ISA_NS
}  // namespace cpu
}  // namespace singa
SINGA_ISA_END

#if SINGA_ISA_PRIMARY
namespace singa {

namespace cpu {
#define SINGA_HALF_DECLARATIONS(variant, level)                        \
  namespace variant {                                                  \
  namespace half_convert {                                             \
  void HalfToFloatN(const uint16_t* src, float* dst, size_t n);        \
  void FloatToHalfN(const float* src, uint16_t* dst, size_t n);        \
  void BFloat16ToFloatN(const uint16_t* src, float* dst, size_t n);    \
  void FloatToBFloat16N(const float* src, uint16_t* dst, size_t n);    \
  }                                                                    \
  }
SINGA_CPU_ISA_VARIANTS(SINGA_HALF_DECLARATIONS)
#undef SINGA_HALF_DECLARATIONS
}  // namespace cpu

// Each entry point calls the copy of SelectedCpuIsa(), looked up once.
#define SINGA_HALF_COPY(variant, level) &cpu::variant::half_convert::SINGA_HALF_FUNCTION,
#define SINGA_HALF_ENTRY(Name, Src, Dst)                                        \
  void Name(const Src* src, Dst* dst, size_t n) {                              \
    static void (*const copy)(const Src*, Dst*, size_t) = [] {                  \
      void (*const copies[])(const Src*, Dst*, size_t) = {                      \
          SINGA_CPU_ISA_VARIANTS(SINGA_HALF_COPY)};                            \
      return copies[CpuIsaVariantIndex()];                                      \
    }();                                                                        \
    static const bool clear_upper = PortableBuild() && CpuIsaVariantIndex() != 0; \
    copy(src, dst, n);                                                          \
    if (clear_upper) ClearUpperHalves(); /* index 0 is the baseline copy */     \
  }
#define SINGA_HALF_FUNCTION HalfToFloatN
SINGA_HALF_ENTRY(HalfToFloatN, uint16_t, float)
#undef SINGA_HALF_FUNCTION
#define SINGA_HALF_FUNCTION FloatToHalfN
SINGA_HALF_ENTRY(FloatToHalfN, float, uint16_t)
#undef SINGA_HALF_FUNCTION
#define SINGA_HALF_FUNCTION BFloat16ToFloatN
SINGA_HALF_ENTRY(BFloat16ToFloatN, uint16_t, float)
#undef SINGA_HALF_FUNCTION
#define SINGA_HALF_FUNCTION FloatToBFloat16N
SINGA_HALF_ENTRY(FloatToBFloat16N, float, uint16_t)
#undef SINGA_HALF_FUNCTION
#undef SINGA_HALF_ENTRY
#undef SINGA_HALF_COPY

}  // namespace singa
#endif
