// The reduction kernels alone: max and min keep a NaN from either operand, in every float
// dtype and on both the vector (f16 with F16C, 8 lanes) and the scalar tail paths.
#include "collectives/reduce.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devices/dtype.h"

namespace tg::coll {
namespace {

namespace v1 = tgrack::v1;

std::vector<std::byte> encode(v1::DType dtype, const std::vector<float>& values) {
  std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    std::byte* p = bytes.data() + i * dtype_size(dtype);
    if (dtype == v1::DTYPE_F32) {
      std::memcpy(p, &values[i], 4);
    } else if (dtype == v1::DTYPE_F64) {
      const double d = values[i];
      std::memcpy(p, &d, 8);
    } else {
      const uint16_t h =
          dtype == v1::DTYPE_F16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
      std::memcpy(p, &h, 2);
    }
  }
  return bytes;
}

float decode(v1::DType dtype, const std::byte* p) {
  if (dtype == v1::DTYPE_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (dtype == v1::DTYPE_F64) {
    double d;
    std::memcpy(&d, p, 8);
    return static_cast<float>(d);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == v1::DTYPE_F16 ? half_to_float(h) : bfloat16_to_float(h);
}

TEST(Reducer, MaxAndMinPropagateNanFromEitherSide) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // 11 elements: 8 take the f16 vector path, 3 the scalar tail. NaN sits on the left in
  // even positions, on the right in odd ones, and on both in the last.
  std::vector<float> left, right;
  for (int i = 0; i < 11; ++i) {
    left.push_back(i % 2 == 0 ? nan : 1.0f);
    right.push_back(i % 2 == 0 ? 2.0f : nan);
  }
  left.back() = right.back() = nan;
  for (v1::DType dtype : {v1::DTYPE_F32, v1::DTYPE_F64, v1::DTYPE_F16, v1::DTYPE_BF16}) {
    for (v1::ReduceOp op : {v1::REDUCE_OP_MAX, v1::REDUCE_OP_MIN}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + reduce_op_name(op));
      auto reducer = make_reducer(dtype, op);
      ASSERT_TRUE(reducer.ok()) << reducer.status();
      const std::vector<std::byte> a = encode(dtype, left), b = encode(dtype, right);
      std::vector<std::byte> out(a.size());
      (*reducer)(out.data(), a.data(), b.data(), left.size());
      for (size_t i = 0; i < left.size(); ++i) {
        EXPECT_TRUE(std::isnan(decode(dtype, out.data() + i * dtype_size(dtype)))) << i;
      }
      // Without NaN it is still max/min.
      const std::vector<std::byte> x = encode(dtype, {1, -3, 0.5}), y = encode(dtype, {2, -4, 0.25});
      (*reducer)(out.data(), x.data(), y.data(), 3);
      const size_t e = dtype_size(dtype);
      const bool max = op == v1::REDUCE_OP_MAX;
      EXPECT_EQ(decode(dtype, out.data()), max ? 2.0f : 1.0f);
      EXPECT_EQ(decode(dtype, out.data() + e), max ? -3.0f : -4.0f);
      EXPECT_EQ(decode(dtype, out.data() + 2 * e), max ? 0.5f : 0.25f);
    }
  }
}

}  // namespace
}  // namespace tg::coll
