#include "client/remote_tensor.h"

#include <numeric>

#include <gtest/gtest.h>

namespace tg {
namespace {

using tgrack::v1::DTYPE_F32;

HostTensor iota(const Shape& shape, float from) {
  HostTensor t(TensorType{DTYPE_F32, shape});
  std::iota(t.values<float>().begin(), t.values<float>().end(), from);
  return t;
}

RemoteTensor remote(const Shape& shape, int devices, bool replicated, int64_t axis, uint32_t shards) {
  RemoteTensor tensor;
  tensor.set_id("t-1");
  tensor.set_dtype(DTYPE_F32);
  for (int64_t d : shape) tensor.add_shape(d);
  for (int i = 0; i < devices; ++i) {
    tgrack::v1::DeviceRef* device = tensor.mutable_layout()->add_devices();
    device->set_node("node-a");
    device->set_index(i);
  }
  tensor.mutable_layout()->set_replicated(replicated);
  tensor.mutable_layout()->set_axis(axis);
  tensor.mutable_layout()->set_shards(shards);
  return tensor;
}

TEST(RemoteTensor, ShardedPiecesJoinAlongTheLayoutAxisInOrder) {
  // Two devices holding four shards of a [2, 8] tensor along the last axis.
  const RemoteTensor tensor = remote({2, 8}, 2, false, -1, 4);
  EXPECT_EQ(shard_count(tensor), 4u);
  std::vector<HostTensor> pieces;
  for (int i = 0; i < 4; ++i) pieces.push_back(iota({2, 2}, 10.0f * i));
  auto whole = assemble(tensor, std::move(pieces));
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->type(), (TensorType{DTYPE_F32, {2, 8}}));
  const std::vector<float> got(whole->values<float>().begin(), whole->values<float>().end());
  EXPECT_EQ(got, (std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31, 2, 3, 12, 13, 22, 23, 32, 33}));
}

TEST(RemoteTensor, ReplicatedAndSingleDeviceTakeTheFirstPiece) {
  for (const RemoteTensor& tensor : {remote({3}, 2, true, 0, 0), remote({3}, 0, false, 0, 0)}) {
    EXPECT_EQ(shard_count(tensor), 1u);
    std::vector<HostTensor> pieces;
    pieces.push_back(iota({3}, 5));
    auto whole = assemble(tensor, std::move(pieces));
    ASSERT_TRUE(whole.ok()) << whole.status();
    EXPECT_EQ(whole->values<float>()[2], 7.0f);
  }
}

TEST(RemoteTensor, ShardCountZeroMeansOnePerDevice) {
  EXPECT_EQ(shard_count(remote({4}, 2, false, 0, 0)), 2u);
}

TEST(RemoteTensor, PieceOfTheWrongShapeIsDataLossNamingIt) {
  std::vector<HostTensor> pieces;
  pieces.push_back(iota({2}, 0));
  pieces.push_back(iota({3}, 0));
  auto whole = assemble(remote({4}, 2, false, 0, 2), std::move(pieces));
  ASSERT_EQ(whole.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(whole.status().message().find("piece 1 is f32[3], expected f32[2]"), std::string::npos)
      << whole.status();
}

TEST(RemoteTensor, MissingPiecesAreDataLoss) {
  std::vector<HostTensor> pieces;
  pieces.push_back(iota({2}, 0));
  EXPECT_EQ(assemble(remote({4}, 2, false, 0, 2), std::move(pieces)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RemoteTensor, FetchWithoutPiecesIsFailedPrecondition) {
  TensorFetcher fetcher(std::chrono::seconds(1));
  EXPECT_EQ(fetcher.fetch(remote({4}, 0, false, 0, 0)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tg
