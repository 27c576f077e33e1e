// Types and helpers shared by every part of the core: dtypes, shapes, errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace singa {

// Values match Apache SINGA's DataType enum (0/1/2 are the public Python ones).
enum DataType { kFloat32 = 0, kFloat16 = 1, kInt = 2, kChar = 3, kDouble = 4 };

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

}  // namespace singa
