// The devices quota through real processes: what counts is the distinct devices a tenant's
// running jobs hold, checked once a graph is planned against the devices the plan needs and
// before anything is sent to a daemon. A tenant with a quota of 2 runs a plan on 2 devices,
// is refused one on 3 (naming the tenant, the quota, the use and what the plan needs), and
// two of its jobs held on one device count that device once.
#include <thread>

#include <absl/cleanup/cleanup.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "expect_status.h"
#include "tenant_pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

// y = x * 2 with x f32[12] in one shard per device of `devices`: a plan on exactly those.
v1::Graph doubled_over(const std::vector<v1::DeviceRef>& devices) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {12});
  g.output(mul(x, g.scalar(2)), "y");
  v1::Graph graph = *g.build();
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.name() != "x") continue;
    for (const v1::DeviceRef& d : devices) *node.mutable_sharding()->add_devices() = d;
    node.mutable_sharding()->set_shards(static_cast<uint32_t>(devices.size()));
  }
  return graph;
}

std::map<std::string, HostTensor> twelve() {
  HostTensor x(TensorType{v1::DTYPE_F32, {12}});
  for (int i = 0; i < 12; ++i) x.values<float>()[i] = static_cast<float>(i);
  return {{"x", std::move(x)}};
}

class DeviceQuota : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.hold_kernels_on("node-c");
    ASSERT_OK_POOL(pool_.start_default());
    ASSERT_OK_POOL(pool_.start_daemon("node-c"));
    ASSERT_TRUE(pool_.wait_for_node("node-c", v1::NODE_STATE_UP));
    v1::Quota quota;
    quota.set_devices(2);
    auto tenant = create_tenant(pool_, "team-two", quota);
    ASSERT_TRUE(tenant.ok()) << tenant.status();
    client_ = std::make_unique<Client>(pool_.controller_address(), 60s, tenant->token);
  }

  Pool pool_;
  std::unique_ptr<Client> client_;
};

TEST_F(DeviceQuota, APlanOnTwoDevicesRunsAndOneOnThreeIsRefusedBeforeItRuns) {
  auto two = client_->run(doubled_over({device_ref("node-a", 0), device_ref("node-b", 0)}), twelve());
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->outputs.at(0).values<float>()[11], 22.0f);
  EXPECT_EQ(two->devices.size(), 2u);

  auto three = client_->run(
      doubled_over({device_ref("node-a", 0), device_ref("node-a", 1), device_ref("node-b", 0)}), twelve());
  EXPECT_STATUS(three.status(), kResourceExhausted,
                "quota devices of tenant 'team-two' is exhausted: limit 2 devices, in use 0 "
                "devices; the plan needs 3 devices (node-a/0,node-a/1,node-b/0), 3 of them not "
                "in use; nothing was run");
  auto jobs = client_->jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), 1u);  // The refused plan never became a job.
}

TEST_F(DeviceQuota, TwoJobsOnOneDeviceCountThatDeviceOnce) {
  // Two jobs of the tenant held on node-c/0 (run by the controller, so both are running jobs
  // from the moment they are sent, whichever the daemon works on first).
  RunOptions on_c;
  on_c.placement = on_device("node-c", 0);
  on_c.deterministic = true;
  std::vector<std::thread> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back([&] { client_->run(held_graph(), x_feeds(), on_c).IgnoreError(); });
  }
  absl::Cleanup let_go = [&] {  // Also when an assertion below ends the test early.
    pool_.release("node-c", "test_hold_job");
    for (std::thread& t : held) t.join();
  };
  ASSERT_TRUE(wait_until([&] {
    auto running = client_->jobs(/*running_only=*/true);
    return running.ok() && running->size() == 2;
  }, 30s));

  // One device in use: a plan on one more fits the quota of 2; plans on two more do not,
  // whether or not they also use the device in use (counted once).
  auto one_more = client_->run(doubled_over({device_ref("node-a", 0)}), twelve());
  EXPECT_TRUE(one_more.ok()) << one_more.status();
  auto two_more = client_->run(doubled_over({device_ref("node-a", 0), device_ref("node-b", 0)}), twelve());
  EXPECT_STATUS(two_more.status(), kResourceExhausted,
                "quota devices of tenant 'team-two' is exhausted: limit 2 devices, in use 1 "
                "devices; the plan needs 2 devices (node-a/0,node-b/0), 2 of them not in use");
  auto with_held = client_->run(
      doubled_over({device_ref("node-c", 0), device_ref("node-a", 0), device_ref("node-b", 0)}), twelve());
  EXPECT_STATUS(with_held.status(), kResourceExhausted,
                "in use 1 devices; the plan needs 3 devices (node-a/0,node-b/0,node-c/0), 2 of "
                "them not in use");

}

}  // namespace
}  // namespace tg::testing
