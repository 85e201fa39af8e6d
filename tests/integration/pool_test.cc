// End-to-end tests: tgcontroller and tgd as real processes on loopback, driven through
// tgctl, the example program and libtgclient.
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/graph_builder.h"
#include "net/grant.h"
#include "pool.h"
#include "test_graphs.h"
#include "net/rpc.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {
namespace {

using tgrack::v1::DTYPE_F32;
using tgrack::v1::NODE_STATE_DOWN;
using tgrack::v1::NODE_STATE_UP;

HostTensor f32(const Shape& shape, const std::vector<float>& values) {
  HostTensor tensor(TensorType{DTYPE_F32, shape});
  std::copy(values.begin(), values.end(), tensor.values<float>().begin());
  return tensor;
}

// relu(matmul(x, w) + b) with x fed at run time; expected values worked out by hand.
tgrack::v1::Graph dense_graph() {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.constant<float>({1, -1, 0.5f, 2, 0, 1, -2, 1, 3, 1, 1, -1}, {3, 4}, "w");
  Value b = g.constant<float>({0.5f, -20, 1, 0}, {4}, "b");
  g.output(relu(matmul(x, w) + b), "y");
  return *g.build();
}
const std::vector<float> kDenseX = {1, 2, 3, -1, 0, 4};
const std::vector<float> kDenseY = {10.5f, 0, 0.5f, 1, 11.5f, 0, 4.5f, 0};

void expect_dense_result(const absl::StatusOr<SubmitResult>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outputs.size(), 1u);
  const HostTensor& y = result->outputs[0];
  ASSERT_EQ(y.type(), (TensorType{DTYPE_F32, {2, 4}}));
  for (size_t i = 0; i < kDenseY.size(); ++i) EXPECT_FLOAT_EQ(y.values<float>()[i], kDenseY[i]) << i;
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }
  Pool pool_;
};

TEST_F(PoolTest, TgctlListsTwoNodesAndFourDevices) {
  Completed nodes = run(pool_.dir(), TGCTL_PATH, {"--controller", pool_.controller_address(), "nodes", "--json"});
  ASSERT_EQ(nodes.exit_status, 0) << nodes.err;
  auto json = nlohmann::json::parse(nodes.out);
  ASSERT_EQ(json["nodes"].size(), 2u);
  int devices = 0;
  for (const auto& node : json["nodes"]) {
    EXPECT_EQ(node["state"], "up");
    EXPECT_EQ(node["pid"], pool_.daemon(node["id"]).pid());
    EXPECT_EQ(node["address"], pool_.daemon_address(node["id"]));
    for (const auto& device : node["devices"]) {
      EXPECT_EQ(device["memory_bytes"], kDeviceMemory);
      EXPECT_EQ(device["kind"], "cpu");
      ++devices;
    }
  }
  EXPECT_EQ(json["nodes"][0]["id"], "node-a");
  EXPECT_EQ(json["nodes"][1]["id"], "node-b");
  EXPECT_EQ(devices, 4);

  // The environment variable stands in for --controller.
  Completed pool = run(pool_.dir(), TGCTL_PATH, {"pool", "--json"}, 20s,
                       {{"TGRACK_CONTROLLER", pool_.controller_address()}});
  ASSERT_EQ(pool.exit_status, 0) << pool.err;
  auto totals = nlohmann::json::parse(pool.out);
  EXPECT_EQ(totals["up_node_count"], 2);
  EXPECT_EQ(totals["down_node_count"], 0);
  EXPECT_EQ(totals["device_count"], 4);
  EXPECT_EQ(totals["memory_bytes"], 4 * kDeviceMemory);

  Completed table = run(pool_.dir(), TGCTL_PATH, {"--controller", pool_.controller_address(), "devices"});
  ASSERT_EQ(table.exit_status, 0) << table.err;
  for (const char* device : {"node-a/0", "node-a/1", "node-b/0", "node-b/1"}) {
    EXPECT_NE(table.out.find(device), std::string::npos) << table.out;
  }
}

TEST_F(PoolTest, EveryTgctlCommandHasHelp) {
  for (const char* command : {"nodes", "devices", "pool"}) {
    Completed help = run(pool_.dir(), TGCTL_PATH, {command, "--help"});
    EXPECT_EQ(help.exit_status, 0) << command << ": " << help.err;
    EXPECT_NE(help.out.find(std::string("tgctl ") + command), std::string::npos) << help.out;
  }
  Completed help = run(pool_.dir(), TGCTL_PATH, {"--help"});
  EXPECT_EQ(help.exit_status, 0) << help.err;
  for (const char* global : {"--controller", "--json", "--version"}) {
    EXPECT_NE(help.out.find(global), std::string::npos) << global << " missing in\n" << help.out;
  }
  Completed unknown = run(pool_.dir(), TGCTL_PATH, {"frobnicate"});
  EXPECT_NE(unknown.exit_status, 0);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
}

