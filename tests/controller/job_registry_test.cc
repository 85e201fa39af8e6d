// The job registry's reports from daemons: a finished job a daemon reports again (its
// heartbeat's reply was lost) reaches the ledger hook, the list and the caller once. The
// devices a tenant's running jobs hold are distinct devices.
#include "controller/job_registry.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

namespace v1 = tgrack::v1;

v1::JobInfo finished_job(const std::string& id, const std::string& node, uint64_t flops) {
  v1::JobInfo info;
  info.set_job_id(id);
  info.set_tenant("team-a");
  info.set_state(v1::JOB_STATE_SUCCEEDED);
  v1::DeviceRef* device = info.add_devices();
  device->set_node(node);
  device->set_index(0);
  info.mutable_usage()->set_flops(flops);
  return info;
}

TEST(JobRegistry, AFinishedJobReportedAgainCountsOnce) {
  JobRegistry registry;
  std::vector<std::string> recorded;
  registry.set_on_finished([&](const v1::JobInfo& job, const std::string& reported_by) {
    recorded.push_back(job.job_id() + "@" + reported_by);
  });
  auto no_cancel = [](const std::string&, const std::string&, const std::string&) {};
  auto fresh = registry.report("node-a", {}, {finished_job("job-x", "node-a", 10)}, no_cancel);
  ASSERT_EQ(fresh.size(), 1u);
  fresh = registry.report("node-a", {}, {finished_job("job-x", "node-a", 10)}, no_cancel);
  EXPECT_TRUE(fresh.empty());
  // The same job's part on another daemon is news.
  fresh = registry.report("node-b", {}, {finished_job("job-x", "node-b", 5)}, no_cancel);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(recorded, (std::vector<std::string>{"job-x@node-a", "job-x@node-b"}));

  auto jobs = registry.list(/*running_only=*/false);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].devices_size(), 2);
  EXPECT_EQ(jobs[0].usage().flops(), 15u);
}

v1::DeviceRef device(const std::string& node, uint32_t index) {
  v1::DeviceRef d;
  d.set_node(node);
  d.set_index(index);
  return d;
}

TEST(JobRegistry, DevicesHeldCountADeviceRunningTwoJobsOnceAndOnlyTheTenantsJobs) {
  JobRegistry registry;
  auto no_cancel = [](const std::string&) {};
  registry.start("job-1", {device("node-a", 0)}, "", "", no_cancel, "team-a");
  registry.start("job-2", {device("node-a", 0), device("node-b", 1)}, "", "", no_cancel, "team-a");
  registry.start("job-3", {device("node-c", 0)}, "", "", no_cancel, "team-b");
  EXPECT_EQ(registry.devices_held("team-a"),
            (std::set<JobRegistry::Device>{{"node-a", 0}, {"node-b", 1}}));
  registry.finish("job-2", absl::OkStatus());
  EXPECT_EQ(registry.devices_held("team-a"), (std::set<JobRegistry::Device>{{"node-a", 0}}));
  EXPECT_EQ(registry.devices_held("team-c"), std::set<JobRegistry::Device>{});
}

}  // namespace
}  // namespace tg
