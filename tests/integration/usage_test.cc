// What jobs used, end to end: after a known workload the controller lists each job's tenant
// and usage (FLOPs exactly as devices/op_flops.h counts them from the shapes, device-seconds,
// the bytes its transfers sent, peak memory), for a job on one device run directly, one
// spread over two daemons that the controller drives, and a captured plan over two daemons
// that the client drives (each daemon reports its part); and tgcontroller's /metrics serves
// the tenant counters with the same sums.
#include <gtest/gtest.h>

#include "pool.h"
#include "test_graphs.h"
#include "tests/ops/exposition.h"
#include "tests/ops/http_get.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using namespace std::chrono_literals;

// y = relu(matmul(x, w) + b), x f32[4,8], w f32[8,16], b f32[16]:
// matmul 2*4*8*16 = 1024, add 4*16 = 64, relu 64.
// The harness runs every test as the pool's admin tenant.
constexpr char kTenant[] = "admin";
constexpr uint64_t kFlops = 2 * 4 * 8 * 16 + 64 + 64;
constexpr uint64_t kMatmulOutBytes = 4 * 16 * 4;  // f32[4,16]
// Buffers held at once while the matmul runs: x, w and its output.
constexpr uint64_t kMatmulHeldBytes = 4 * 8 * 4 + 8 * 16 * 4 + kMatmulOutBytes;

v1::Graph mlp_layer() {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {4, 8});
  Value w = g.input("w", v1::DTYPE_F32, {8, 16});
  Value b = g.input("b", v1::DTYPE_F32, {16});
  g.output(relu(matmul(x, w) + b), "y");
  return *g.build();
}

// The matmul (and its inputs x, w) on node-a/0, the rest on node-b/0: the plan needs one
// transfer, the matmul's output, from node-a to node-b.
v1::Graph split_over_two_daemons() {
  v1::Graph graph = mlp_layer();
  for (v1::Node& node : *graph.mutable_nodes()) {
    const bool first = node.op() == v1::OP_MATMUL || node.name() == "x" || node.name() == "w";
    *node.mutable_placement() = on_device(first ? "node-a" : "node-b", 0);
  }
  return graph;
}

std::map<std::string, HostTensor> layer_feeds() {
  return {{"x", HostTensor(TensorType{v1::DTYPE_F32, {4, 8}})},
          {"w", HostTensor(TensorType{v1::DTYPE_F32, {8, 16}})},
          {"b", HostTensor(TensorType{v1::DTYPE_F32, {16}})}};
}

class Usage : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.controller_args = {"--metrics", "127.0.0.1:0", "--metrics-port-file",
                             pool_.dir().file("controller.metrics")};
    ASSERT_OK_POOL(pool_.start_default());
    auto address = read_port_file(pool_.dir().file("controller.metrics"), pool_.controller());
    ASSERT_TRUE(address.ok()) << address.status();
    metrics_port_ = std::stoi(address->substr(address->rfind(':') + 1));
  }

  // The job as the controller lists it once it finished with every one of its `devices`
  // (a job two daemons report is whole once both parts arrived).
  v1::JobInfo finished(const std::string& job_id, int devices) {
    v1::JobInfo found;
    EXPECT_TRUE(wait_until(
        [&] {
          auto jobs = pool_.client().jobs();
          if (!jobs.ok()) return false;
          for (const v1::JobInfo& job : *jobs) {
            if (job.job_id() == job_id && job.state() != v1::JOB_STATE_RUNNING &&
                job.devices_size() == devices) {
              found = job;
              return true;
            }
          }
          return false;
        },
        30s))
        << job_id << " was not listed finished on " << devices << " devices";
    return found;
  }

  // Waits until the controller serves tgrack_tenant_flops_total{tenant=kTenant} = flops,
  // then returns the scrape.
  std::string metrics_once_flops_are(uint64_t flops) {
    std::string text;
    EXPECT_TRUE(wait_until(
        [&] {
          auto scraped = http_get(metrics_port_, "/metrics");
          if (!scraped.ok()) return false;
          text = *scraped;
          return sample(text, "tgrack_tenant_flops_total", {{"tenant", kTenant}}) ==
                 static_cast<double>(flops);
        },
        30s))
        << "tgrack_tenant_flops_total never reached " << flops << " in:\n" << text;
    return text;
  }

  // tgrack_tenant_device_seconds_total{tenant=kTenant} in `text` is `seconds` (up to the
  // digits the exposition prints).
  static void expect_device_seconds(const std::string& text, double seconds) {
    const auto served = sample(text, "tgrack_tenant_device_seconds_total", {{"tenant", kTenant}});
    ASSERT_TRUE(served.has_value()) << text;
    EXPECT_NEAR(*served, seconds, 1e-9 * seconds);
  }

  Pool pool_;
  int metrics_port_ = 0;
};

