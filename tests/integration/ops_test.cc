// Operations end to end with real processes: metrics scraped by a real Prometheus, health
// probes and their children, cordon and drain, warm and hive reset, and tgctl top.
#include <dirent.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/graph_builder.h"
#include "pool.h"
#include "test_graphs.h"
#include "tests/ops/exposition.h"
#include "tests/ops/http_get.h"

namespace tg::testing {
namespace {

using nlohmann::json;
using tgrack::v1::DTYPE_F32;

// relu(matmul(x, w) + b) with x fed at run time; y worked out by hand.
tgrack::v1::Graph dense_graph() {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.constant<float>({1, -1, 0.5f, 2, 0, 1, -2, 1, 3, 1, 1, -1}, {3, 4}, "w");
  Value b = g.constant<float>({0.5f, -20, 1, 0}, {4}, "b");
  g.output(relu(matmul(x, w) + b), "y");
  return *g.build();
}
const std::vector<float> kDenseY = {10.5f, 0, 0.5f, 1, 11.5f, 0, 4.5f, 0};

tgrack::v1::Placement on_node(const std::string& node) {
  tgrack::v1::Placement placement;
  placement.set_node(node);
  return placement;
}

void expect_dense(const absl::StatusOr<SubmitResult>& result) {
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outputs.size(), 1u);
  for (size_t i = 0; i < kDenseY.size(); ++i) {
    EXPECT_FLOAT_EQ(result->outputs[0].values<float>()[i], kDenseY[i]) << i;
  }
}

class OpsTest : public ::testing::Test {
 protected:
  Completed tgctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> all = {"--controller", pool_.controller_address()};
    all.insert(all.end(), args.begin(), args.end());
    return run(pool_.dir(), TGCTL_PATH, all, timeout);
  }
  json devices_json() {
    Completed out = tgctl({"devices", "--json"});
    if (out.exit_status != 0) return json::object();
    return json::parse(out.out, nullptr, false);
  }
  // The device `name` ("node-a/0") as tgctl devices --json shows it.
  json device(const std::string& name) {
    json all = devices_json();
    if (all.is_discarded() || !all.contains("devices")) return json::object();
    for (const json& d : all["devices"]) {
      if (d.value("id", "") == name) return d;
    }
    return json::object();
  }
  Pool pool_;
};

// ---- Prometheus ------------------------------------------------------------------------

std::string find_prometheus() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    const std::string path = std::string(dir) + "/prometheus";
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

