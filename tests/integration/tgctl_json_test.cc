// tgctl --json, one golden shape per command (json_golden.h): each command runs against a
// real pool with the global flags after the subcommand, and its document must keep the
// shape pinned in golden/COMMAND.json and follow docs/cli-json.md. Also: --version of all
// three programs.
#include <csignal>
#include <thread>

#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "client/session.h"
#include "collective_requests.h"
#include "json_golden.h"
#include "pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

using tgrack::v1::DTYPE_F32;

class TgctlJson : public ::testing::Test {
 protected:
  // tgctl ARGS... --controller ADDRESS --json: global flags after the subcommand.
  Completed tgctl_json(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
    args.insert(args.end(), {"--controller", pool_.controller_address(), "--json"});
    return run(pool_.dir(), TGCTL_PATH, args, timeout);
  }
  void expect_command(const std::string& golden, const std::vector<std::string>& args) {
    Completed out = tgctl_json(args);
    ASSERT_EQ(out.exit_status, 0) << golden << ": " << out.err;
    expect_golden_shape(golden, out.out);
  }
  // Runs a graph and waits until the controller lists it (daemons report the jobs that
  // clients run directly in their heartbeats).
  void ran_a_graph() {
    auto ran = pool_.client().submit(relu_graph("relu"), x_feeds(), on_device("node-b", 1));
    ASSERT_TRUE(ran.ok()) << ran.status();
    ASSERT_TRUE(wait_until([&] {
      auto jobs = pool_.client().jobs(/*running_only=*/false);
      return jobs.ok() && !jobs->empty();
    }, 10s));
  }
  Pool pool_;
};

TEST_F(TgctlJson, Nodes) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("nodes", {"nodes"});
  expect_command("nodes", {"nodes", "--all"});  // The same document, with long-DOWN nodes.
}

TEST_F(TgctlJson, NodesRemove) {
  ASSERT_OK_POOL(pool_.start_default());
  const pid_t pid = pool_.daemon("node-b").pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const bool down = pool_.wait_for_node("node-b", tgrack::v1::NODE_STATE_DOWN, 30s);
  Completed removed;
  if (down) removed = tgctl_json({"nodes", "remove", "node-b"});
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(down) << "node-b never went DOWN while stopped";
  ASSERT_EQ(removed.exit_status, 0) << removed.err;
  expect_golden_shape("nodes_remove", removed.out);
}

TEST_F(TgctlJson, Devices) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("devices", {"devices"});
}

TEST_F(TgctlJson, Pool) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("pool", {"pool"});
}

TEST_F(TgctlJson, Topology) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("topology", {"topology"});
}

TEST_F(TgctlJson, Jobs) {
  ASSERT_OK_POOL(pool_.start_default());
  ran_a_graph();
  expect_command("jobs", {"jobs"});
}

TEST_F(TgctlJson, Cancel) {
  pool_.hold_kernels_on("node-a");
  ASSERT_OK_POOL(pool_.start_default());
  absl::StatusOr<SubmitResult> result = absl::UnknownError("not run");
  std::thread job([&] {
    result = pool_.client().submit(relu_graph("test_hold_job"), x_feeds(), on_device("node-a", 0));
  });
  const bool held = pool_.wait_held("node-a", "test_hold_job");
  auto running = pool_.client().jobs(/*running_only=*/true);
  wait_until([&] {
    running = pool_.client().jobs(/*running_only=*/true);
    return running.ok() && running->size() == 1;
  }, 10s);
  Completed cancelled;
  if (held && running.ok() && running->size() == 1) {
    cancelled = tgctl_json({"cancel", running->front().job_id(), "--reason", "golden test"});
  }
  pool_.release("node-a", "test_hold_job");
  job.join();
  ASSERT_TRUE(held) << "the job never reached its held kernel: " << result.status();
  ASSERT_TRUE(running.ok() && running->size() == 1) << running.status();
  ASSERT_EQ(cancelled.exit_status, 0) << cancelled.err;
  expect_golden_shape("cancel", cancelled.out);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
}

TEST_F(TgctlJson, Sessions) {
  ASSERT_OK_POOL(pool_.start_default());
  auto session = Session::open(pool_.client(), 10s, "golden-test");
  ASSERT_TRUE(session.ok()) << session.status();
  expect_command("sessions", {"sessions"});
}

