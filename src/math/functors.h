// The arithmetic of each element-wise op of math/op_tables.h, one functor per op, shared
// by every device (SINGA_HD makes them device code under nvcc; SINGA_INLINE keeps the
// loops that call them vectorised, core/hd.h). T is float, double or
// (for the ops closed on integers, and every binary op) int32_t; float16 and int8 are
// computed in float32 by the callers. F is the float type a T computes transcendental
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

template <typename T>
struct Identity {
  using type = T;
};
// The type +, -, * and negation of T are done in: int32 arithmetic wraps around (as
// NumPy's does) in uint32_t, since signed overflow is undefined behaviour in C++.
template <typename T>
using ArithOf = typename std::conditional_t<std::is_integral_v<T>, std::make_unsigned<T>,
                                            Identity<T>>::type;

// ---- unary ----
struct Abs {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return v < 0 ? static_cast<T>(-static_cast<ArithOf<T>>(v)) : v;
  }
};
struct Neg {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(-static_cast<ArithOf<T>>(v));
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
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(static_cast<ArithOf<T>>(v) * static_cast<ArithOf<T>>(v));
  }
};
struct Not {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const { return static_cast<T>(v == 0 ? 1 : 0); }
};

// Rounding ops are closed on integers; int32 values go through float (exact up to 2^24
// in magnitude).
struct Ceil {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(std::ceil(static_cast<FloatOf<T>>(v)));
  }
};
struct Floor {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(std::floor(static_cast<FloatOf<T>>(v)));
  }
};
struct Round {  // halves away from zero
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(std::round(static_cast<FloatOf<T>>(v)));
  }
};
struct RoundE {  // halves to even
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T v) const {
    return static_cast<T>(std::nearbyint(static_cast<FloatOf<T>>(v)));
  }
};

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
SINGA_PLAIN_BINARY(Add, ArithOf<T>(x) + ArithOf<T>(y))
SINGA_PLAIN_BINARY(Sub, ArithOf<T>(x) - ArithOf<T>(y))
SINGA_PLAIN_BINARY(Mul, ArithOf<T>(x) * ArithOf<T>(y))
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

// Integer division never traps: by 0 it gives 0, and by -1 it negates with wrap-around
// (INT_MIN / -1 overflows in C++).
struct Div {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) return 0;
      if (y == -1) return static_cast<T>(0u - static_cast<uint32_t>(x));
    }
    return x / y;
  }
};

// float pow stays in float so its loop vectorises; the other types go through double.
struct Pow {
  template <typename T>
  SINGA_HD SINGA_INLINE T operator()(T x, T y) const {
    if constexpr (std::is_same_v<T, float>) return std::pow(x, y);
    else return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
};

}  // namespace fn
}  // namespace singa