TEST_F(OpsTest, PrometheusScrapesDeviceCollectiveAndControllerMetricsFromRealProcesses) {
  const std::string prometheus = find_prometheus();
  if (prometheus.empty()) GTEST_SKIP() << "prometheus binary missing (Debian package prometheus)";
  pool_.controller_args = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                           pool_.dir().file("controller.metrics")};
  for (const char* name : {"node-a", "node-b"}) {
    pool_.daemon_args[name] = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                               pool_.dir().file(std::string(name) + ".metrics")};
  }
  ASSERT_TRUE(pool_.start_default().ok());
  auto controller_metrics = read_port_file(pool_.dir().file("controller.metrics"), pool_.controller());
  auto a_metrics = read_port_file(pool_.dir().file("node-a.metrics"), pool_.daemon("node-a"));
  auto b_metrics = read_port_file(pool_.dir().file("node-b.metrics"), pool_.daemon("node-b"));
  ASSERT_TRUE(controller_metrics.ok() && a_metrics.ok() && b_metrics.ok());

  const std::string config = pool_.dir().file("prometheus.yml");
  std::ofstream(config) << "global: {scrape_interval: 1s}\nscrape_configs:\n"
                        << "  - job_name: tgd\n    static_configs: [{targets: ['" << *a_metrics
                        << "', '" << *b_metrics << "']}]\n"
                        << "  - job_name: tgcontroller\n    static_configs: [{targets: ['"
                        << *controller_metrics << "']}]\n";
  const int port = free_port();
  auto server = Process::spawn(
      prometheus,
      {"--web.listen-address=127.0.0.1:" + std::to_string(port),
       "--storage.tsdb.path=" + pool_.dir().file("tsdb"), "--config.file=" + config,
       "--log.level=warn"},
      pool_.dir().file("prometheus.out"), pool_.dir().file("prometheus.err"));
  ASSERT_TRUE(server.ok()) << server.status();

  // Workload: a graph on node-a/0 and a checked 1 MiB all-reduce over all four devices.
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 0)));
  Completed bench = tgctl({"bench", "allreduce", "--devices", "all", "--min", "1M", "--max", "1M",
                           "--check"},
                          60s);
  ASSERT_EQ(bench.exit_status, 0) << bench.out << bench.err;

  const auto query = [&](const std::string& promql, size_t want) {
    json result = json::array();
    wait_until(
        [&] {
          auto body = http_get(port, "/api/v1/query?query=" + url_encode(promql));
          if (!body.ok()) return false;
          json reply = json::parse(*body, nullptr, false);
          if (reply.is_discarded() || reply.value("status", "") != "success") return false;
          result = reply["data"]["result"];
          return result.size() >= want;
        },
        60s, 250ms);
    return result;
  };
  const auto value = [](const json& series) {
    return std::stod(series["value"][1].get<std::string>());
  };

  const json total = query("tgrack_device_memory_total_bytes{job=\"tgd\"}", 4);
  ASSERT_EQ(total.size(), 4u) << total.dump() << server.value()->stderr_text();
  std::set<std::string> seen;
  for (const json& s : total) {
    seen.insert(s["metric"]["host"].get<std::string>() + "/" + s["metric"]["device"].get<std::string>());
    EXPECT_EQ(value(s), static_cast<double>(kDeviceMemory));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"node-a/0", "node-a/1", "node-b/0", "node-b/1"}));

  const json healthy = query("tgrack_device_healthy{job=\"tgd\"} == 1", 4);
  EXPECT_EQ(healthy.size(), 4u) << healthy.dump();

  const json matmul = query(
      "tgrack_kernel_duration_seconds_count{host=\"node-a\",device=\"0\",op=\"matmul\"}", 1);
  ASSERT_EQ(matmul.size(), 1u) << matmul.dump();
  EXPECT_EQ(value(matmul[0]), 1);
  const json copied = query("tgrack_device_copied_bytes_total{host=\"node-a\",device=\"0\"}", 1);
  ASSERT_EQ(copied.size(), 1u);
  EXPECT_GE(value(copied[0]), 24.0 + 32.0);  // x in, y out at least.
  const json idle = query("tgrack_kernel_duration_seconds_count{host=\"node-b\"}", 0);
  EXPECT_TRUE(idle.empty()) << idle.dump();

  // Each daemon ran its two ranks of the 1 MiB all-reduce.
  const json coll = query("tgrack_collective_bytes_total{kind=\"all_reduce\"}", 2);
  ASSERT_EQ(coll.size(), 2u) << coll.dump();
  for (const json& s : coll) EXPECT_GE(value(s), double(1 << 20)) << s.dump();
  const json busbw = query("tgrack_collective_busbw_bytes_per_second_count{kind=\"all_reduce\"}", 2);
  EXPECT_EQ(busbw.size(), 2u) << busbw.dump();

  const json nodes = query("tgrack_nodes{job=\"tgcontroller\",state=\"up\"} == 2", 1);
  ASSERT_EQ(nodes.size(), 1u) << nodes.dump();
  const json jobs = query("tgrack_jobs_total{job=\"tgcontroller\",reason=\"OK\"}", 1);
  ASSERT_EQ(jobs.size(), 1u) << jobs.dump();
  EXPECT_EQ(value(jobs[0]), 1);
  server.value()->kill(15);
}

// ---- Collectives ------------------------------------------------------------------------

