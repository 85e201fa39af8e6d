// Node life cycle through real processes and tgctl: cordoned and draining nodes and their
// devices show as such and count as not usable; a finished drain leaves the node cordoned;
// `tgctl nodes remove` forgets only DOWN nodes; nodes DOWN for longer than the controller's
// --forget-down-after leave the default listing. DOWN is made with SIGSTOP (alive, silent).
#include <csignal>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/graph_builder.h"
#include "pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

using nlohmann::json;
using tgrack::v1::DTYPE_F32;

class NodeLifecycle : public ::testing::Test {
 protected:
  Completed tgctl(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
    args.insert(args.begin(), {"--controller", pool_.controller_address()});
    return run(pool_.dir(), TGCTL_PATH, args, timeout);
  }
  // tgctl ARGS --json, parsed; an empty object when it failed.
  json tgctl_json(std::vector<std::string> args) {
    args.push_back("--json");
    Completed out = tgctl(args);
    if (out.exit_status != 0) return json::object();
    json document = json::parse(out.out, nullptr, false);
    return document.is_discarded() ? json::object() : document;
  }
  // Node `id` as `tgctl nodes [--all] --json` lists it; an empty object when not listed.
  json listed_node(const std::string& id, bool all = false) {
    json nodes = tgctl_json(all ? std::vector<std::string>{"nodes", "--all"}
                                : std::vector<std::string>{"nodes"});
    for (const json& node : nodes.value("nodes", json::array())) {
      if (node.value("id", "") == id) return node;
    }
    return json::object();
  }
  json device(const std::string& id) {
    for (const json& d : tgctl_json({"devices"}).value("devices", json::array())) {
      if (d.value("id", "") == id) return d;
    }
    return json::object();
  }
  Pool pool_;
};

TEST_F(NodeLifecycle, DrainingThenCordonedNodeAndItsDevicesAreNotUsable) {
  pool_.hold_kernels_on("node-a");
  ASSERT_OK_POOL(pool_.start_default());
  absl::StatusOr<SubmitResult> result = absl::UnknownError("not run");
  std::thread job([&] {
    HostTensor x(TensorType{DTYPE_F32, {2, 3}});
    tgrack::v1::Placement placement;
    placement.mutable_device()->set_node("node-a");
    result = pool_.client().submit(held_graph(), {{"x", std::move(x)}}, placement);
  });
  // Held, and known to the controller (the daemon reports jobs clients run directly in its
  // heartbeats), so the drain waits for it.
  const bool held = pool_.wait_held("node-a", "test_hold_job") && wait_until([&] {
    auto running = pool_.client().jobs(/*running_only=*/true);
    return running.ok() && running->size() == 1;
  }, 10s);
  Completed drain;
  std::thread drainer([&] {
    if (held) drain = tgctl({"drain", "node-a", "--deadline", "60s", "--reason", "new fans"}, 90s);
  });
  // While the held job runs, the drain waits and node-a is draining.
  const bool draining =
      held && wait_until([&] { return listed_node("node-a").value("draining", false); }, 30s, 100ms);
  const json pool_while = tgctl_json({"pool"});
  const json a0_while = device("node-a/0"), b0_while = device("node-b/0");
  const std::string table_while = tgctl({"nodes"}).out;
  pool_.release("node-a", "test_hold_job");
  job.join();
  drainer.join();
  ASSERT_TRUE(held) << result.status();
  ASSERT_TRUE(draining) << "node-a never showed as draining";
  EXPECT_EQ(pool_while.value("draining_node_count", -1), 1) << pool_while.dump();
  EXPECT_EQ(pool_while.value("usable_device_count", -1), kDevicesPerDaemon) << pool_while.dump();
  EXPECT_EQ(pool_while.value("device_count", -1), 2 * kDevicesPerDaemon) << pool_while.dump();
  EXPECT_EQ(a0_while.value("usable", true), false) << a0_while.dump();
  EXPECT_EQ(a0_while.value("draining", false), true) << a0_while.dump();
  EXPECT_EQ(b0_while.value("usable", false), true) << b0_while.dump();
  EXPECT_NE(table_while.find("UP,DRAINING (new fans)"), std::string::npos) << table_while;

  // The drain saw its job finish; node-a stays cordoned but no longer draining.
  ASSERT_EQ(drain.exit_status, 0) << drain.err;
  EXPECT_NE(drain.out.find("1 job(s) finished, 0 cancelled"), std::string::npos) << drain.out;
  EXPECT_TRUE(result.ok()) << result.status();
  const json a = listed_node("node-a");
  EXPECT_EQ(a.value("draining", true), false) << a.dump();
  EXPECT_EQ(a.value("cordoned", false), true) << a.dump();
  EXPECT_EQ(a.value("cordon_reason", ""), "new fans") << a.dump();
  EXPECT_EQ(a.value("usable", true), false) << a.dump();
  const json pool_after = tgctl_json({"pool"});
  EXPECT_EQ(pool_after.value("cordoned_node_count", -1), 1) << pool_after.dump();
  EXPECT_EQ(pool_after.value("draining_node_count", -1), 0) << pool_after.dump();
  EXPECT_EQ(pool_after.value("usable_device_count", -1), kDevicesPerDaemon) << pool_after.dump();
  EXPECT_EQ(pool_after.value("memory_bytes", uint64_t{0}), kDevicesPerDaemon * kDeviceMemory);
  EXPECT_NE(tgctl({"devices"}).out.find("UP,CORDONED (new fans)"), std::string::npos);

  ASSERT_EQ(tgctl({"uncordon", "node-a"}).exit_status, 0);
  EXPECT_EQ(tgctl_json({"pool"}).value("usable_device_count", -1), 2 * kDevicesPerDaemon);
  EXPECT_EQ(device("node-a/0").value("usable", false), true);
}

