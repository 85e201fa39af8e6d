// Elastic communicators across real daemons: four ranks in four tgd processes, kill -9 of
// one; the survivors shrink to a new communicator within the dead-after time plus 2 s, whose
// next all-reduce is correct on three ranks; the restarted daemon grows it back to four,
// correct again. Nothing but the killed daemon restarts.
#include <gtest/gtest.h>

#include "collective_requests.h"
#include "pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

constexpr auto kDeadAfter = 3s;
const std::vector<std::string> kNodes = {"node-a", "node-b", "node-c", "node-d"};

class Elastic : public ::testing::Test {
 protected:
  absl::Status start_four() {
    if (absl::Status s = pool_.start_controller(); !s.ok()) return s;
    for (const std::string& name : kNodes) {
      pool_.daemon_args[name] = {"--collective-stall-after", "1s", "--collective-dead-after", "3s"};
      if (absl::Status s = pool_.start_daemon(name); !s.ok()) return s;
    }
    for (const std::string& name : kNodes) {
      if (!pool_.wait_for_node(name, tgrack::v1::NODE_STATE_UP)) {
        return absl::DeadlineExceededError(name + " never came UP");
      }
    }
    return absl::OkStatus();
  }
  // Runs a checked all-reduce and expects every one of `ranks` ranks right.
  void expect_correct(const Client& client, const std::string& comm_id, int ranks) {
    auto reply = client.run_collective(checked_all_reduce(comm_id));
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->results_size(), ranks);
    for (const auto& r : reply->results()) {
      EXPECT_EQ(r.wrong(), 0u) << "rank " << r.rank();
      EXPECT_GT(r.checked(), 0u) << "rank " << r.rank();
    }
  }
  Pool pool_;
};

TEST_F(Elastic, ShrinkAfterKillThenGrowBack) {
  ASSERT_OK_POOL(start_four());
  Client client(pool_.controller_address(), 60s);
  auto spec = client.create_communicator(first_devices(kNodes));  // Timeout: the daemons' dead-after.
  ASSERT_TRUE(spec.ok()) << spec.status();
  expect_correct(client, spec->comm_id(), 4);

  pool_.kill_daemon("node-d");
  const auto killed = std::chrono::steady_clock::now();
  auto failed = client.run_collective(checked_all_reduce(spec->comm_id()));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("node-d"), std::string::npos) << failed.status();

  auto shrunk = client.shrink_communicator(spec->comm_id());
  const auto took = std::chrono::steady_clock::now() - killed;
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  EXPECT_LE(took, kDeadAfter + 2s) << "shrink took "
                                   << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  ASSERT_EQ(shrunk->removed_size(), 1);
  EXPECT_EQ(shrunk->removed(0).node(), "node-d");
  ASSERT_EQ(shrunk->spec().ranks_size(), 3);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(shrunk->spec().ranks(r).device().node(), kNodes[r]);
  EXPECT_NE(shrunk->spec().comm_id(), spec->comm_id());
  expect_correct(client, shrunk->spec().comm_id(), 3);
  // The old communicator is gone.
  auto old = client.run_collective(checked_all_reduce(spec->comm_id()));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kNotFound) << old.status();

  ASSERT_OK_POOL(pool_.start_daemon("node-d"));
  // The controller knows the new daemon once it lists node-d at the new address (the killed
  // one's entry may still be UP).
  ASSERT_TRUE(wait_until([&] {
    auto nodes = client.nodes();
    if (!nodes.ok()) return false;
    for (const auto& node : *nodes) {
      if (node.name() == "node-d" && node.state() == tgrack::v1::NODE_STATE_UP &&
          node.address() == pool_.daemon_address("node-d")) {
        return true;
      }
    }
    return false;
  }, 30s));
  auto grown = client.grow_communicator(shrunk->spec().comm_id(), first_devices({"node-d"}));
  ASSERT_TRUE(grown.ok()) << grown.status();
  ASSERT_EQ(grown->ranks_size(), 4);
  EXPECT_EQ(grown->ranks(3).device().node(), "node-d");
  expect_correct(client, grown->comm_id(), 4);
}

TEST_F(Elastic, ShrinkRefusesWhenEveryDaemonAnswersAndNamesAStrangerDevice) {
  ASSERT_OK_POOL(pool_.start_default());
  Client client(pool_.controller_address(), 60s);
  std::vector<tgrack::v1::DeviceRef> devices = first_devices({"node-a", "node-a", "node-b"});
  devices[1].set_index(1);
  auto spec = client.create_communicator(devices);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto none = client.shrink_communicator(spec->comm_id());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition) << none.status();
  EXPECT_NE(none.status().message().find("answers"), std::string::npos) << none.status();
  tgrack::v1::DeviceRef stranger;
  stranger.set_node("node-b");
  stranger.set_index(1);
  auto bad = client.shrink_communicator(spec->comm_id(), {stranger});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_NE(bad.status().message().find("node-b/1"), std::string::npos) << bad.status();
  // Removing a named rank works while every daemon answers.
  auto shrunk = client.shrink_communicator(spec->comm_id(), first_devices({"node-b"}));
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  ASSERT_EQ(shrunk->spec().ranks_size(), 2);
  expect_correct(client, shrunk->spec().comm_id(), 2);
}

}  // namespace
}  // namespace tg::testing
