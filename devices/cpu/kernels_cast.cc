// The cast op: every dtype to every dtype (rules in devices/graph/type_rules.h).
#include <bit>
#include <cmath>
#include <limits>
#include <type_traits>

#include "devices/cpu/element.h"
#include "devices/cpu/kernels.h"
#include "devices/cpu/strided.h"

namespace tg::cpu {
namespace {

namespace v1 = tgrack::v1;

// Rounds to float toward zero, then sets the last bit when inexact ("round to odd"), so that
// a second rounding to f16/bf16 gives the same result as rounding `d` directly.
float to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    uint32_t bits = std::bit_cast<uint32_t>(f);
    if ((bits & 1) == 0) {
      bits = std::fabs(static_cast<double>(f)) > std::fabs(d) ? bits - 1 : bits + 1;
      f = std::bit_cast<float>(bits);
    }
  }
  return f;
}

// The same for an integer, from its exact value: through f64 an i64 would round twice.
float int_to_float_round_odd(int64_t v) {
  const uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  const int width = std::bit_width(magnitude);
  uint64_t kept = magnitude;
  if (width > std::numeric_limits<float>::digits) {
    const int dropped = width - std::numeric_limits<float>::digits;
    kept = magnitude >> dropped << dropped;
    if (kept != magnitude) kept |= uint64_t{1} << dropped;
  }
  const float f = static_cast<float>(kept);  // Exact: at most 24 significant bits.
  return v < 0 ? -f : f;
}

template <class I>
I float_to_int(double x) {
  if (std::isnan(x)) return 0;
  const double t = std::trunc(x);
  constexpr double lowest = static_cast<double>(std::numeric_limits<I>::min());  // -2^(bits-1)
  if (t >= -lowest) return std::numeric_limits<I>::max();
  if (t < lowest) return std::numeric_limits<I>::min();
  return static_cast<I>(t);
}

template <DType From, DType To>
typename Elem<To>::Storage convert(typename Elem<From>::Storage v) {
  using CF = typename Elem<From>::Compute;
  using CT = typename Elem<To>::Compute;
  const CF x = Elem<From>::load(v);
  if constexpr (From == To) {
    return v;
  } else if constexpr (To == v1::DTYPE_BOOL) {
    return Elem<To>::store(x != CF(0));
  } else if constexpr (std::is_floating_point_v<CF> && std::is_integral_v<CT>) {
    return Elem<To>::store(float_to_int<CT>(static_cast<double>(x)));
  } else if constexpr ((To == v1::DTYPE_F16 || To == v1::DTYPE_BF16) &&
                       std::is_integral_v<CF> && !std::is_same_v<CF, bool>) {
    return Elem<To>::store(int_to_float_round_odd(static_cast<int64_t>(x)));
  } else if constexpr (To == v1::DTYPE_F16 || To == v1::DTYPE_BF16) {
    return Elem<To>::store(to_float_round_odd(static_cast<double>(x)));
  } else {
    return Elem<To>::store(static_cast<CT>(x));
  }
}

template <DType From, DType To>
void cast_loop(const std::byte* in, std::byte* out, int64_t count) {
  const auto* x = reinterpret_cast<const typename Elem<From>::Storage*>(in);
  auto* y = reinterpret_cast<typename Elem<To>::Storage*>(out);
  for (int64_t i = 0; i < count; ++i) y[i] = convert<From, To>(x[i]);
}

}  // namespace

void cast_elements(DType from, const std::byte* in, DType to, std::byte* out, int64_t count,
                   ThreadPool* pool) {
  visit_dtype(from, [&]<DType F>() {
    visit_dtype(to, [&]<DType T>() {
      const size_t in_size = dtype_size(from), out_size = dtype_size(to);
      parallel_range(pool, count, [&](int64_t begin, int64_t end) {
        cast_loop<F, T>(in + begin * in_size, out + begin * out_size, end - begin);
      });
    });
  });
}

}  // namespace tg::cpu
