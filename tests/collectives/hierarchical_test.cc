// Hierarchical all-reduce over ranks grouped by rack, in both of its forms: racks of equal
// size take the pipelined form (reduce-scatter inside, rings across racks per position,
// all-gather inside, chunk after chunk), unequal racks the leader form. Buffers large enough
// for several chunks, with counts that split unevenly into chunks, shards and parts; every
// rank must hold the exact sum (and the average) in every element.
#include <cmath>
#include <string>
#include <vector>

#include <absl/strings/str_cat.h>
#include <gtest/gtest.h>

#include "tests/collectives/world.h"

namespace tg::coll {
namespace {

float input(uint32_t rank, size_t i) { return static_cast<float>((rank + 1) * (static_cast<int>(i % 7) - 3)); }

// Runs all-reduce `op` ("hierarchical", in place on odd ranks) over ranks on their own
// daemons, rank r in rack racks[r]; returns the first wrong element each rank saw ("" = none).
std::vector<std::string> run(const std::vector<std::string>& racks, size_t count, tgrack::v1::ReduceOp op) {
  const uint32_t n = racks.size();
  testing::World world(testing::World::spread(n), 20000);
  tgrack::v1::CommunicatorSpec spec = world.spec("hier");
  for (uint32_t r = 0; r < n; ++r) spec.mutable_ranks(r)->set_rack(racks[r]);
  std::vector<std::string> wrong(n);
  auto statuses = world.run(spec, [&](uint32_t rank, Communicator& comm) -> absl::Status {
    std::vector<float> in(count), out(count);
    for (size_t i = 0; i < count; ++i) in[i] = input(rank, i);
    float* dst = rank % 2 ? in.data() : out.data();
    absl::Status s = comm.all_reduce(reinterpret_cast<std::byte*>(dst), reinterpret_cast<std::byte*>(in.data()),
                                     count, tgrack::v1::DTYPE_F32, op, "hierarchical");
    if (!s.ok()) return s;
    for (size_t i = 0; i < count; ++i) {
      float want = 0;
      for (uint32_t r = 0; r < n; ++r) want += input(r, i);
      if (op == tgrack::v1::REDUCE_OP_AVG) want /= static_cast<float>(n);
      if (std::fabs(dst[i] - want) > 1e-5f * std::fabs(want)) {
        wrong[rank] = absl::StrCat("element ", i, " is ", dst[i], ", want ", want);
        break;
      }
    }
    return absl::OkStatus();
  });
  for (uint32_t r = 0; r < n; ++r) {
    if (!statuses[r].ok()) wrong[r] = std::string(statuses[r].message());
  }
  return wrong;
}

// 786,433 floats (3 MiB) over 6 ranks: an odd count, so no chunk divides evenly into shards
// and parts.
constexpr size_t kOddCount = (3 << 20) / 4 + 1;

TEST(HierarchicalAllReduce, PipelinedOverTwoRacksOfThreeSumsEveryElement) {
  for (const std::string& wrong : run({"a", "a", "a", "b", "b", "b"}, kOddCount, tgrack::v1::REDUCE_OP_SUM)) {
    EXPECT_EQ(wrong, "");
  }
}

TEST(HierarchicalAllReduce, PipelinedOverInterleavedRacksAveragesEveryElement) {
  // Racks {0,3}, {1,4}, {2,5}: positions and rack order come from the rank numbers.
  for (const std::string& wrong : run({"a", "b", "c", "a", "b", "c"}, kOddCount, tgrack::v1::REDUCE_OP_AVG)) {
    EXPECT_EQ(wrong, "");
  }
}

TEST(HierarchicalAllReduce, UnequalRacksTakeTheLeaderFormAndSumEveryElement) {
  for (const std::string& wrong : run({"a", "a", "a", "b", "b"}, kOddCount, tgrack::v1::REDUCE_OP_SUM)) {
    EXPECT_EQ(wrong, "");
  }
}

TEST(HierarchicalAllReduce, SmallBuffersTakeTheLeaderFormAndSumEveryElement) {
  for (const std::string& wrong : run({"a", "a", "b", "b"}, 1001, tgrack::v1::REDUCE_OP_SUM)) EXPECT_EQ(wrong, "");
}

}  // namespace
}  // namespace tg::coll