TEST_F(PoolTest, TgctlFailsWithOneLineWhenControllerIsUnreachable) {
  Completed result = run(pool_.dir(), TGCTL_PATH, {"--controller", "127.0.0.1:1", "nodes"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("UNAVAILABLE"), std::string::npos) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST_F(PoolTest, GraphRunsWhereAskedAndAnywhere) {
  const auto graph = dense_graph();
  auto placed = pool_.client().submit(graph, {{"x", f32({2, 3}, kDenseX)}}, on_device("node-b", 1));
  expect_dense_result(placed);
  EXPECT_EQ(placed->device.node(), "node-b");
  EXPECT_EQ(placed->device.index(), 1u);
  EXPECT_FALSE(placed->job_id.empty());

  auto anywhere = pool_.client().submit(graph, {{"x", f32({2, 3}, kDenseX)}});
  expect_dense_result(anywhere);
  EXPECT_NE(anywhere->job_id, placed->job_id);

  Completed example = run(pool_.dir(), EXAMPLE_GRAPH_PATH, {"--controller", pool_.controller_address()});
  EXPECT_EQ(example.exit_status, 0) << example.out << example.err;
  EXPECT_NE(example.out.find("result OK"), std::string::npos) << example.out;
}

TEST_F(PoolTest, KilledDaemonIsDownAndUpWhenRestarted) {
  ASSERT_TRUE(pool_.node_is("node-a", NODE_STATE_UP));
  pool_.kill_daemon("node-a");
  ASSERT_TRUE(pool_.wait_for_node("node-a", NODE_STATE_DOWN, 30s));
  EXPECT_TRUE(pool_.node_is("node-b", NODE_STATE_UP));

  auto refused = pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                       on_device("node-a", 0));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("'node-a' is DOWN"), std::string::npos)
      << refused.status();
  // Work without a placement goes to the node still UP.
  auto anywhere = pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}});
  expect_dense_result(anywhere);
  EXPECT_EQ(anywhere->device.node(), "node-b");

  ASSERT_TRUE(pool_.start_daemon("node-a").ok());
  ASSERT_TRUE(pool_.wait_for_node("node-a", NODE_STATE_UP, 30s));
  expect_dense_result(pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                            on_device("node-a", 0)));
}

// A daemon that stops heartbeating (SIGSTOP: alive, silent) is DOWN, gets no work, and is UP
// again as soon as it heartbeats again, without registering anew.
TEST_F(PoolTest, SilentDaemonIsDownUntilItHeartbeatsAgain) {
  ASSERT_TRUE(pool_.node_is("node-a", NODE_STATE_UP));
  const pid_t pid = pool_.daemon("node-a").pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const bool down = pool_.wait_for_node("node-a", NODE_STATE_DOWN, 30s);
  const bool b_up = pool_.node_is("node-b", NODE_STATE_UP);
  auto refused = pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                       on_device("node-a", 0));
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(down) << "node-a never went DOWN while stopped";
  EXPECT_TRUE(b_up);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_NE(refused.status().message().find("'node-a' is DOWN"), std::string::npos)
      << refused.status();

  ASSERT_TRUE(pool_.wait_for_node("node-a", NODE_STATE_UP, 30s));
  EXPECT_EQ(pool_.daemon("node-a").pid(), pid);
  expect_dense_result(pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                            on_device("node-a", 0)));
}

TEST_F(PoolTest, SecondDaemonOnSameDevicesIsRefusedNamingDeviceAndHolder) {
  auto second = pool_.spawn_daemon("intruder", pool_.state_dir("node-a"));
  ASSERT_NE(second, nullptr);
  auto status = second->wait_exit(10s);
  ASSERT_TRUE(status.has_value()) << "second tgd is still running";
  EXPECT_NE(*status, 0);
  const std::string err = second->stderr_text() + second->stdout_text();
  EXPECT_NE(err.find("cpu0"), std::string::npos) << err;
  EXPECT_NE(err.find("pid " + std::to_string(pool_.daemon("node-a").pid())), std::string::npos) << err;
  // The owner is unaffected.
  EXPECT_FALSE(pool_.daemon("node-a").wait_exit(0ms).has_value());
  expect_dense_result(pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                            on_device("node-a", 0)));
}

