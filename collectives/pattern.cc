#include "collectives/pattern.h"

#include <cmath>
#include <cstring>

#include "devices/dtype.h"

namespace tg::coll {

double pattern_value(tgrack::v1::ReduceOp op, uint32_t rank, uint64_t i) {
  if (op == tgrack::v1::REDUCE_OP_PROD) return 1 + static_cast<double>((rank + i) % 2);
  return 1 + static_cast<double>((rank * 3 + i) % 7);
}

double pattern_reduced(tgrack::v1::ReduceOp op, uint32_t world, uint64_t i) {
  double acc = pattern_value(op, 0, i);
  for (uint32_t r = 1; r < world; ++r) {
    const double v = pattern_value(op, r, i);
    switch (op) {
      case tgrack::v1::REDUCE_OP_PROD: acc *= v; break;
      case tgrack::v1::REDUCE_OP_MIN: acc = std::min(acc, v); break;
      case tgrack::v1::REDUCE_OP_MAX: acc = std::max(acc, v); break;
      default: acc += v; break;
    }
  }
  return op == tgrack::v1::REDUCE_OP_AVG ? acc / world : acc;
}

void store_value(tgrack::v1::DType dtype, std::byte* data, uint64_t i, double value) {
  switch (dtype) {
    case tgrack::v1::DTYPE_F32: reinterpret_cast<float*>(data)[i] = static_cast<float>(value); break;
    case tgrack::v1::DTYPE_F64: reinterpret_cast<double*>(data)[i] = value; break;
    case tgrack::v1::DTYPE_I32: reinterpret_cast<int32_t*>(data)[i] = static_cast<int32_t>(value); break;
    case tgrack::v1::DTYPE_I64: reinterpret_cast<int64_t*>(data)[i] = static_cast<int64_t>(value); break;
    case tgrack::v1::DTYPE_F16:
      reinterpret_cast<uint16_t*>(data)[i] = float_to_half(static_cast<float>(value));
      break;
    case tgrack::v1::DTYPE_BF16:
      reinterpret_cast<uint16_t*>(data)[i] = float_to_bfloat16(static_cast<float>(value));
      break;
    default: break;
  }
}

bool holds_value(tgrack::v1::DType dtype, const std::byte* data, uint64_t i, double value) {
  const size_t es = dtype_size(dtype);
  std::byte want[8] = {};
  // Integer AVG truncates; float AVG divides in the dtype's own precision (f32 for 16-bit).
  if (dtype == tgrack::v1::DTYPE_I32 || dtype == tgrack::v1::DTYPE_I64) value = std::trunc(value);
  store_value(dtype, want, 0, value);
  return std::memcmp(want, data + i * es, es) == 0;
}

}  // namespace tg::coll
