// Compile-time element traits for host kernels: how each dtype is stored and the type it is
// computed in (f16/bf16 in float), plus dispatch from a run-time dtype to a template.
#pragma once

#include <cstdint>
#include <utility>

#include "devices/dtype.h"

namespace tg::cpu {

template <DType D>
struct Elem;

template <>
struct Elem<tgrack::v1::DTYPE_F32> {
  using Storage = float;
  using Compute = float;
  static float load(float v) { return v; }
  static float store(float v) { return v; }
};
template <>
struct Elem<tgrack::v1::DTYPE_F64> {
  using Storage = double;
  using Compute = double;
  static double load(double v) { return v; }
  static double store(double v) { return v; }
};
template <>
struct Elem<tgrack::v1::DTYPE_F16> {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return half_to_float(v); }
  static uint16_t store(float v) { return float_to_half(v); }
};
template <>
struct Elem<tgrack::v1::DTYPE_BF16> {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return bfloat16_to_float(v); }
  static uint16_t store(float v) { return float_to_bfloat16(v); }
};
template <>
struct Elem<tgrack::v1::DTYPE_I32> {
  using Storage = int32_t;
  using Compute = int32_t;
  static int32_t load(int32_t v) { return v; }
  static int32_t store(int32_t v) { return v; }
};
template <>
struct Elem<tgrack::v1::DTYPE_I64> {
  using Storage = int64_t;
  using Compute = int64_t;
  static int64_t load(int64_t v) { return v; }
  static int64_t store(int64_t v) { return v; }
};
template <>
struct Elem<tgrack::v1::DTYPE_BOOL> {
  using Storage = uint8_t;
  using Compute = bool;
  static bool load(uint8_t v) { return v != 0; }
  static uint8_t store(bool v) { return v ? 1 : 0; }
};

// Calls fn.template operator()<D>() for the run-time dtype `d` (which must be valid).
template <class Fn>
decltype(auto) visit_dtype(DType d, Fn&& fn) {
  switch (d) {
    case tgrack::v1::DTYPE_F32: return fn.template operator()<tgrack::v1::DTYPE_F32>();
    case tgrack::v1::DTYPE_F64: return fn.template operator()<tgrack::v1::DTYPE_F64>();
    case tgrack::v1::DTYPE_F16: return fn.template operator()<tgrack::v1::DTYPE_F16>();
    case tgrack::v1::DTYPE_BF16: return fn.template operator()<tgrack::v1::DTYPE_BF16>();
    case tgrack::v1::DTYPE_I32: return fn.template operator()<tgrack::v1::DTYPE_I32>();
    case tgrack::v1::DTYPE_I64: return fn.template operator()<tgrack::v1::DTYPE_I64>();
    default: return fn.template operator()<tgrack::v1::DTYPE_BOOL>();
  }
}

}  // namespace tg::cpu
