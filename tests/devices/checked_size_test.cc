// Checked size arithmetic: results that fit are exact; a negative operand or an overflow is
// INVALID_ARGUMENT naming the field and the values.
#include "devices/checked_size.h"

#include <limits>

#include <gtest/gtest.h>

namespace tg {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

void expect_invalid(const absl::Status& status, const std::string& part) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(part), std::string::npos)
      << "message: " << status.message() << "\nwanted: " << part;
}

TEST(CheckedSize, AddAndMultiplyUpToTheLargestSize) {
  EXPECT_EQ(*checked_add(kMax - 1, 1, "f"), kMax);
  EXPECT_EQ(*checked_mul(int64_t{1} << 31, int64_t{1} << 31, "f"), int64_t{1} << 62);
  EXPECT_EQ(*checked_mul(kMax, 0, "f"), 0);
}

TEST(CheckedSize, OverflowAndNegativesNameTheFieldAndValues) {
  expect_invalid(checked_add(kMax, 1, "pad").status(),
                 "pad: 9223372036854775807 + 1 does not fit in a 64-bit size");
  expect_invalid(checked_mul(int64_t{1} << 32, int64_t{1} << 31, "shards").status(),
                 "shards: 4294967296 * 2147483648 does not fit in a 64-bit size");
  expect_invalid(checked_add(-1, 1, "offset").status(), "offset: size -1 is negative");
  expect_invalid(checked_mul(3, -2, "count").status(), "count: size -2 is negative");
}

TEST(CheckedSize, ElementsOfAShape) {
  EXPECT_EQ(*checked_elements({}, "x"), 1);
  EXPECT_EQ(*checked_elements({2, 3, 4}, "x"), 24);
  EXPECT_EQ(*checked_elements({0, kMax}, "x"), 0);
  expect_invalid(checked_elements({2, -3}, "input 'x'").status(),
                 "input 'x': shape [2,-3] has a negative dim -3");
  // Empty, but its strides would still wrap.
  expect_invalid(checked_elements({0, kMax, 2}, "input 'x'").status(),
                 "input 'x': shape [0,9223372036854775807,2] has more elements than a 64-bit "
                 "size holds");
}

TEST(CheckedSize, BytesOfATypeAndOfACount) {
  EXPECT_EQ(*checked_bytes(TensorType{tgrack::v1::DTYPE_F64, {2, 3}}, "t"), 48u);
  const TensorType huge{tgrack::v1::DTYPE_F64, {int64_t{1} << 62}};
  expect_invalid(checked_bytes(huge, "t").status(),
                 "t: f64[4611686018427387904] needs more bytes than 64 bits hold");
  expect_invalid(checked_bytes(TensorType{tgrack::v1::DTYPE_UNSPECIFIED, {1}}, "t").status(),
                 "t: dtype 0 is unspecified or unknown");
  EXPECT_EQ(*checked_bytes(uint64_t{1} << 40, 8, "count"), uint64_t{1} << 43);
  expect_invalid(checked_bytes(uint64_t{1} << 62, 8, "RunCollective count").status(),
                 "RunCollective count: 4611686018427387904 elements of 8 bytes need more bytes "
                 "than 64 bits hold");
}

}  // namespace
}  // namespace tg
