#include "daemon/daemon_metrics.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/ops/exposition.h"
#include "tests/ops/http_get.h"

namespace tg {
namespace {

using ::tg::testing::sample;

TEST(DaemonMetrics, DeviceGaugesCarryHostAndDevice) {
  DaemonMetrics metrics("node-a");
  metrics.device_added("cpu:0", "cpu");
  metrics.device_memory("cpu:0", 100, 1000);
  metrics.device_memory("cpu:1", 7, 2000);
  metrics.device_health("cpu:0", false);
  metrics.device_health("cpu:1", true);
  metrics.device_busy("cpu:0", 1.5);
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_device_info", {{"device", "cpu:0"}, {"kind", "cpu"}}), 1);
  EXPECT_EQ(
      sample(text, "tgrack_device_memory_used_bytes", {{"host", "node-a"}, {"device", "cpu:0"}}),
      100);
  EXPECT_EQ(sample(text, "tgrack_device_memory_total_bytes", {{"device", "cpu:1"}}), 2000);
  EXPECT_EQ(sample(text, "tgrack_device_healthy", {{"device", "cpu:0"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_device_healthy", {{"device", "cpu:1"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_device_busy_ratio", {{"device", "cpu:0"}}), 1.0);
}

TEST(DaemonMetrics, KernelsAccumulateCountTimeAndBytesPerOp) {
  DaemonMetrics metrics("node-a");
  metrics.kernel_ran("cpu:0", "matmul", 0.25, 1000);
  metrics.kernel_ran("cpu:0", "matmul", 0.5, 24);
  metrics.kernel_ran("cpu:0", "add", 0.125, 8);
  metrics.bytes_copied("cpu:0", 4096);
  metrics.bytes_copied("cpu:0", 4);
  metrics.device_reset("cpu:0");
  const std::string text = metrics.render_text();
  const std::map<std::string, std::string> matmul{{"device", "cpu:0"}, {"op", "matmul"}};
  EXPECT_EQ(sample(text, "tgrack_kernel_duration_seconds_count", matmul), 2);
  EXPECT_EQ(sample(text, "tgrack_kernel_duration_seconds_sum", matmul), 0.75);
  EXPECT_EQ(sample(text, "tgrack_kernel_bytes_total", matmul), 1024);
  EXPECT_EQ(sample(text, "tgrack_kernel_duration_seconds_count", {{"op", "add"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_device_copied_bytes_total", {{"device", "cpu:0"}}), 4100);
  EXPECT_EQ(sample(text, "tgrack_device_resets_total", {{"device", "cpu:0"}}), 1);
}

TEST(DaemonMetrics, CollectiveBandwidthFollowsNcclTests) {
  DaemonMetrics metrics("node-a");
  // 1000 bytes in 1 ms on 4 ranks: algbw 1e6 B/s; busbw 1.5e6 (all_reduce), 0.75e6
  // (all_gather), 1e6 (broadcast).
  metrics.collective_done("all_reduce", "ring", 4, 1000, 0.001);
  metrics.collective_done("all_gather", "ring", 4, 1000, 0.001);
  metrics.collective_done("broadcast", "tree", 4, 1000, 0.001);
  const std::string text = metrics.render_text();
  const std::map<std::string, std::string> ar{{"kind", "all_reduce"}, {"algorithm", "ring"}};
  EXPECT_DOUBLE_EQ(*sample(text, "tgrack_collective_algbw_bytes_per_second_sum", ar), 1e6);
  EXPECT_DOUBLE_EQ(*sample(text, "tgrack_collective_busbw_bytes_per_second_sum", ar), 1.5e6);
  EXPECT_DOUBLE_EQ(*sample(text, "tgrack_collective_bus_bytes_total", ar), 1500);
  EXPECT_EQ(sample(text, "tgrack_collective_bytes_total", ar), 1000);
  EXPECT_EQ(sample(text, "tgrack_collective_duration_seconds_count", ar), 1);
  EXPECT_DOUBLE_EQ(
      *sample(text, "tgrack_collective_busbw_bytes_per_second_sum", {{"kind", "all_gather"}}),
      0.75e6);
  EXPECT_DOUBLE_EQ(
      *sample(text, "tgrack_collective_busbw_bytes_per_second_sum", {{"kind", "broadcast"}}), 1e6);
  // 1.5e6 B/s lands in the bucket bounded by 4e6, not in the one bounded by 1e6.
  EXPECT_EQ(sample(text, "tgrack_collective_busbw_bytes_per_second_bucket",
                   {{"kind", "all_reduce"}, {"le", "1000000"}}),
            0);
  EXPECT_EQ(sample(text, "tgrack_collective_busbw_bytes_per_second_bucket",
                   {{"kind", "all_reduce"}, {"le", "4000000"}}),
            1);
}

TEST(DaemonMetrics, LinksCountBytesErrorsAndFallbacks) {
  DaemonMetrics metrics("node-a");
  metrics.link_totals("0", "node-b/1", "tcp", 10, 20);
  metrics.link_totals("0", "node-b/1", "tcp", 11, 22);
  metrics.link_totals("0", "node-b/1", "tcp", 5, 5);  // A lower total never lowers a counter.
  metrics.link_error_total("node-b/1", "tcp", 1);
  metrics.link_error_total("node-b/1", "tcp", 0);
  metrics.transfer_done("node-b", "tcp", 2000, 0.5);
  metrics.link_fallback("node-b", "xgmi", "host_staged");
  metrics.link_error("node-c/0", "tcp", absl::StatusCode::kDeadlineExceeded);
  metrics.link_error("node-c/0", "tcp", absl::StatusCode::kDeadlineExceeded);
  const std::string text = metrics.render_text();
  const std::map<std::string, std::string> link{{"device", "0"}, {"peer", "node-b/1"}, {"transport", "tcp"}};
  EXPECT_EQ(sample(text, "tgrack_link_sent_bytes_total", link), 11);
  EXPECT_EQ(sample(text, "tgrack_link_received_bytes_total", link), 22);
  // Collective links and transfers fill the same labels: peer device, link kind, status code.
  EXPECT_EQ(sample(text, "tgrack_link_errors_total",
                   {{"peer", "node-b/1"}, {"kind", "tcp"}, {"reason", "UNAVAILABLE"}}),
            1);
  EXPECT_EQ(sample(text, "tgrack_transfer_bytes_total", {{"peer", "node-b"}, {"kind", "tcp"}}),
            2000);
  EXPECT_EQ(sample(text, "tgrack_transfer_bandwidth_bytes_per_second_sum", {{"kind", "tcp"}}),
            4000);
  EXPECT_EQ(
      sample(text, "tgrack_link_fallbacks_total", {{"requested", "xgmi"}, {"kind", "host_staged"}}),
      1);
  EXPECT_EQ(sample(text, "tgrack_link_errors_total",
                   {{"peer", "node-c/0"}, {"kind", "tcp"}, {"reason", "DEADLINE_EXCEEDED"}}),
            2);
  // Every series of the family carries exactly host, peer, kind and reason.
  const auto sets = testing::label_sets(text, "tgrack_link_errors_total");
  EXPECT_EQ(sets.size(), 2u);
  for (const auto& labels : sets) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : labels) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"host", "kind", "peer", "reason"}));
  }
}

TEST(DaemonMetrics, FragmentsAreCountedByStatusCodeAndOkExistsFromTheStart) {
  DaemonMetrics metrics("node-a");
  EXPECT_EQ(sample(metrics.render_text(), "tgrack_fragments_total", {{"reason", "OK"}}), 0);
  metrics.fragment_done(0.5, absl::StatusCode::kOk);
  metrics.fragment_done(2.0, absl::StatusCode::kDeadlineExceeded);
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_fragments_total", {{"reason", "OK"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_fragments_total", {{"reason", "DEADLINE_EXCEEDED"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_fragment_duration_seconds_sum"), 2.5);
}

TEST(DaemonMetrics, ServesTheSameTextOverHttp) {
  DaemonMetrics metrics("node-a");
  metrics.device_memory("cpu:0", 123, 456);
  ASSERT_TRUE(metrics.serve("127.0.0.1:0").ok());
  ASSERT_GT(metrics.port(), 0);
  const absl::StatusOr<std::string> body = testing::http_get(metrics.port(), "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(
      sample(*body, "tgrack_device_memory_used_bytes", {{"host", "node-a"}, {"device", "cpu:0"}}),
      123)
      << *body;

  EXPECT_EQ(metrics.serve("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  DaemonMetrics other("node-b");
  const absl::Status taken = other.serve("127.0.0.1:" + std::to_string(metrics.port()));
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable) << taken;
  EXPECT_EQ(other.port(), 0);
}

TEST(DaemonMetrics, RejectsAddressesThatAreNotHostPort) {
  DaemonMetrics metrics("node-a");
  EXPECT_EQ(metrics.serve("localhost").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.serve("127.0.0.1:http").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.serve("127.0.0.1:70000").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.port(), 0);
}

}  // namespace
}  // namespace tg
