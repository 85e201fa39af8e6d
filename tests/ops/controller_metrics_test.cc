#include "controller/controller_metrics.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/ops/exposition.h"

namespace tg {
namespace {

using ::tg::testing::sample;

TEST(ControllerMetrics, SeriesWithoutEventLabelsReadZeroBeforeAnyEvent) {
  ControllerMetrics metrics("ctl");
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_scheduler_queued_jobs", {{"host", "ctl"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_scheduler_running_jobs", {{"host", "ctl"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_jobs_submitted_total"), 0);
  EXPECT_EQ(sample(text, "tgrack_jobs_total", {{"reason", "OK"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_scheduling_latency_seconds_count"), 0);
  EXPECT_EQ(sample(text, "tgrack_job_duration_seconds_count"), 0);
}

TEST(ControllerMetrics, StateCountsDropToZeroWhenAStateIsNoLongerReported) {
  ControllerMetrics metrics("ctl");
  metrics.nodes_by_state({{"up", 2}, {"down", 1}});
  metrics.devices_by_state({{"healthy", 4}, {"unhealthy", 1}});
  std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_nodes", {{"state", "up"}}), 2);
  EXPECT_EQ(sample(text, "tgrack_nodes", {{"state", "down"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_devices", {{"state", "unhealthy"}}), 1);

  metrics.nodes_by_state({{"up", 3}});
  metrics.devices_by_state({{"healthy", 5}});
  text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_nodes", {{"state", "up"}}), 3);
  EXPECT_EQ(sample(text, "tgrack_nodes", {{"state", "down"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_devices", {{"state", "healthy"}}), 5);
  EXPECT_EQ(sample(text, "tgrack_devices", {{"state", "unhealthy"}}), 0);
}

TEST(ControllerMetrics, NodesQueueAndSchedulingAreRecorded) {
  ControllerMetrics metrics("ctl");
  metrics.node_up("gpu-01", true);
  metrics.node_up("gpu-02", true);
  metrics.node_up("gpu-02", false);
  metrics.jobs_running(7);
  metrics.job_submitted();
  metrics.job_submitted();
  metrics.job_scheduled(0.002);
  metrics.job_scheduled(0.5);
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_node_up", {{"node", "gpu-01"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_node_up", {{"node", "gpu-02"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_scheduler_running_jobs"), 7);
  EXPECT_EQ(sample(text, "tgrack_scheduler_queued_jobs"), 0);  // Running is not queued.
  EXPECT_EQ(sample(text, "tgrack_jobs_submitted_total"), 2);
  EXPECT_EQ(sample(text, "tgrack_scheduling_latency_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(*sample(text, "tgrack_scheduling_latency_seconds_sum"), 0.502);
  // 2 ms is above the 1 ms bucket and within 4 ms.
  EXPECT_EQ(sample(text, "tgrack_scheduling_latency_seconds_bucket", {{"le", "0.001"}}), 0);
  EXPECT_EQ(sample(text, "tgrack_scheduling_latency_seconds_bucket", {{"le", "0.004"}}), 1);
}

TEST(ControllerMetrics, AJobIsQueuedFromSubmissionUntilItStartsOrFails) {
  ControllerMetrics metrics("ctl");
  auto queued = [&] { return sample(metrics.render_text(), "tgrack_scheduler_queued_jobs"); };
  QueuedJob starts(&metrics);
  {
    QueuedJob fails_before_starting(&metrics);
    EXPECT_EQ(queued(), 2);
  }
  EXPECT_EQ(queued(), 1);
  starts.started();
  EXPECT_EQ(queued(), 0);
  starts.started();  // Once only.
  EXPECT_EQ(queued(), 0);
}

TEST(ControllerMetrics, JobsAndHiveResetsAreCountedByStatusCode) {
  ControllerMetrics metrics("ctl");
  metrics.job_done(1.0, absl::StatusCode::kOk);
  metrics.job_done(2.0, absl::StatusCode::kOk);
  metrics.job_done(3.0, absl::StatusCode::kCancelled);
  metrics.hive_reset("hive-7", absl::StatusCode::kOk);
  metrics.hive_reset("hive-7", absl::StatusCode::kUnavailable);
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_jobs_total", {{"reason", "OK"}}), 2);
  EXPECT_EQ(sample(text, "tgrack_jobs_total", {{"reason", "CANCELLED"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_job_duration_seconds_count"), 3);
  EXPECT_EQ(sample(text, "tgrack_job_duration_seconds_sum"), 6);
  EXPECT_EQ(sample(text, "tgrack_hive_resets_total", {{"hive", "hive-7"}, {"reason", "OK"}}), 1);
  EXPECT_EQ(sample(text, "tgrack_hive_resets_total", {{"reason", "UNAVAILABLE"}}), 1);
}

TEST(ControllerMetrics, TenantUsageSumsFinishedJobsPerTenant) {
  ControllerMetrics metrics("ctl");
  metrics.tenant_usage("default", 120, 0.5, 64);
  metrics.tenant_usage("default", 8, 0.25, 0);
  metrics.tenant_usage("lab", 1000, 2.0, 4096);
  const std::string text = metrics.render_text();
  EXPECT_EQ(sample(text, "tgrack_tenant_flops_total", {{"tenant", "default"}}), 128);
  EXPECT_EQ(sample(text, "tgrack_tenant_device_seconds_total", {{"tenant", "default"}}), 0.75);
  EXPECT_EQ(sample(text, "tgrack_tenant_bytes_moved_total", {{"tenant", "default"}}), 64);
  EXPECT_EQ(sample(text, "tgrack_tenant_flops_total", {{"tenant", "lab"}}), 1000);
  EXPECT_EQ(sample(text, "tgrack_tenant_device_seconds_total", {{"tenant", "lab"}}), 2);
  EXPECT_EQ(sample(text, "tgrack_tenant_bytes_moved_total", {{"tenant", "lab"}}), 4096);
}

TEST(ControllerMetrics, ServesOnAnEphemeralPort) {
  ControllerMetrics metrics("ctl");
  EXPECT_EQ(metrics.port(), 0);
  ASSERT_TRUE(metrics.serve("127.0.0.1:0").ok());
  EXPECT_GT(metrics.port(), 0);
  EXPECT_EQ(metrics.serve("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tg
