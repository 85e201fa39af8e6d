#include "collectives/reduce.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include <absl/strings/str_cat.h>

#include "devices/dtype.h"

namespace tg::coll {
namespace {

using tgrack::v1::ReduceOp;

// Max and min propagate NaN from either side, as the max/min ops and reductions do.
template <typename T, ReduceOp Op>
inline T combine(T a, T b) {
  if constexpr (Op == tgrack::v1::REDUCE_OP_MIN || Op == tgrack::v1::REDUCE_OP_MAX) {
    if constexpr (std::is_floating_point_v<T>) {
      if (a != a) return a;
      if (b != b) return b;
    }
  }
  if constexpr (Op == tgrack::v1::REDUCE_OP_PROD) return a * b;
  else if constexpr (Op == tgrack::v1::REDUCE_OP_MIN) return b < a ? b : a;
  else if constexpr (Op == tgrack::v1::REDUCE_OP_MAX) return a < b ? b : a;
  else return a + b;  // SUM and AVG.
}

// Integers wrap on overflow like the hardware does, without signed-overflow UB.
template <typename T, ReduceOp Op>
inline T combine_int(T a, T b) {
  using U = std::make_unsigned_t<T>;
  if constexpr (Op == tgrack::v1::REDUCE_OP_PROD) return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  else if constexpr (Op == tgrack::v1::REDUCE_OP_SUM || Op == tgrack::v1::REDUCE_OP_AVG)
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  else return combine<T, Op>(a, b);
}

template <typename T, ReduceOp Op>
void reduce_native(std::byte* dst, const std::byte* a, const std::byte* b, size_t n) {
  T* d = reinterpret_cast<T*>(dst);
  const T* x = reinterpret_cast<const T*>(a);
  const T* y = reinterpret_cast<const T*>(b);
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_integral_v<T>) d[i] = combine_int<T, Op>(x[i], y[i]);
    else d[i] = combine<T, Op>(x[i], y[i]);
  }
}

inline float bf16_load(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <ReduceOp Op>
void reduce_bf16(std::byte* dst, const std::byte* a, const std::byte* b, size_t n) {
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  const uint16_t* x = reinterpret_cast<const uint16_t*>(a);
  const uint16_t* y = reinterpret_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; ++i) {
    d[i] = float_to_bfloat16(combine<float, Op>(bf16_load(x[i]), bf16_load(y[i])));
  }
}

template <ReduceOp Op>
void reduce_f16_portable(std::byte* dst, const std::byte* a, const std::byte* b, size_t n) {
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  const uint16_t* x = reinterpret_cast<const uint16_t*>(a);
  const uint16_t* y = reinterpret_cast<const uint16_t*>(b);
  for (size_t i = 0; i < n; ++i) {
    d[i] = float_to_half(combine<float, Op>(half_to_float(x[i]), half_to_float(y[i])));
  }
}

// F16C converts 8 halves at a time with round-to-nearest-even, matching float_to_half.
template <ReduceOp Op>
__attribute__((target("avx,f16c"))) void reduce_f16_f16c(std::byte* dst, const std::byte* a,
                                                          const std::byte* b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    __m256 y = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * i)));
    __m256 r;
    if constexpr (Op == tgrack::v1::REDUCE_OP_PROD) r = _mm256_mul_ps(x, y);
    else if constexpr (Op == tgrack::v1::REDUCE_OP_MIN || Op == tgrack::v1::REDUCE_OP_MAX) {
      // vminps/vmaxps return the second operand when either is NaN; lanes with a NaN take
      // x + y instead, which is NaN.
      r = Op == tgrack::v1::REDUCE_OP_MIN ? _mm256_min_ps(y, x) : _mm256_max_ps(y, x);
      r = _mm256_blendv_ps(r, _mm256_add_ps(x, y), _mm256_cmp_ps(x, y, _CMP_UNORD_Q));
    } else {
      r = _mm256_add_ps(x, y);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i),
                     _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
  }
  reduce_f16_portable<Op>(dst + 2 * i, a + 2 * i, b + 2 * i, n - i);
}

// F16C from CPUID leaf 1: clang 14's __builtin_cpu_supports does not know "f16c".
inline bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __builtin_cpu_supports("avx") && __get_cpuid(1, &eax, &ebx, &ecx, &edx) &&
         (ecx & bit_F16C) != 0;
}

template <ReduceOp Op>
ReduceFn reduce_f16() {
  static const bool f16c = cpu_has_f16c();
  return f16c ? &reduce_f16_f16c<Op> : &reduce_f16_portable<Op>;
}