// --check compares every element of every rank's result: four ranks, `count` each. (That
// wrong elements fail the command is bench_check_test's.)
TEST_F(OpsTest, BenchCheckComparesEveryElementOfEveryRank) {
  ASSERT_TRUE(pool_.start_default().ok());
  Completed bench = tgctl({"bench", "allreduce", "--devices", "all", "--min", "4K", "--max", "16K",
                           "--iters", "2", "--warmup", "1", "--check", "--json"},
                          60s);
  ASSERT_EQ(bench.exit_status, 0) << bench.out << bench.err;
  const json out = json::parse(bench.out, nullptr, false);
  ASSERT_FALSE(out.is_discarded()) << bench.out;
  EXPECT_EQ(out["rank_count"], 4);
  ASSERT_EQ(out["results"].size(), 2u) << bench.out;
  for (const json& row : out["results"]) {
    EXPECT_EQ(row["wrong_count"], 0) << row.dump();
    EXPECT_EQ(row["checked_count"], 4 * row["element_count"].get<uint64_t>()) << row.dump();
  }
}

// ---- Health and no orphans ---------------------------------------------------------------

// Processes whose parent is `pid`.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> result;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) result.push_back(std::stoi(name));
  }
  return result;
}

// Processes whose command line (arguments joined by spaces) starts with `prefix`.
std::vector<pid_t> running_with(const std::string& prefix) {
  std::vector<pid_t> result;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.rfind(prefix, 0) == 0) result.push_back(std::stoi(name));
  }
  return result;
}

// A graph edge between devices on two daemons is a transfer from one daemon to the other,
// counted (bytes, bandwidth) on the sending daemon under the receiving device.
TEST_F(OpsTest, TransfersBetweenDaemonsAreCountedOnTheSender) {
  pool_.daemon_args["node-a"] = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                                 pool_.dir().file("node-a.metrics")};
  ASSERT_TRUE(pool_.start_default().ok());
  auto metrics = read_port_file(pool_.dir().file("node-a.metrics"), pool_.daemon("node-a"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  GraphBuilder g;
  Value x = g.input("x", tgrack::v1::DTYPE_F32, {1024});
  g.output(relu(x + x), "y");
  tgrack::v1::Graph graph = *g.build();
  for (tgrack::v1::Node& node : *graph.mutable_nodes()) {
    auto* device = node.mutable_placement()->mutable_device();
    device->set_node(node.name() == "y" ? "node-b" : "node-a");
    device->set_index(node.name() == "y" ? 1 : 0);
  }
  HostTensor x_value(TensorType{tgrack::v1::DTYPE_F32, {1024}});
  auto result = pool_.client().run(graph, {{"x", x_value}});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->devices.size(), 2u);
  const int port = std::stoi(metrics->substr(metrics->rfind(':') + 1));
  auto text = http_get(port, "/metrics");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(sample(*text, "tgrack_transfer_bytes_total", {{"peer", "node-b/1"}, {"kind", "tcp"}}),
            4096.0);
  EXPECT_EQ(sample(*text, "tgrack_transfer_bandwidth_bytes_per_second_count",
                   {{"peer", "node-b/1"}, {"kind", "tcp"}}),
            1.0);
}