TEST_F(NodeLifecycle, RemoveForgetsOnlyADownNode) {
  ASSERT_OK_POOL(pool_.start_default());
  Completed up = tgctl({"nodes", "remove", "node-b"});
  EXPECT_EQ(up.exit_status, 1);
  EXPECT_NE(up.err.find("FAILED_PRECONDITION"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("node 'node-b' is UP"), std::string::npos) << up.err;
  Completed unknown = tgctl({"nodes", "remove", "node-z"});
  EXPECT_EQ(unknown.exit_status, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("unknown node 'node-z'"), std::string::npos) << unknown.err;
  EXPECT_EQ(listed_node("node-b").value("state", ""), "up");

  const pid_t pid = pool_.daemon("node-b").pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const bool down = pool_.wait_for_node("node-b", tgrack::v1::NODE_STATE_DOWN, 30s);
  Completed removed;
  json all_after;
  if (down) {
    removed = tgctl({"nodes", "remove", "node-b"});
    all_after = tgctl_json({"nodes", "--all"});
  }
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(down) << "node-b never went DOWN while stopped";
  ASSERT_EQ(removed.exit_status, 0) << removed.err;
  EXPECT_EQ(removed.out, "node node-b removed\n");
  ASSERT_EQ(all_after.value("nodes", json::array()).size(), 1u) << all_after.dump();
  EXPECT_EQ(all_after["nodes"][0].value("id", ""), "node-a");

  // The daemon, running again, finds itself forgotten and registers anew.
  EXPECT_TRUE(pool_.wait_for_node("node-b", tgrack::v1::NODE_STATE_UP, 30s));
}

TEST_F(NodeLifecycle, NodesDownLongerThanForgetDownAfterLeaveTheDefaultListing) {
  pool_.controller_args = {"--forget-down-after", "10ms"};
  ASSERT_OK_POOL(pool_.start_default());
  const pid_t pid = pool_.daemon("node-b").pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const bool hidden = wait_until(
      [&] {
        const json listed = tgctl_json({"nodes"}).value("nodes", json::array());
        return listed.size() == 1 && listed[0].value("id", "") == "node-a";
      },
      30s, 100ms);
  const json all = listed_node("node-b", /*all=*/true);
  const json pool_totals = tgctl_json({"pool"});
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(hidden) << "node-b stayed in the default listing";
  EXPECT_EQ(all.value("state", ""), "down") << all.dump();
  EXPECT_EQ(pool_totals.value("down_node_count", -1), 0) << pool_totals.dump();
  EXPECT_EQ(pool_totals.value("up_node_count", -1), 1) << pool_totals.dump();
  EXPECT_FALSE(listed_node("node-a").empty());
}

}  // namespace
}  // namespace tg::testing