template <typename T>
void finalize_native(std::byte* data, size_t n, uint32_t world) {
  T* d = reinterpret_cast<T*>(data);
  const T w = static_cast<T>(world);
  for (size_t i = 0; i < n; ++i) d[i] = d[i] / w;
}

void finalize_bf16(std::byte* data, size_t n, uint32_t world) {
  uint16_t* d = reinterpret_cast<uint16_t*>(data);
  for (size_t i = 0; i < n; ++i) d[i] = float_to_bfloat16(bf16_load(d[i]) / static_cast<float>(world));
}

void finalize_f16(std::byte* data, size_t n, uint32_t world) {
  uint16_t* d = reinterpret_cast<uint16_t*>(data);
  for (size_t i = 0; i < n; ++i) d[i] = float_to_half(half_to_float(d[i]) / static_cast<float>(world));
}

template <ReduceOp Op>
ReduceFn pick(tgrack::v1::DType dtype) {
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: return &reduce_native<float, Op>;
    case tgrack::v1::DTYPE_F64: return &reduce_native<double, Op>;
    case tgrack::v1::DTYPE_I32: return &reduce_native<int32_t, Op>;
    case tgrack::v1::DTYPE_I64: return &reduce_native<int64_t, Op>;
    case tgrack::v1::DTYPE_BF16: return &reduce_bf16<Op>;
    case tgrack::v1::DTYPE_F16: return reduce_f16<Op>();
    default: return nullptr;
  }
}

FinalizeFn pick_finalize(tgrack::v1::DType dtype) {
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: return &finalize_native<float>;
    case tgrack::v1::DTYPE_F64: return &finalize_native<double>;
    case tgrack::v1::DTYPE_I32: return &finalize_native<int32_t>;
    case tgrack::v1::DTYPE_I64: return &finalize_native<int64_t>;
    case tgrack::v1::DTYPE_BF16: return &finalize_bf16;
    case tgrack::v1::DTYPE_F16: return &finalize_f16;
    default: return nullptr;
  }
}

}  // namespace

absl::StatusOr<Reducer> make_reducer(tgrack::v1::DType dtype, tgrack::v1::ReduceOp op) {
  Reducer r;
  r.dtype = dtype;
  r.op = op;
  r.elem_size = dtype_size(dtype);
  switch (op) {
    case tgrack::v1::REDUCE_OP_SUM: r.fn = pick<tgrack::v1::REDUCE_OP_SUM>(dtype); break;
    case tgrack::v1::REDUCE_OP_PROD: r.fn = pick<tgrack::v1::REDUCE_OP_PROD>(dtype); break;
    case tgrack::v1::REDUCE_OP_MIN: r.fn = pick<tgrack::v1::REDUCE_OP_MIN>(dtype); break;
    case tgrack::v1::REDUCE_OP_MAX: r.fn = pick<tgrack::v1::REDUCE_OP_MAX>(dtype); break;
    case tgrack::v1::REDUCE_OP_AVG:
      r.fn = pick<tgrack::v1::REDUCE_OP_AVG>(dtype);
      r.finalize = pick_finalize(dtype);
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported reduce op ", static_cast<int>(op), "; expected sum, prod, min, max or avg"));
  }
  if (r.fn == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype ", std::string(dtype_name(dtype)), " cannot be reduced; expected f32, f64, f16, bf16, i32 or i64"));
  }
  return r;
}

const char* reduce_op_name(tgrack::v1::ReduceOp op) {
  switch (op) {
    case tgrack::v1::REDUCE_OP_SUM: return "sum";
    case tgrack::v1::REDUCE_OP_PROD: return "prod";
    case tgrack::v1::REDUCE_OP_MIN: return "min";
    case tgrack::v1::REDUCE_OP_MAX: return "max";
    case tgrack::v1::REDUCE_OP_AVG: return "avg";
    default: return "none";
  }
}

absl::StatusOr<tgrack::v1::ReduceOp> parse_reduce_op(const std::string& name) {
  for (auto op : {tgrack::v1::REDUCE_OP_SUM, tgrack::v1::REDUCE_OP_PROD, tgrack::v1::REDUCE_OP_MIN,
                  tgrack::v1::REDUCE_OP_MAX, tgrack::v1::REDUCE_OP_AVG}) {
    if (name == reduce_op_name(op)) return op;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown reduce op '", name, "'; expected sum, prod, min, max or avg"));
}

}  // namespace tg::coll