TEST_F(OpsTest, HealthProbeTimeoutKillsItsWholeGroupAndMarksDevicesUnhealthy) {
  // The probe starts a background grandchild and then hangs: both must die at the timeout.
  pool_.daemon_args["node-a"] = {"--health-probe", "sleep 417.25 & sleep 417.5",
                                 "--health-probe-timeout", "300ms", "--health-probe-interval",
                                 "1h"};
  ASSERT_TRUE(pool_.start_default().ok());
  json a0;
  ASSERT_TRUE(wait_until(
      [&] {
        a0 = device("node-a/0");
        return a0.value("health", "") == "unhealthy";
      },
      20s, 50ms))
      << a0.dump() << pool_.daemon("node-a").stderr_text();
  EXPECT_NE(a0.value("health_reason", "").find("health probe"), std::string::npos) << a0.dump();
  EXPECT_EQ(device("node-b/0").value("health", ""), "healthy");

  const pid_t tgd = pool_.daemon("node-a").pid();
  EXPECT_TRUE(children_of(tgd).empty());
  EXPECT_TRUE(running_with("sleep 417.25 ").empty());
  EXPECT_TRUE(running_with("sleep 417.5 ").empty());
  EXPECT_TRUE(running_with("/bin/sh -c sleep 417.25").empty());

  // Unhealthy devices are left out of placement, with the reason.
  auto refused = pool_.client().submit(dense_graph(), x_feeds(), on_node("node-a"));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_NE(refused.status().message().find("no healthy device"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    auto anywhere = pool_.client().submit(dense_graph(), x_feeds());
    expect_dense(anywhere);
    if (anywhere.ok()) {
      EXPECT_EQ(anywhere->device.node(), "node-b");
    }
  }
  Completed table = tgctl({"devices"});
  EXPECT_NE(table.out.find("unhealthy (health probe"), std::string::npos) << table.out;

  // Stopping the daemon leaves nothing behind either.
  EXPECT_EQ(pool_.daemon("node-a").kill(15), 0);
  EXPECT_TRUE(children_of(tgd).empty());
}

// ---- Cordon and drain --------------------------------------------------------------------

TEST_F(OpsTest, CordonedNodeGetsNoNewWorkUntilUncordoned) {
  ASSERT_TRUE(pool_.start_default().ok());
  Completed cordon = tgctl({"cordon", "node-a", "--reason", "replacing fans"});
  ASSERT_EQ(cordon.exit_status, 0) << cordon.err;

  Completed nodes = tgctl({"nodes", "--json"});
  json listed = json::parse(nodes.out);
  ASSERT_EQ(listed["nodes"].size(), 2u);
  EXPECT_EQ(listed["nodes"][0]["id"], "node-a");
  EXPECT_EQ(listed["nodes"][0]["cordoned"], true);
  EXPECT_EQ(listed["nodes"][0]["cordon_reason"], "replacing fans");
  EXPECT_EQ(listed["nodes"][1]["cordoned"], false);
  EXPECT_NE(tgctl({"nodes"}).out.find("CORDONED (replacing fans)"), std::string::npos);

  auto refused = pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("node 'node-a' is cordoned: replacing fans"),
            std::string::npos)
      << refused.status();
  for (int i = 0; i < 4; ++i) {
    auto anywhere = pool_.client().submit(dense_graph(), x_feeds());
    expect_dense(anywhere);
    if (anywhere.ok()) {
      EXPECT_EQ(anywhere->device.node(), "node-b");
    }
  }

  Completed unknown = tgctl({"cordon", "node-z", "--reason", "x"});
  EXPECT_EQ(unknown.exit_status, 1);
  EXPECT_NE(unknown.err.find("unknown node 'node-z'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;

  ASSERT_EQ(tgctl({"uncordon", "node-a"}).exit_status, 0);
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 1)));
}

