// Types and helpers shared by every part of the core: dtypes, shapes, errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/hd.h"

namespace singa {

// Values match Apache SINGA's DataType enum (0/1/2 are the public Python ones; 5 is
// SINGA's kUChar, uint8). kBFloat16, kInt64 and kBool (one byte holding 0 or 1) are ours.
enum DataType {
  kFloat32 = 0, kFloat16 = 1, kInt = 2, kChar = 3, kDouble = 4, kUChar = 5, kBFloat16 = 6,
  kInt64 = 7, kBool = 8
};

// The 16-bit floats are storage types: every kernel computes on them in float32 (or
// float32-accumulating oneDNN primitives) and rounds once when it stores.
inline bool IsHalfFloat(DataType dt) { return dt == kFloat16 || dt == kBFloat16; }
// The dtype a kernel computes in for values of `dt` (float32 for the 16-bit floats).
inline DataType ComputeDType(DataType dt) { return IsHalfFloat(dt) ? kFloat32 : dt; }
inline bool IsIntegral(DataType dt) { return dt == kInt || dt == kChar || dt == kUChar || dt == kInt64; }
// The dtype of an op's result from its operands' dtypes (the promotion rules):
//  - both the same: that dtype;
//  - bool with any other dtype: the other one (bool is below every number, as in NumPy);
//  - two of int32, int64 and uint8: the wider (int32 with int64 is int64, uint8 with int32
//    is int32); int8 with another integer, or any other mix (float16 with float32,
//    float64 with int32, ...): float32, SINGA's rule for mixed dtypes.
DataType ResultDType(DataType a, DataType b);

using Shape = std::vector<size_t>;
using Strides = std::vector<int64_t>;  // in elements, not bytes

// Errors raised to Python: ValueError (shapes, values), TypeError (dtypes),
// IndexError (axes, indices), RuntimeError (devices, everything else).
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct IndexError : std::out_of_range {
  using std::out_of_range::out_of_range;
};
struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

size_t SizeOf(DataType dt);
const char* DataTypeName(DataType dt);
std::string ShapeStr(const Shape& s);
size_t Product(const Shape& s, size_t begin = 0, size_t end = SIZE_MAX);

// Normalises a possibly negative axis against ndim, naming `fn` on error.
size_t NormalizeAxis(int64_t axis, size_t ndim, const char* fn);

// Builds an error message from streamable parts: Msg("Add: shapes ", a, " and ", b).
template <typename... Args>
std::string Msg(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// IEEE half <-> float conversion (storage only; arithmetic runs in float32).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);

// bfloat16 is the top half of a float32: widening is a shift, narrowing rounds to
// nearest even (NaNs stay NaN: their payload is forced non-zero in the kept bits).
// SINGA_HD: the CUDA kernels convert with these very functions (the same bits as the CPU).
SINGA_HD inline float BFloat16ToFloat(uint16_t b) {
  uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
SINGA_HD inline uint16_t FloatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

// Contiguous conversions of n values, vectorised (F16C / AVX-512) where the build allows.
void HalfToFloatN(const uint16_t* src, float* dst, size_t n);
void FloatToHalfN(const float* src, uint16_t* dst, size_t n);
void BFloat16ToFloatN(const uint16_t* src, float* dst, size_t n);
void FloatToBFloat16N(const float* src, uint16_t* dst, size_t n);

}  // namespace singa
