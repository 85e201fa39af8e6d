#include "devices/shard.h"

#include <limits>
#include <numeric>

#include <gtest/gtest.h>

namespace tg {
namespace {

using tgrack::v1::DTYPE_F32;
using tgrack::v1::DTYPE_I64;

HostTensor iota_f32(const Shape& shape) {
  HostTensor t(TensorType{DTYPE_F32, shape});
  std::iota(t.values<float>().begin(), t.values<float>().end(), 0.0f);
  return t;
}

std::vector<float> values(const HostTensor& t) {
  return {t.values<float>().begin(), t.values<float>().end()};
}

TEST(Shard, SplitsTheFirstAxisIntoContiguousBlocks) {
  auto parts = split_shards(iota_f32({4, 2}), 0, 2);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].type(), (TensorType{DTYPE_F32, {2, 2}}));
  EXPECT_EQ(values((*parts)[0]), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(values((*parts)[1]), (std::vector<float>{4, 5, 6, 7}));
}

TEST(Shard, NegativeAxisSplitsTheLastAxisColumnWise) {
  auto parts = split_shards(iota_f32({2, 6}), -1, 3);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[1].type(), (TensorType{DTYPE_F32, {2, 2}}));
  EXPECT_EQ(values((*parts)[0]), (std::vector<float>{0, 1, 6, 7}));
  EXPECT_EQ(values((*parts)[1]), (std::vector<float>{2, 3, 8, 9}));
  EXPECT_EQ(values((*parts)[2]), (std::vector<float>{4, 5, 10, 11}));
}

TEST(Shard, JoinInvertsSplitForEveryAxisOfARank3Tensor) {
  const HostTensor whole = iota_f32({4, 6, 2});
  for (int64_t axis : {0, 1, 2, -1, -2, -3}) {
    for (uint32_t n : {1u, 2u}) {
      auto parts = split_shards(whole, axis, n);
      ASSERT_TRUE(parts.ok()) << parts.status();
      auto joined = join_shards(*parts, axis);
      ASSERT_TRUE(joined.ok()) << joined.status();
      EXPECT_EQ(joined->type(), whole.type()) << "axis " << axis << " shards " << n;
      EXPECT_EQ(values(*joined), values(whole)) << "axis " << axis << " shards " << n;
    }
  }
}

TEST(Shard, KeepsEightByteElementsWhole) {
  HostTensor whole(TensorType{DTYPE_I64, {3, 2}});
  for (int i = 0; i < 6; ++i) whole.values<int64_t>()[i] = (int64_t{1} << 40) + i;
  auto parts = split_shards(whole, 1, 2);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ((*parts)[1].values<int64_t>()[2], (int64_t{1} << 40) + 5);
  auto joined = join_shards(*parts, 1);
  ASSERT_TRUE(joined.ok());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(joined->values<int64_t>()[i], whole.values<int64_t>()[i]);
}

TEST(Shard, UnevenSplitIsRejectedNamingTheSizes) {
  auto parts = split_shards(iota_f32({5, 2}), 0, 2);
  ASSERT_EQ(parts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parts.status().message().find("f32[5,2]"), std::string::npos) << parts.status();
  EXPECT_NE(parts.status().message().find("(size 5) into 2 equal shards"), std::string::npos)
      << parts.status();
}

TEST(Shard, BadAxisScalarAndZeroShardsAreRejected) {
  auto out_of_range = split_shards(iota_f32({2, 2}), -3, 2);
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out_of_range.status().message().find("axis -3 is out of range for rank 2"),
            std::string::npos)
      << out_of_range.status();
  EXPECT_EQ(split_shards(iota_f32({2}), 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
  auto scalar = split_shards(iota_f32({}), 0, 1);
  EXPECT_NE(scalar.status().message().find("scalar"), std::string::npos) << scalar.status();
  auto zero = split_shards(iota_f32({4}), 0, 0);
  EXPECT_NE(zero.status().message().find("at least 1"), std::string::npos) << zero.status();
}

TEST(Shard, JoinRejectsMismatchedOrMissingShards) {
  std::vector<HostTensor> parts;
  parts.push_back(iota_f32({2, 2}));
  parts.push_back(iota_f32({2, 3}));
  auto joined = join_shards(parts, 0);
  ASSERT_EQ(joined.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(joined.status().message().find("shard 1 is f32[2,3]"), std::string::npos)
      << joined.status();
  EXPECT_EQ(join_shards({}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Shard, JoinedDimThatWouldOverflowIsRejectedNamingIt) {
  const int64_t half = std::numeric_limits<int64_t>::max() / 2 + 1;
  std::vector<HostTensor> parts;
  parts.push_back(HostTensor(TensorType{DTYPE_F32, {0, half}}));
  parts.push_back(HostTensor(TensorType{DTYPE_F32, {0, half}}));
  auto joined = join_shards(parts, 1);
  ASSERT_EQ(joined.status().code(), absl::StatusCode::kInvalidArgument) << joined.status();
  EXPECT_NE(joined.status().message().find(
                "joined dim 1 of 2 shards of f32[0,4611686018427387904]: 4611686018427387904 * 2 "
                "does not fit"),
            std::string::npos)
      << joined.status();
}

}  // namespace
}  // namespace tg