TEST_F(TgctlJson, Comms) {
  ASSERT_OK_POOL(pool_.start_default());
  auto spec = pool_.client().create_communicator(first_devices({"node-a", "node-b"}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto ran = pool_.client().run_collective(checked_all_reduce(spec->comm_id()));
  ASSERT_TRUE(ran.ok()) << ran.status();
  expect_command("comms", {"comms"});
  expect_command("comms_trace", {"comms", "trace", spec->comm_id()});
  Completed listed = tgctl_json({"comms"});
  const auto doc = nlohmann::json::parse(listed.out, nullptr, false);
  ASSERT_EQ(doc["communicators"].size(), 1u) << listed.out;
  const auto& comm = doc["communicators"][0];
  EXPECT_EQ(comm["id"], spec->comm_id());
  EXPECT_EQ(comm["state"], "idle");
  EXPECT_EQ(comm["device_ids"], nlohmann::json({"node-a/0", "node-b/0"}));
  EXPECT_EQ(comm["last_op"]["collective"], "all_reduce");  // The checked run's final one.
  EXPECT_EQ(comm["last_op"]["state"], "done");
  EXPECT_EQ(comm["last_op"]["size_bytes"], 4096 * 4);
}

TEST_F(TgctlJson, Top) {
  ASSERT_OK_POOL(pool_.start_default());
  ran_a_graph();
  expect_command("top", {"top", "--once"});
}

TEST_F(TgctlJson, CordonUncordonDrainReset) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("cordon", {"cordon", "node-a", "--reason", "golden test"});
  expect_command("uncordon", {"uncordon", "node-a"});
  expect_command("drain", {"drain", "node-b", "--deadline", "10s"});
  expect_command("reset", {"reset", "node-a/0"});
}

TEST_F(TgctlJson, BenchAllreduce) {
  ASSERT_OK_POOL(pool_.start_default());
  expect_command("bench_allreduce", {"bench", "allreduce", "--min", "1K", "--max", "1K",
                                     "--iters", "1", "--warmup", "0", "--check"});
}

// Global flags go before or after the subcommand alike.
TEST_F(TgctlJson, GlobalFlagsWorkBeforeAndAfterTheSubcommand) {
  ASSERT_OK_POOL(pool_.start_default());
  const std::string controller = pool_.controller_address();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--controller", controller, "--json", "pool"},
        std::vector<std::string>{"--json", "pool", "--controller", controller},
        std::vector<std::string>{"pool", "--json", "--controller", controller}}) {
    Completed out = run(pool_.dir(), TGCTL_PATH, args);
    ASSERT_EQ(out.exit_status, 0) << args[0] << " " << args[1] << ": " << out.err;
    const auto document = nlohmann::json::parse(out.out, nullptr, false);
    ASSERT_FALSE(document.is_discarded()) << out.out;
    EXPECT_EQ(document.value("device_count", -1), 2 * kDevicesPerDaemon) << out.out;
  }
  Completed usage = run(pool_.dir(), TGCTL_PATH, {"pool", "--controller"});
  EXPECT_EQ(usage.exit_status, 2) << usage.err;
  EXPECT_NE(usage.err.find("--controller"), std::string::npos) << usage.err;
}

// The three programs agree: --version prints "NAME VERSION" (exit 0); a flag that does not
// exist or lacks its value is a usage error (exit 2) naming the flag.
TEST_F(TgctlJson, TenantsCreateListQuotaRotateAndRevoke) {
  ASSERT_OK_POOL(pool_.start_default());
  Completed created = tgctl_json({"tenants", "create", "team-a", "--quota",
                                  "devices=2,memory=1G,flops=1e12,device-seconds=60,period=1h"});
  ASSERT_EQ(created.exit_status, 0) << created.err;
  expect_golden_shape("tenants_create", created.out);
  const nlohmann::json tenant = nlohmann::json::parse(created.out);
  EXPECT_EQ(tenant["id"], "team-a");
  EXPECT_EQ(tenant["quota"]["device_count"], 2);
  EXPECT_EQ(tenant["quota"]["device_memory_bytes"], uint64_t{1} << 30);
  EXPECT_EQ(tenant["quota"]["period_seconds"], 3600);
  // The token shown once works as team-a's.
  Client team_a(pool_.controller_address(), 10s, tenant["token"].get<std::string>());
  ASSERT_TRUE(team_a.sessions().ok());

  expect_command("tenants_list", {"tenants", "list"});
  expect_command("tenants_quota", {"tenants", "quota", "team-a", "--quota", "devices=3"});
  Completed rotated = tgctl_json({"tenants", "rotate", "team-a"});
  ASSERT_EQ(rotated.exit_status, 0) << rotated.err;
  expect_golden_shape("tenants_rotate", rotated.out);
  EXPECT_EQ(team_a.sessions().status().code(), absl::StatusCode::kUnauthenticated);
  const std::string fresh_id = nlohmann::json::parse(rotated.out)["id"];
  expect_command("tenants_revoke", {"tenants", "revoke", fresh_id});

  Completed bad = tgctl_json({"tenants", "create", "team-b", "--quota", "gpus=2"});
  EXPECT_EQ(bad.exit_status, 1);
  EXPECT_NE(bad.err.find("--quota: 'gpus=2'"), std::string::npos) << bad.err;
}

