// Bulk conversions between float32 and the 16-bit floats. Every op on float16/bfloat16
// tensors converts its operands through these (core/common.h), so they are vectorised:
// F16C or AVX-512 converts 8 or 16 halves per instruction where the build targets it.
#include <immintrin.h>

#include "core/common.h"

namespace singa {

void HalfToFloatN(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i*>(src + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = HalfToFloat(src[i]);
}

void FloatToHalfN(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__)
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

}  // namespace singa
