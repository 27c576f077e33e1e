// Vectorisable transcendental functions. std::exp does not vectorise without
// -ffast-math, so float exp is computed here by range reduction and a polynomial
// (max error about 2 ulp), which the compiler turns into SIMD code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/hd.h"

namespace singa {

SINGA_HD SINGA_INLINE float Exp(float x) {
  const float hi = 88.7228394f, lo = -103.972084f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  xc = x == x ? xc : 0.0f;  // NaN: keep the integer conversion below defined (result is x)
  float n = std::nearbyint(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  // 2^n as two factors so results near overflow and in the subnormal range stay exact.
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni / 2, n2 = ni - n1;
  uint32_t b1 = static_cast<uint32_t>(n1 + 127) << 23, b2 = static_cast<uint32_t>(n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  float y = p * s1 * s2;
  y = x > hi ? INFINITY : (x < lo ? 0.0f : y);
  return x != x ? x : y;
}

SINGA_HD SINGA_INLINE double Exp(double x) { return std::exp(x); }

template <typename F>
SINGA_HD SINGA_INLINE F Sigmoid(F x) {
  return F(1) / (F(1) + Exp(-x));
}

template <typename F>
SINGA_HD SINGA_INLINE F SoftPlus(F x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, and exact in float64 too
  // (a plain `x > 20 ? x : ...` cut-off is off by e^-20 ~ 2e-9).
  return (x > F(0) ? x : F(0)) + std::log1p(Exp(-std::fabs(x)));
}

}  // namespace singa
