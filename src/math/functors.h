// The arithmetic of each element-wise op of math/op_tables.h, one functor per op, shared
// by every device (SINGA_HD makes them device code under nvcc; SINGA_INLINE keeps the
// loops that call them vectorised, core/hd.h). T is float, double or (for the ops closed
// on integers, and every binary op) int32_t or int64_t; float16 and int8 are computed in
// float32 by the callers, bool and uint8 in int32. F is the float type a T computes transcendental
// functions in.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/hd.h"
#include "math/vecmath.h"

namespace singa {
namespace fn {

template <typename T>
using FloatOf = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Signed overflow is undefined in C++, while NumPy and ONNX integers wrap around: integer
// +, - and * run in the unsigned type of the same width (converting back keeps the low bits).
template <typename T>
using UnsignedOf = std::make_unsigned_t<std::conditional_t<std::is_integral_v<T>, T, int>>;
template <typename T>
SINGA_HD SINGA_INLINE T WrapAdd(T x, T y) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(UnsignedOf<T>(x) + UnsignedOf<T>(y));
  else return x + y;
}
template <typename T>
SINGA_HD SINGA_INLINE T WrapSub(T x, T y) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(UnsignedOf<T>(x) - UnsignedOf<T>(y));
  else return x - y;
}
template <typename T>
SINGA_HD SINGA_INLINE T WrapMul(T x, T y) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(UnsignedOf<T>(x) * UnsignedOf<T>(y));
  else return x * y;
}

// ---- unary ----
struct Abs {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return v < 0 ? WrapSub(T(0), v) : v; }
};
struct Neg {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    if constexpr (std::is_integral_v<T>) return WrapSub(T(0), v);
    else return -v;
  }
};
struct Sign {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return static_cast<T>((v > 0) - (v < 0)); }
};
struct ReLU {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return static_cast<T>(v > 0 ? v : 0); }
};
struct Square {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return WrapMul(v, v); }
};
struct Not {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return static_cast<T>(v == 0 ? 1 : 0); }
};

// Rounding ops are closed on integers, where they are the identity.
#define SINGA_ROUNDING_UNARY(Name, round)                                  \
  struct Name {                                                            \
    template <typename T>                                                  \
    SINGA_HD SINGA_INLINE T operator()(T v) const {                        \
      if constexpr (std::is_integral_v<T>) return v;                       \
      else return static_cast<T>(round(static_cast<FloatOf<T>>(v)));       \
    }                                                                      \
  };
SINGA_ROUNDING_UNARY(Ceil, std::ceil)
SINGA_ROUNDING_UNARY(Floor, std::floor)
SINGA_ROUNDING_UNARY(Round, std::round)       // halves away from zero
SINGA_ROUNDING_UNARY(RoundE, std::nearbyint)  // halves to even
#undef SINGA_ROUNDING_UNARY

// A unary functor computing `expr` of `x`, the input converted to F.
#define SINGA_FLOAT_UNARY(Name, expr)                    \
  struct Name {                                          \
    template <typename T>                                \
    SINGA_HD SINGA_INLINE T operator()(T v) const {      \
      using F = FloatOf<T>;                              \
      const F x = static_cast<F>(v);                     \
      return static_cast<T>(expr);                       \
    }                                                    \
  };
