#include "devices/dtype.h"

#include <bit>
#include <cmath>
#include <string>

#include <absl/strings/str_cat.h>

namespace tg {

using tgrack::v1::DType;

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: return 4;
    case tgrack::v1::DTYPE_F16: return 2;
    case tgrack::v1::DTYPE_BF16: return 2;
    case tgrack::v1::DTYPE_F64: return 8;
    case tgrack::v1::DTYPE_I32: return 4;
    case tgrack::v1::DTYPE_I64: return 8;
    case tgrack::v1::DTYPE_BOOL: return 1;
    default: return 0;
  }
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: return "f32";
    case tgrack::v1::DTYPE_F16: return "f16";
    case tgrack::v1::DTYPE_BF16: return "bf16";
    case tgrack::v1::DTYPE_F64: return "f64";
    case tgrack::v1::DTYPE_I32: return "i32";
    case tgrack::v1::DTYPE_I64: return "i64";
    case tgrack::v1::DTYPE_BOOL: return "bool";
    default: return "unspecified";
  }
}

absl::StatusOr<DType> parse_dtype(std::string_view name) {
  for (DType d :
       {tgrack::v1::DTYPE_F32, tgrack::v1::DTYPE_F16, tgrack::v1::DTYPE_BF16, tgrack::v1::DTYPE_F64,
        tgrack::v1::DTYPE_I32, tgrack::v1::DTYPE_I64, tgrack::v1::DTYPE_BOOL}) {
    if (dtype_name(d) == name) return d;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", std::string(name),
                   "' (expected one of f32, f16, bf16, f64, i32, i64, bool)"));
}

bool is_floating(DType dtype) {
  return dtype == tgrack::v1::DTYPE_F32 || dtype == tgrack::v1::DTYPE_F16 ||
         dtype == tgrack::v1::DTYPE_BF16 || dtype == tgrack::v1::DTYPE_F64;
}

bool is_integer(DType dtype) {
  return dtype == tgrack::v1::DTYPE_I32 || dtype == tgrack::v1::DTYPE_I64;
}

uint16_t float_to_half(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000);
  const uint32_t abs = f & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >> 13) & 0x3ff);  // NaN stays quiet NaN.
  if (abs >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity.
  if (abs >= 0x38800000) {                      // Normal half (>= 2^-14).
    uint32_t h = (abs - 0x38000000) >> 13;      // Rebias exponent 127 -> 15.
    const uint32_t rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  if (abs <= 0x33000000) return sign;  // <= 2^-25 rounds to zero (the tie goes to even).
  // Subnormal half: the value in units of 2^-24.
  const uint32_t mantissa = (abs & 0x7fffff) | 0x800000;
  const int shift = 126 - static_cast<int>(abs >> 23);
  uint32_t h = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000 | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_bfloat16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((f >> 16) | 0x40);
  const uint32_t rounding = 0x7fff + ((f >> 16) & 1);
  return static_cast<uint16_t>((f + rounding) >> 16);
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

}  // namespace tg