TEST_F(OpsTest, DrainOfAnIdleNodeFinishesAtOnceAndLeavesItCordoned) {
  ASSERT_TRUE(pool_.start_default().ok());
  Completed drain = tgctl({"drain", "node-b", "--deadline", "20s"}, 10s);
  ASSERT_EQ(drain.exit_status, 0) << drain.err;
  EXPECT_NE(drain.out.find("0 job(s) finished, 0 cancelled"), std::string::npos) << drain.out;
  auto refused = pool_.client().submit(dense_graph(), x_feeds(), on_node("node-b"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("cordoned: draining"), std::string::npos);
  Completed bad = tgctl({"drain", "node-b", "--deadline", "soon"});
  EXPECT_EQ(bad.exit_status, 2);  // a usage error
  EXPECT_NE(bad.err.find("--deadline: 'soon' is not a duration"), std::string::npos) << bad.err;
}

const std::vector<float> kHeldY = {2, 4, 6, 0, 0, 8};

TEST_F(OpsTest, DrainCancelsJobsStillRunningAtTheDeadlineNamingTheNodeAndTheDrain) {
  pool_.hold_kernels_on("node-a");
  ASSERT_TRUE(pool_.start_default().ok());
  absl::StatusOr<SubmitResult> result = absl::UnknownError("not run");
  std::thread job([&] {
    result = pool_.client().submit(held_graph(), x_feeds(), on_device("node-a", 0));
  });
  const bool held = pool_.wait_held("node-a", "test_hold_job");
  Completed drain;
  if (held) drain = tgctl({"drain", "node-a", "--deadline", "100ms"});
  pool_.release("node-a", "test_hold_job");
  job.join();
  ASSERT_TRUE(held) << "the job never reached its held kernel on node-a: " << result.status()
                    << pool_.daemon("node-a").stderr_text();
  ASSERT_EQ(drain.exit_status, 0) << drain.err;
  EXPECT_NE(drain.out.find("0 job(s) finished, 1 cancelled"), std::string::npos) << drain.out;
  ASSERT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_NE(result.status().message().find(
                "node 'node-a' is being drained and the drain deadline of 100 ms passed"),
            std::string::npos)
      << result.status();
}

// ---- Warm and hive reset -----------------------------------------------------------------

TEST_F(OpsTest, WarmResetReturnsTheDeviceToServiceWithoutRestartingTheDaemon) {
  ASSERT_TRUE(pool_.start_default().ok());
  const pid_t before = pool_.daemon("node-a").pid();
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 0)));
  Completed reset = tgctl({"reset", "node-a/0"});
  ASSERT_EQ(reset.exit_status, 0) << reset.err;
  EXPECT_EQ(reset.out, "reset node-a/0\n");
  EXPECT_FALSE(pool_.daemon("node-a").wait_exit(0ms).has_value());
  EXPECT_EQ(pool_.daemon("node-a").pid(), before);
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 0)));
  EXPECT_EQ(device("node-a/0").value("health", ""), "healthy");

  Completed unknown = tgctl({"reset", "node-a/7"});
  EXPECT_EQ(unknown.exit_status, 1);
  EXPECT_NE(unknown.err.find("unknown device node-a/7"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos);
  Completed malformed = tgctl({"reset", "node-a"});
  EXPECT_EQ(malformed.exit_status, 1);
  EXPECT_NE(malformed.err.find("reset: 'node-a' is not NODE/INDEX (e.g. node-a/0)"), std::string::npos)
      << malformed.err;
}

TEST_F(OpsTest, ResettingOneHiveMemberResetsEveryMemberAcrossDaemons) {
  pool_.daemon_args["node-a"] = {"--hive", "hive-7"};
  pool_.daemon_args["node-b"] = {"--hive", "hive-7"};
  ASSERT_TRUE(pool_.start_default().ok());
  Completed reset = tgctl({"reset", "node-b/1"});
  ASSERT_EQ(reset.exit_status, 0) << reset.err;
  EXPECT_EQ(reset.out, "reset hive hive-7: node-a/0 node-a/1 node-b/0 node-b/1\n");
  for (const char* name : {"node-a", "node-b"}) {
    const std::string log = pool_.daemon(name).stdout_text() + pool_.daemon(name).stderr_text();
    EXPECT_NE(log.find("(reset of hive 'hive-7')"), std::string::npos) << log;
  }
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-a", 1)));
  expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-b", 0)));
}