// The test hold (daemon/test_hold.h) is never on by a flag alone: without TGRACK_TEST_HOOKS=1
// in its environment, tgd refuses --test-hold-dir and exits before touching a device.
TEST_F(PoolTest, TestHoldFlagIsRefusedOutsideTests) {
  ASSERT_EQ(std::getenv("TGRACK_TEST_HOOKS"), nullptr);
  const std::string hold_dir = pool_.dir().file("hold-refused");
  pool_.daemon_args["refused"] = {"--test-hold-dir", hold_dir};
  auto daemon = pool_.spawn_daemon("refused", pool_.state_dir("refused"));
  ASSERT_NE(daemon, nullptr);
  auto status = daemon->wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "tgd with --test-hold-dir is still running";
  EXPECT_EQ(*status, 1);
  const std::string log = daemon->stdout_text() + daemon->stderr_text();
  EXPECT_NE(log.find("--test-hold-dir is for tests only: set TGRACK_TEST_HOOKS=1 in the environment"),
            std::string::npos)
      << log;
  EXPECT_FALSE(std::filesystem::exists(hold_dir));
}

TEST_F(PoolTest, MalformedGraphIsInvalidArgumentNamingNodeAndDaemonKeepsServing) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.input("w", DTYPE_F32, {4, 5});
  g.output(g.input("unused", DTYPE_F32, {1}));
  Value bad = matmul(x, w);
  g.output(bad, "bad_matmul");
  const tgrack::v1::Graph graph = *g.build();

  // Through the controller: refused before placement.
  auto submitted = pool_.client().submit(
      graph, {{"x", f32({2, 3}, std::vector<float>(6))}, {"w", f32({4, 5}, std::vector<float>(20))},
              {"unused", f32({1}, {0})}});
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(submitted.status().message().find("bad_matmul"), std::string::npos) << submitted.status();

  // Straight to the daemon, under a grant: it validates too, and keeps serving afterwards.
  auto stub = tgrack::v1::NodeService::NewStub(make_channel(pool_.daemon_address("node-a")));
  auto signer = GrantSigner::load_or_create(pool_.grant_key_file());
  ASSERT_TRUE(signer.ok()) << signer.status();
  tgrack::v1::Grant grant;
  grant.set_grant_id("g-test");
  grant.set_node("node-a");
  grant.add_device_indices(0);
  grant.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + std::chrono::minutes(1)));
  tgrack::v1::RunFragmentsRequest request;
  request.set_job_id("job-direct");
  tgrack::v1::Fragment* fragment = request.add_fragments();
  fragment->set_device_index(0);
  *fragment->mutable_graph() = graph;
  request.add_runs()->set_device_index(0);
  *request.mutable_grant() = signer->sign(grant);
  tgrack::v1::RunFragmentsReply reply;
  auto context = context_with_deadline(10s);
  absl::Status direct = from_grpc(stub->RunFragments(context.get(), request, &reply));
  EXPECT_EQ(direct.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(direct.message().find("bad_matmul"), std::string::npos) << direct;

  EXPECT_FALSE(pool_.daemon("node-a").wait_exit(0ms).has_value());
  expect_dense_result(pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                            on_device("node-a", 0)));
}

TEST_F(PoolTest, UnknownDeviceOrNodeInPlacementIsAClearError) {
  auto device = pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                      on_device("node-a", 9));
  EXPECT_EQ(device.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(device.status().message().find("node-a/9"), std::string::npos) << device.status();

  tgrack::v1::Placement ghost;
  ghost.set_node("ghost");
  auto node = pool_.client().submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}}, ghost);
  EXPECT_EQ(node.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(node.status().message().find("unknown node 'ghost'"), std::string::npos) << node.status();
}

TEST_F(PoolTest, MissingFeedIsInvalidArgumentNamingTheInput) {
  auto result = pool_.client().submit(dense_graph(), {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("'x'"), std::string::npos) << result.status();
}

TEST_F(PoolTest, DaemonsRegisterAgainWithARestartedControllerAndItsClientsFindIt) {
  const std::string address = pool_.controller_address();
  const int old_controller = pool_.controller().pid();
  // One client across the restart: it holds a connection to the old controller's Submit
  // port; the new controller serves Submit on another port, which the client has to ask for
  // again.
  Client client(address, 10s);
  expect_dense_result(client.submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                    on_device("node-b", 0)));
  pool_.controller().kill(9);
  ASSERT_TRUE(pool_.start_controller(address).ok());
  EXPECT_NE(pool_.controller().pid(), old_controller);
  EXPECT_TRUE(pool_.wait_for_node("node-a", NODE_STATE_UP, 30s));
  EXPECT_TRUE(pool_.wait_for_node("node-b", NODE_STATE_UP, 30s));
  expect_dense_result(client.submit(dense_graph(), {{"x", f32({2, 3}, kDenseX)}},
                                    on_device("node-b", 0)));
}

}  // namespace
}  // namespace tg::testing