TEST_F(Usage, AJobOnOneDeviceRunDirectlyCountsItsFlopsExactly) {
  RunOptions options;
  options.placement = on_device("node-a", 1);
  auto ran = pool_.client().run(mlp_layer(), layer_feeds(), options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  const v1::JobInfo job = finished(ran->job_id, 1);
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  EXPECT_EQ(job.tenant(), kTenant);
  EXPECT_EQ(job.usage().flops(), kFlops);
  EXPECT_GT(job.usage().device_seconds(), 0);
  EXPECT_EQ(job.usage().bytes_moved(), 0u);  // One device: nothing to send.
  EXPECT_GE(job.usage().peak_memory_bytes(), kMatmulHeldBytes);

  const std::string text = metrics_once_flops_are(kFlops);
  EXPECT_EQ(sample(text, "tgrack_tenant_bytes_moved_total", {{"tenant", kTenant}}), 0);
  expect_device_seconds(text, job.usage().device_seconds());
}

// A job of split_over_two_daemons() succeeded for kTenant with the layer's FLOPs and the
// one transfer of the matmul's output between the daemons.
void expect_split_layer_usage(const v1::JobInfo& job) {
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  EXPECT_EQ(job.tenant(), kTenant);
  EXPECT_EQ(job.usage().flops(), kFlops);
  EXPECT_EQ(job.usage().bytes_moved(), kMatmulOutBytes);
  EXPECT_GT(job.usage().device_seconds(), 0);
}

TEST_F(Usage, AJobTheControllerDrivesOverTwoDaemonsSumsTheirParts) {
  auto ran = pool_.client().run(split_over_two_daemons(), layer_feeds());
  ASSERT_TRUE(ran.ok()) << ran.status();
  const v1::JobInfo job = finished(ran->job_id, 2);
  expect_split_layer_usage(job);
  EXPECT_GE(job.usage().peak_memory_bytes(), kMatmulHeldBytes);

  const std::string text = metrics_once_flops_are(kFlops);
  EXPECT_EQ(sample(text, "tgrack_tenant_bytes_moved_total", {{"tenant", kTenant}}),
            static_cast<double>(kMatmulOutBytes));
  expect_device_seconds(text, job.usage().device_seconds());
}

TEST_F(Usage, ACapturedPlanOverTwoDaemonsIsReportedByBothAndCountedOnce) {
  RunOptions options;
  options.capture = true;
  auto ran = pool_.client().run(split_over_two_daemons(), layer_feeds(), options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  const v1::JobInfo job = finished(ran->job_id, 2);
  expect_split_layer_usage(job);

  // A replay is a second job with the same usage; the counters hold both, each once.
  auto replayed = pool_.client().replay(ran->plan_id, layer_feeds());
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  const v1::JobInfo again = finished(replayed->job_id, 2);
  EXPECT_EQ(again.usage().flops(), kFlops);
  const std::string text = metrics_once_flops_are(2 * kFlops);
  EXPECT_EQ(sample(text, "tgrack_tenant_bytes_moved_total", {{"tenant", kTenant}}),
            static_cast<double>(2 * kMatmulOutBytes));
  expect_device_seconds(text, job.usage().device_seconds() + again.usage().device_seconds());
}

TEST_F(Usage, AReductionOverAShardedAxisCountsItsCollectiveBytes) {
  GraphBuilder g;
  g.output(sum(g.input("x", v1::DTYPE_F32, {8, 4}), {0}), "y");
  v1::Graph graph = *g.build();
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.name() != "x") continue;
    *node.mutable_sharding()->add_devices() = on_device("node-a", 0).device();
    *node.mutable_sharding()->add_devices() = on_device("node-b", 0).device();
  }
  auto ran = pool_.client().run(graph, {{"x", HostTensor(TensorType{v1::DTYPE_F32, {8, 4}})}});
  ASSERT_TRUE(ran.ok()) << ran.status();
  const v1::JobInfo job = finished(ran->job_id, 2);
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  // Each device sums its [4,4] shard (16 FLOPs); the all-reduce adds nothing to the count.
  EXPECT_EQ(job.usage().flops(), 32u);
  // The all-reduce of f32[4] between the daemons sends at least one rank's partial sums.
  EXPECT_GE(job.usage().bytes_moved(), 16u);
}

}  // namespace
}  // namespace tg::testing
