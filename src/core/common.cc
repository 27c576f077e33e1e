#include "core/common.h"

namespace singa {

size_t SizeOf(DataType dt) {
  switch (dt) {
    case kFloat32: return 4;
    case kFloat16: return 2;
    case kInt: return 4;
    case kChar: return 1;
    case kDouble: return 8;
    case kBFloat16: return 2;
    case kUChar: return 1;
    case kInt64: return 8;
    case kBool: return 1;
  }
  throw TypeError(Msg("unknown dtype code ", static_cast<int>(dt)));
}

const char* DataTypeName(DataType dt) {
  switch (dt) {
    case kFloat32: return "float32";
    case kFloat16: return "float16";
    case kInt: return "int32";
    case kChar: return "int8";
    case kDouble: return "float64";
    case kBFloat16: return "bfloat16";
    case kUChar: return "uint8";
    case kInt64: return "int64";
    case kBool: return "bool";
  }
  return "unknown";
}

DataType ResultDType(DataType a, DataType b) {
  if (a == b) return a;
  if (a == kBool) return b;
  if (b == kBool) return a;
  auto wide_int = [](DataType d) { return d == kInt || d == kInt64 || d == kUChar; };
  if (wide_int(a) && wide_int(b)) return SizeOf(a) >= SizeOf(b) ? a : b;
  return kFloat32;
}

std::string ShapeStr(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

size_t Product(const Shape& s, size_t begin, size_t end) {
  size_t p = 1;
  bool overflow = false;
  for (size_t i = begin; i < s.size() && i < end; ++i) {
    if (s[i] == 0) return 0;  // no elements, however large the other dimensions
    overflow |= __builtin_mul_overflow(p, s[i], &p);
  }
  // A wrapped count would make a tensor whose memory is smaller than its shape says.
  if (overflow) throw ValueError(Msg("shape ", ShapeStr(s), " has 2^64 or more elements"));
  return p;
}

size_t NormalizeAxis(int64_t axis, size_t ndim, const char* fn) {
  int64_t n = static_cast<int64_t>(ndim);
  if (axis < -n || axis >= n || (n == 0 && axis != 0))
    throw IndexError(Msg(fn, ": axis ", axis, " is out of range for a tensor with ", ndim,
                         " dimension(s)"));
  return static_cast<size_t>(axis < 0 ? axis + n : axis);
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff)  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow to inf
  if (exp <= 0) {  // subnormal or zero
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // round to nearest even
  return static_cast<uint16_t>(half);
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // normalise a subnormal half
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      x = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace singa
