#include "ref_values.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "devices/dtype.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;

struct FloatFormat {
  int precision;  // Significand bits, the implicit one included.
  int min_exponent;  // Exponent of the smallest normal.
  int max_exponent;  // Exponent of the largest finite.
};

FloatFormat format_of(DType dtype) {
  switch (dtype) {
    case v1::DTYPE_F16: return {11, -14, 15};
    case v1::DTYPE_BF16: return {8, -126, 127};
    case v1::DTYPE_F32: return {24, -126, 127};
    default: return {53, -1022, 1023};  // f64
  }
}

}  // namespace

long double max_finite(DType dtype) {
  const FloatFormat f = format_of(dtype);
  return std::ldexp(2.0L - std::ldexp(1.0L, 1 - f.precision), f.max_exponent);
}

long double unit_roundoff(DType dtype) { return std::ldexp(1.0L, -format_of(dtype).precision); }

long double ulp(DType dtype, long double x) {
  const FloatFormat f = format_of(dtype);
  int e = (x == 0 || !std::isfinite(x)) ? f.min_exponent : std::ilogb(x);
  if (e < f.min_exponent) e = f.min_exponent;
  return std::ldexp(1.0L, e - (f.precision - 1));
}

long double round_to_float(DType dtype, long double x) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  const FloatFormat f = format_of(dtype);
  int e = std::ilogb(x);
  if (e < f.min_exponent) e = f.min_exponent;
  // Scaled so that the kept bits are the integer part; nearbyint rounds half to even.
  const long double kept = std::nearbyint(std::ldexp(x, f.precision - 1 - e));
  const long double y = std::ldexp(kept, e - (f.precision - 1));
  if (std::fabs(y) > max_finite(dtype)) return x > 0 ? INFINITY : -INFINITY;
  return y;
}

long double wrap_integer(DType dtype, __int128 x) {
  if (dtype == v1::DTYPE_I32) return static_cast<int32_t>(static_cast<uint32_t>(x));
  return static_cast<int64_t>(static_cast<uint64_t>(x));
}

long double convert(DType from, DType to, long double x) {
  if (from == to) return x;
  if (to == v1::DTYPE_BOOL) return x != 0 ? 1 : 0;  // NaN != 0.
  if (is_floating(to)) return round_to_float(to, x);
  // To an integer.
  if (is_floating(from)) {
    if (std::isnan(x)) return 0;
    const long double t = std::trunc(x);
    const long double lo = to == v1::DTYPE_I32 ? -0x1p31L : -0x1p63L;
    if (t < lo) return lo;
    if (t >= -lo) return -lo - 1;
    return t;
  }
  return wrap_integer(to, static_cast<__int128>(x));
}

std::vector<long double> host_values(const HostTensor& t) {
  std::vector<long double> out(t.elements());
  for (int64_t i = 0; i < t.elements(); ++i) {
    switch (t.dtype()) {
      case v1::DTYPE_F32: out[i] = t.values<float>()[i]; break;
      case v1::DTYPE_F64: out[i] = t.values<double>()[i]; break;
      case v1::DTYPE_F16: out[i] = half_to_float(t.values<uint16_t>()[i]); break;
      case v1::DTYPE_BF16: out[i] = bfloat16_to_float(t.values<uint16_t>()[i]); break;
      case v1::DTYPE_I32: out[i] = t.values<int32_t>()[i]; break;
      case v1::DTYPE_I64: out[i] = t.values<int64_t>()[i]; break;
      default: out[i] = t.values<uint8_t>()[i] != 0 ? 1 : 0; break;
    }
  }
  return out;
}

RefTensor from_host(const HostTensor& t) {
  RefTensor r;
  r.dtype = t.dtype();
  r.shape = t.shape();
  r.value = host_values(t);
  r.exact = r.value;
  for (long double v : r.value) r.magnitude.push_back(std::fabs(v));
  return r;
}

// Values must be representable in `dtype` (the reference's stored values are).
HostTensor to_host(DType dtype, const Shape& shape, const std::vector<long double>& values) {
  HostTensor t(TensorType{dtype, shape});
  for (size_t i = 0; i < values.size(); ++i) {
    const long double v = values[i];
    switch (dtype) {
      case v1::DTYPE_F32: t.values<float>()[i] = static_cast<float>(v); break;
      case v1::DTYPE_F64: t.values<double>()[i] = static_cast<double>(v); break;
      case v1::DTYPE_F16: t.values<uint16_t>()[i] = float_to_half(static_cast<float>(v)); break;
      case v1::DTYPE_BF16:
        t.values<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v));
        break;
      case v1::DTYPE_I32: t.values<int32_t>()[i] = static_cast<int32_t>(v); break;
      case v1::DTYPE_I64: t.values<int64_t>()[i] = static_cast<int64_t>(v); break;
      default: t.values<uint8_t>()[i] = v != 0; break;
    }
  }
  return t;
}

}  // namespace tg::differential
