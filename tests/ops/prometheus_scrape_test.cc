// A real Prometheus server (Debian's prometheus) scrapes two daemons' and a controller's
// metrics endpoints, with the deploy/ alert rules loaded; the test reads the samples back
// through Prometheus's HTTP API. Skipped when the prometheus binary is not installed.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "controller/controller_metrics.h"
#include "daemon/child_process.h"
#include "daemon/daemon_metrics.h"
#include "tests/ops/http_get.h"

namespace tg {
namespace {

using nlohmann::json;

const std::string kSource = TGRACK_SOURCE_DIR;
constexpr absl::Duration kArrival = absl::Seconds(60);

class PrometheusScrape : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* m : {&node_a_, &node_b_}) ASSERT_TRUE(m->serve("127.0.0.1:0").ok());
    ASSERT_TRUE(controller_.serve("127.0.0.1:0").ok());

    dir_ = ::testing::TempDir() + "tgrack-prom-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
    const std::string& dir = dir_;
    const std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << absl::StrCat(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n", "rule_files: ['", kSource,
        "/deploy/prometheus/alerts.yml']\n", "scrape_configs:\n", "  - job_name: tgd\n",
        "    static_configs: [{targets: ['127.0.0.1:", node_a_.port(),
        "', '127.0.0.1:", node_b_.port(), "']}]\n", "  - job_name: tgcontroller\n",
        "    static_configs: [{targets: ['127.0.0.1:", controller_.port(), "']}]\n");

    port_ = testing::free_port();
    ASSERT_GT(port_, 0);
    ChildOptions options;
    options.argv = {"prometheus", "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                    "--storage.tsdb.path=" + dir + "/data", "--config.file=" + config,
                    "--log.level=warn"};
    options.timeout = absl::Minutes(5);
    absl::StatusOr<std::unique_ptr<ChildProcess>> started = ChildProcess::start(options);
    if (absl::IsNotFound(started.status())) {
      GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
    }
    ASSERT_TRUE(started.ok()) << started.status();
    prometheus_ = std::move(*started);
  }

  void TearDown() override {
    prometheus_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Why Prometheus stopped early, from its stderr; the server is gone afterwards.
  std::string stop_and_explain() {
    if (!prometheus_) return "";
    prometheus_->kill();
    return std::string(prometheus_->wait().status().message());
  }

  // The instant-query result vector for `promql` once it has `want` series, or whatever it
  // had when kArrival passed.
  json query_until(const std::string& promql, size_t want) {
    const absl::Time deadline = absl::Now() + kArrival;
    json result = json::array();
    for (;;) {
      absl::StatusOr<std::string> body =
          testing::http_get(port_, "/api/v1/query?query=" + testing::url_encode(promql));
      if (body.ok()) {
        const json reply = json::parse(*body, nullptr, false);
        if (!reply.is_discarded() && reply.value("status", "") == "success") {
          result = reply["data"]["result"];
          if (result.size() >= want) return result;
        }
      }
      if (absl::Now() > deadline) return result;
      absl::SleepFor(absl::Milliseconds(200));  // The next scrape is a second away.
    }
  }

  static double value_of(const json& series) {
    return std::stod(series["value"][1].get<std::string>());
  }

  DaemonMetrics node_a_{"node-a"};
  DaemonMetrics node_b_{"node-b"};
  ControllerMetrics controller_{"ctl"};
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> prometheus_;
};

TEST_F(PrometheusScrape, DeviceCollectiveAndControllerSamplesArriveWithTheirLabels) {
  node_a_.device_memory("cpu:0", 1024, 4096);
  node_b_.device_memory("cpu:1", 2048, 4096);
  node_a_.collective_done("all_reduce", "ring", 2, 1 << 20, 0.5);
  node_b_.collective_done("all_reduce", "ring", 2, 1 << 20, 0.5);
  node_a_.device_health("cpu:0", false);
  controller_.nodes_by_state({{"up", 2}});
  controller_.job_done(1.5, absl::StatusCode::kOk);

  const json up = query_until("up{job=\"tgd\"} == 1", 2);
  ASSERT_EQ(up.size(), 2u) << up.dump() << stop_and_explain();

  const json memory = query_until("tgrack_device_memory_used_bytes", 2);
  ASSERT_EQ(memory.size(), 2u) << memory.dump();
  std::map<std::string, double> by_host;
  for (const json& s : memory) {
    EXPECT_EQ(s["metric"]["job"], "tgd");
    by_host[s["metric"]["host"].get<std::string>() + "/" +
            s["metric"]["device"].get<std::string>()] = value_of(s);
  }
  EXPECT_EQ(by_host,
            (std::map<std::string, double>{{"node-a/cpu:0", 1024}, {"node-b/cpu:1", 2048}}));

  // busbw for all_reduce on 2 ranks equals algbw: 1 MiB in 0.5 s.
  const json busbw = query_until(
      "tgrack_collective_busbw_bytes_per_second_sum{kind=\"all_reduce\",algorithm=\"ring\"}", 2);
  ASSERT_EQ(busbw.size(), 2u) << busbw.dump();
  for (const json& s : busbw) EXPECT_DOUBLE_EQ(value_of(s), 2.0 * (1 << 20));

  const json nodes = query_until("tgrack_nodes{job=\"tgcontroller\",state=\"up\"}", 1);
  ASSERT_EQ(nodes.size(), 1u) << nodes.dump();
  EXPECT_EQ(value_of(nodes[0]), 2);
  EXPECT_EQ(nodes[0]["metric"]["host"], "ctl");

  // The deploy/ rules are loaded, and the unhealthy device is pending or firing.
  const json alerts = query_until("ALERTS{alertname=\"TgrackDeviceUnhealthy\"}", 1);
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
  EXPECT_EQ(alerts[0]["metric"]["host"], "node-a");
  EXPECT_EQ(alerts[0]["metric"]["device"], "cpu:0");

  const pid_t pgid = prometheus_->pid();
  prometheus_.reset();
  EXPECT_TRUE(::kill(-pgid, 0) == -1 && errno == ESRCH);
}

}  // namespace
}  // namespace tg