TEST_F(OpsTest, HiveResetThatFailsOnOneMemberLeavesEveryMemberUnhealthyWithTheReason) {
  pool_.daemon_args["node-a"] = {"--hive", "hive-7"};
  pool_.daemon_args["node-b"] = {"--hive", "hive-7"};
  // A held job keeps node-b/0 busy past the drain timeout, so node-b's part of the reset fails.
  pool_.hold_kernels_on("node-b");
  ASSERT_TRUE(pool_.start_default().ok());
  absl::StatusOr<SubmitResult> result = absl::UnknownError("not run");
  std::thread job([&] {
    result = pool_.client().submit(held_graph(), x_feeds(), on_device("node-b", 0));
  });
  const bool held = pool_.wait_held("node-b", "test_hold_job");
  Completed reset;
  if (held) reset = tgctl({"reset", "node-a/0", "--drain-timeout", "50ms"});
  pool_.release("node-b", "test_hold_job");
  job.join();
  ASSERT_TRUE(held) << "the job never reached its held kernel on node-b: " << result.status();
  EXPECT_EQ(reset.exit_status, 1);
  EXPECT_NE(reset.err.find("reset of hive 'hive-7' failed: node 'node-b'"), std::string::npos)
      << reset.err;
  EXPECT_NE(reset.err.find("DEADLINE_EXCEEDED"), std::string::npos) << reset.err;
  EXPECT_NE(reset.err.find("work still running after 50 ms of draining; nothing was reset"),
            std::string::npos)
      << reset.err;
  // Nothing was reset under the held job: it finished with the right values.
  ASSERT_TRUE(result.ok()) << result.status();
  for (size_t i = 0; i < kHeldY.size(); ++i) {
    EXPECT_FLOAT_EQ(result->outputs[0].values<float>()[i], kHeldY[i]) << i;
  }
  for (const char* name : {"node-a/0", "node-a/1", "node-b/0", "node-b/1"}) {
    json d = device(name);
    EXPECT_EQ(d.value("health", ""), "unhealthy") << d.dump();
    EXPECT_NE(d.value("health_reason", "").find("reset of hive 'hive-7' failed"), std::string::npos)
        << d.dump();
  }
  auto refused = pool_.client().submit(dense_graph(), x_feeds());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();

  // Once idle, a new reset brings the whole hive back.
  Completed again = tgctl({"reset", "node-b/0"});
  ASSERT_EQ(again.exit_status, 0) << again.err;
  for (const char* name : {"node-a/0", "node-a/1", "node-b/0", "node-b/1"}) {
    EXPECT_EQ(device(name).value("health", ""), "healthy") << name;
  }
  expect_dense(pool_.client().submit(dense_graph(), x_feeds()));
}

// ---- tgctl top ---------------------------------------------------------------------------

TEST_F(OpsTest, TopShowsEveryKernelPerDeviceWithCountsAndBytes) {
  ASSERT_TRUE(pool_.start_default().ok());
  for (int i = 0; i < 3; ++i) {
    expect_dense(pool_.client().submit(dense_graph(), x_feeds(), on_device("node-b", 1)));
  }
  Completed top = tgctl({"top", "--once", "--json"});
  ASSERT_EQ(top.exit_status, 0) << top.err;
  json board = json::parse(top.out);
  std::map<std::string, uint64_t> counts;
  for (const json& k : board["kernels"]) {
    EXPECT_EQ(k["device_id"], "node-b/1") << k.dump();
    EXPECT_EQ(k["tenant"], "admin") << k.dump();  // Whose jobs ran them: the harness's.
    counts[k["op"]] = k["run_count"];
    EXPECT_GT(k["touched_bytes"].get<uint64_t>(), 0u);
    EXPECT_GE(k["total_seconds"].get<double>(), 0.0);
  }
  EXPECT_EQ(counts, (std::map<std::string, uint64_t>{
                        {"add", 3}, {"constant", 6}, {"matmul", 3}, {"relu", 3}}));
  ASSERT_EQ(board["copies"].size(), 1u);
  EXPECT_GE(board["copies"][0]["copied_bytes"].get<uint64_t>(), 3u * (24 + 32));
  Completed table = tgctl({"top", "--once"});
  EXPECT_THAT(table.out, ::testing::ContainsRegex("node-b/1 +admin +matmul")) << table.out;
}

}  // namespace
}  // namespace tg::testing
