#include "client/tgctl/job_view.h"

#include <sstream>

#include <gtest/gtest.h>

namespace tg::tgctl {
namespace {

tgrack::v1::DeviceRef device(const std::string& node, uint32_t index) {
  tgrack::v1::DeviceRef ref;
  ref.set_node(node);
  ref.set_index(index);
  return ref;
}

std::string print(const Table& table) {
  std::ostringstream out;
  table.print(out);
  return out.str();
}

TEST(JobView, JobsTableShowsDevicesDurationPlanAndError) {
  std::vector<tgrack::v1::JobInfo> jobs(2);
  jobs[0].set_job_id("job-7");
  jobs[0].set_state(tgrack::v1::JOB_STATE_RUNNING);
  *jobs[0].add_devices() = device("node-a", 0);
  *jobs[0].add_devices() = device("node-b", 1);
  jobs[0].set_seconds(0.0123);
  jobs[0].set_plan_id("plan-2");
  jobs[1].set_job_id("job-6");
  jobs[1].set_state(tgrack::v1::JOB_STATE_CANCELLED);
  jobs[1].set_seconds(125);
  jobs[1].set_error("cancelled by the user");
  EXPECT_EQ(print(jobs_table(jobs)),
            "JOB    STATE      DEVICES            DURATION  PLAN    ERROR\n"
            "job-7  running    node-a/0,node-b/1  12.3ms    plan-2\n"
            "job-6  cancelled  -                  2m05s     -       cancelled by the user\n");
}

TEST(JobView, JobsJsonUsesLowerCaseStatesAndDeviceNames) {
  std::vector<tgrack::v1::JobInfo> jobs(1);
  jobs[0].set_job_id("job-1");
  jobs[0].set_state(tgrack::v1::JOB_STATE_FAILED);
  *jobs[0].add_devices() = device("node-a", 1);
  jobs[0].set_error("boom");
  const nlohmann::json json = jobs_json(jobs);
  EXPECT_EQ(json["jobs"][0]["state"], "failed");
  EXPECT_EQ(json["jobs"][0]["device_ids"][0], "node-a/1");
  EXPECT_EQ(json["jobs"][0]["error"], "boom");
}

TEST(JobView, JobsJsonShowsTenantAndUsageAsIntegersInBaseUnits) {
  std::vector<tgrack::v1::JobInfo> jobs(1);
  jobs[0].set_job_id("job-2");
  jobs[0].set_tenant("default");
  jobs[0].mutable_usage()->set_flops(uint64_t{1} << 60);
  jobs[0].mutable_usage()->set_device_seconds(0.25);
  jobs[0].mutable_usage()->set_bytes_moved(4096);
  jobs[0].mutable_usage()->set_peak_memory_bytes(104);
  const nlohmann::json json = jobs_json(jobs);
  EXPECT_EQ(json["jobs"][0]["tenant_id"], "default");
  const nlohmann::json& usage = json["jobs"][0]["usage"];
  EXPECT_TRUE(usage["flop_count"].is_number_unsigned());
  EXPECT_EQ(usage["flop_count"].get<uint64_t>(), uint64_t{1} << 60);  // Exact, not a double.
  EXPECT_EQ(usage["device_seconds"], 0.25);
  EXPECT_EQ(usage["moved_bytes"], 4096);
  EXPECT_EQ(usage["peak_memory_bytes"], 104);
}

TEST(JobView, SessionsTableShowsMemoryPerDevice) {
  std::vector<tgrack::v1::SessionInfo> sessions(2);
  sessions[0].set_session("s-1");
  sessions[0].set_client("trainer");
  sessions[0].set_seconds_left(4.5);
  sessions[0].set_tensors(3);
  sessions[0].set_plans(1);
  auto* memory = sessions[0].add_memory();
  *memory->mutable_device() = device("node-a", 0);
  memory->set_bytes(1 << 20);
  memory = sessions[0].add_memory();
  *memory->mutable_device() = device("node-b", 0);
  memory->set_bytes(512);
  sessions[1].set_session("s-2");
  sessions[1].set_seconds_left(-0.2);  // Expired, not yet collected.
  EXPECT_EQ(print(sessions_table(sessions)),
            "SESSION  CLIENT   LEASE LEFT  TENSORS  PLANS  MEMORY\n"
            "s-1      trainer  4.50s       3        1      node-a/0=1.0 MiB,node-b/0=512 B\n"
            "s-2      -        0us         0        0      -\n");
  EXPECT_EQ(sessions_json(sessions)["sessions"][0]["device_memory"][1]["memory_bytes"], 512);
}

}  // namespace
}  // namespace tg::tgctl