SINGA_FLOAT_UNARY(Exp, ::singa::Exp(x))
SINGA_FLOAT_UNARY(Erf, std::erf(x))
SINGA_FLOAT_UNARY(Log, std::log(x))
SINGA_FLOAT_UNARY(Sigmoid, ::singa::Sigmoid(x))
SINGA_FLOAT_UNARY(Sqrt, std::sqrt(x))
SINGA_FLOAT_UNARY(Cos, std::cos(x))
SINGA_FLOAT_UNARY(Cosh, std::cosh(x))
SINGA_FLOAT_UNARY(Acos, std::acos(x))
SINGA_FLOAT_UNARY(Acosh, std::acosh(x))
SINGA_FLOAT_UNARY(Sin, std::sin(x))
SINGA_FLOAT_UNARY(Sinh, std::sinh(x))
SINGA_FLOAT_UNARY(Asin, std::asin(x))
SINGA_FLOAT_UNARY(Asinh, std::asinh(x))
SINGA_FLOAT_UNARY(Tan, std::tan(x))
SINGA_FLOAT_UNARY(Tanh, std::tanh(x))
SINGA_FLOAT_UNARY(Atan, std::atan(x))
SINGA_FLOAT_UNARY(Atanh, std::atanh(x))
SINGA_FLOAT_UNARY(Reciprocal, F(1) / x)
SINGA_FLOAT_UNARY(SoftPlus, ::singa::SoftPlus(x))
SINGA_FLOAT_UNARY(SoftSign, x / (1 + std::fabs(x)))
SINGA_FLOAT_UNARY(Mish, x * std::tanh(::singa::SoftPlus(x)))
#undef SINGA_FLOAT_UNARY

// ---- binary ----
#define SINGA_PLAIN_BINARY(Name, expr)                         \
  struct Name {                                                \
    template <typename T>                                      \
    SINGA_HD SINGA_INLINE T operator()(T x, T y) const {       \
      return static_cast<T>(expr);                             \
    }                                                          \
  };
SINGA_PLAIN_BINARY(Add, WrapAdd(x, y))
SINGA_PLAIN_BINARY(Sub, WrapSub(x, y))
SINGA_PLAIN_BINARY(Mul, WrapMul(x, y))
SINGA_PLAIN_BINARY(LT, x < y)
SINGA_PLAIN_BINARY(LE, x <= y)
SINGA_PLAIN_BINARY(GT, x > y)
SINGA_PLAIN_BINARY(GE, x >= y)
SINGA_PLAIN_BINARY(EQ, x == y)
SINGA_PLAIN_BINARY(And, (x != 0) && (y != 0))
SINGA_PLAIN_BINARY(Or, (x != 0) || (y != 0))
SINGA_PLAIN_BINARY(Xor, (x != 0) != (y != 0))
SINGA_PLAIN_BINARY(Min, x < y ? x : y)
SINGA_PLAIN_BINARY(Max, x > y ? x : y)
SINGA_PLAIN_BINARY(ReLUBackward, y > 0 ? x : 0)  // x: the gradient, y: the forward input
#undef SINGA_PLAIN_BINARY

// Integer division truncates toward zero (C's rule, and ONNX Div's on integers) and never
// traps: by 0 it gives 0, and by -1 it negates with wrap-around (INT_MIN / -1 overflows).
struct Div {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) return 0;
      if (y == -1) return WrapSub(T(0), x);
    }
    return x / y;
  }
};

// The remainder with the sign of the dividend: C's fmod and %, ONNX Mod with fmod=1.
// Integers by 0 give 0 (as NumPy's do); by -1, 0 (INT_MIN % -1 overflows in C++).
struct FMod {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0 || y == -1) return 0;
      return static_cast<T>(x % y);
    } else {
      return std::fmod(x, y);
    }
  }
};

// The remainder with the sign of the divisor: Python's and NumPy's %, ONNX Mod with fmod=0.
struct Mod {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    T r = FMod{}(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
    return r;
  }
};

// Integer powers are exact, by repeated squaring (wrapping on overflow like the other
// integer ops); a negative exponent gives 1 / x^-y truncated: 1 for x = 1, +-1 for x = -1
// and 0 otherwise (0 ** negative is 0 too: integer ops never trap). float pow stays in
// float so its loop vectorises; double is std::pow.
struct Pow {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y < 0) return x == 1 ? T(1) : x == -1 ? ((y & 1) ? T(-1) : T(1)) : T(0);
      T result = 1;
      while (y) {
        if (y & 1) result = WrapMul(result, x);
        x = WrapMul(x, x);
        y = static_cast<T>(y >> 1);
      }
      return result;
    } else {
      return std::pow(x, y);
    }
  }
};

}  // namespace fn
}  // namespace singa
