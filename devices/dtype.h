// Element types: sizes, names, classification and the 16-bit float conversions every backend
// and the collectives share. The dtype enum itself is the wire enum tgrack.v1.DType.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <absl/status/statusor.h>

#include "tgrack/v1/common.pb.h"

namespace tg {

using DType = tgrack::v1::DType;

// Bytes per element; 0 for DTYPE_UNSPECIFIED or an unknown value.
size_t dtype_size(DType dtype);
// Short name: "f32", "f16", "bf16", "f64", "i32", "i64", "bool"; "unspecified" otherwise.
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name; INVALID_ARGUMENT naming the text and the accepted names.
absl::StatusOr<DType> parse_dtype(std::string_view name);
bool is_floating(DType dtype);
bool is_integer(DType dtype);  // i32 and i64 (not bool).

// IEEE binary16 and bfloat16 <-> binary32, rounding to nearest even; NaN stays NaN.
uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);
float bfloat16_to_float(uint16_t bits);

}  // namespace tg