TEST_F(TgctlJson, Audit) {
  ASSERT_OK_POOL(pool_.start_default());
  Completed cordoned = tgctl_json({"cordon", "node-a", "--reason", "fan swap"});
  ASSERT_EQ(cordoned.exit_status, 0) << cordoned.err;
  Completed out = tgctl_json({"audit"});
  ASSERT_EQ(out.exit_status, 0) << out.err;
  expect_golden_shape("audit", out.out);
  const nlohmann::json audit = nlohmann::json::parse(out.out);
  ASSERT_FALSE(audit["entries"].empty());
  const nlohmann::json& last = audit["entries"].back();
  EXPECT_EQ(last["action"], "cordon");
  EXPECT_EQ(last["target"], "node-a");
  EXPECT_EQ(last["detail"], "fan swap");
  EXPECT_EQ(last["outcome"], "ok");
}

TEST_F(TgctlJson, Usage) {
  ASSERT_OK_POOL(pool_.start_default());
  ran_a_graph();
  // Each job enters the ledger as its daemon reports it.
  ASSERT_TRUE(wait_until([&] {
    Completed out = tgctl_json({"usage"});
    return out.exit_status == 0 && nlohmann::json::parse(out.out)["usage"].size() == 1;
  }, 10s));
  expect_command("usage", {"usage", "--since", "24h", "--by", "device-kind"});
  Completed out = tgctl_json({"usage", "--by", "device-kind"});
  const nlohmann::json usage = nlohmann::json::parse(out.out);
  ASSERT_EQ(usage["usage"].size(), 1u);
  EXPECT_EQ(usage["usage"][0]["tenant_id"], "admin");
  EXPECT_EQ(usage["usage"][0]["key"], "cpu");
  EXPECT_EQ(usage["usage"][0]["job_count"], 1);
}

TEST(Programs, PrintTheirVersionAndExit2OnUnknownOrIncompleteFlags) {
  TempDir dir;
  struct Program {
    std::string name, path;
    std::vector<std::string> valid_args;  // Enough for the program to reach unknown flags.
  };
  for (const Program& program :
       {Program{"tgd", TGD_PATH, {"--controller", "127.0.0.1:1", "--state-dir", dir.file("state")}},
        Program{"tgcontroller", TGCONTROLLER_PATH, {}},
        Program{"tgctl", TGCTL_PATH, {"nodes"}}}) {
    const std::string& name = program.name;
    const std::string& path = program.path;
    Completed version = run(dir, path, {"--version"});
    EXPECT_EQ(version.exit_status, 0) << name << ": " << version.err;
    EXPECT_EQ(version.out, name + " " + TGRACK_VERSION + "\n") << name;

    std::vector<std::string> args = program.valid_args;
    args.push_back("--no-such-flag");
    Completed unknown = run(dir, path, args);
    EXPECT_EQ(unknown.exit_status, 2) << name << ": " << unknown.err;
    EXPECT_NE(unknown.err.find("--no-such-flag"), std::string::npos) << name << ": " << unknown.err;

    Completed incomplete = run(dir, path, {"--controller"});
    EXPECT_EQ(incomplete.exit_status, 2) << name << ": " << incomplete.err;
    EXPECT_NE(incomplete.err.find("--controller"), std::string::npos) << name << ": " << incomplete.err;
  }
}

}  // namespace
}  // namespace tg::testing
