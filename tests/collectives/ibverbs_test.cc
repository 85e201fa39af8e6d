// RDMA transport: runs the all-reduce over ibverbs where an RDMA device exists; skips,
// naming what is missing, where none does (or where the build lacks libibverbs).
#include <gtest/gtest.h>

#include "tests/collectives/world.h"

namespace tg::coll {
namespace {

TEST(IbverbsTest, AllReduceOverRdmaMatchesReference) {
  absl::StatusOr<std::string> device = rdma_available();
  if (!device.ok()) GTEST_SKIP() << "ibverbs transport not exercised: " << device.status().message();
  testing::World world(testing::World::spread(3));
  auto statuses = world.run(world.spec("rdma", "ibverbs"), [](uint32_t rank, Communicator& comm) -> absl::Status {
    if (comm.transports() != "ibverbs") return absl::InternalError("expected ibverbs pairs, got " + comm.transports());
    std::vector<int64_t> data(100003, rank + 1);
    auto* p = reinterpret_cast<std::byte*>(data.data());
    if (auto s = comm.all_reduce(p, p, data.size(), tgrack::v1::DTYPE_I64, tgrack::v1::REDUCE_OP_SUM); !s.ok()) return s;
    for (int64_t v : data) {
      if (v != 6) return absl::InternalError("wrong result");
    }
    return absl::OkStatus();
  });
  for (auto& s : statuses) EXPECT_TRUE(s.ok()) << s;
}

TEST(IbverbsTest, RequestingRdmaWithoutADeviceFailsNamingWhatIsMissing) {
  if (rdma_available().ok()) GTEST_SKIP() << "this host has an RDMA device";
  testing::World world(testing::World::spread(2));
  auto statuses = world.run(world.spec("no-rdma", "ibverbs"), [](uint32_t, Communicator&) { return absl::OkStatus(); });
  for (auto& s : statuses) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find("ibverbs"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace tg::coll
