// Graphs across the pool, end to end: a controller and two daemons (two cpu devices each) as
// real processes. Sharded data-parallel steps against one device, deterministic mode,
// gradient accumulation, capture and replay guards, and a daemon dying or a cancel mid-graph
// (held there by the daemon's test hold, daemon/test_hold.h).
#include <cstring>
#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/autodiff.h"
#include "client/graph_builder.h"
#include "client/session.h"
#include "pool.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

constexpr int kFeatures = 4;
constexpr int kHidden = 8;
const std::vector<std::string> kWeights = {"w1", "b1", "w2", "b2"};

v1::DeviceRef dev(const std::string& node, uint32_t index) {
  v1::DeviceRef d;
  d.set_node(node);
  d.set_index(index);
  return d;
}

HostTensor random_f32(const Shape& shape, uint32_t seed) {
  HostTensor t(TensorType{v1::DTYPE_F32, shape});
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  for (float& v : t.values<float>()) v = normal(rng);
  return t;
}

void lay_out(v1::Graph& graph, const std::string& input, const std::vector<v1::DeviceRef>& devices,
             bool replicated, int shards) {
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.name() != input) continue;
    node.clear_sharding();
    for (const v1::DeviceRef& d : devices) *node.mutable_sharding()->add_devices() = d;
    node.mutable_sharding()->set_replicated(replicated);
    node.mutable_sharding()->set_shards(static_cast<uint32_t>(shards));
  }
}

// The gradients of a small MLP's loss, sum of squared errors times `scale`, for a batch of
// `batch` rows sharded into `shards` over `devices` (weights replicated on them).
v1::Graph gradient_graph(int batch, float scale, const std::vector<v1::DeviceRef>& devices,
                         int shards) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {batch, kFeatures});
  Value y = g.input("y", v1::DTYPE_F32, {batch, 1});
  Value w1 = g.input("w1", v1::DTYPE_F32, {kFeatures, kHidden});
  Value b1 = g.input("b1", v1::DTYPE_F32, {kHidden});
  Value w2 = g.input("w2", v1::DTYPE_F32, {kHidden, 1});
  Value b2 = g.input("b2", v1::DTYPE_F32, {1});
  Value error = matmul(tanh(matmul(x, w1) + b1), w2) + b2 - y;
  Value loss = sum(error * error) * g.scalar(scale);
  auto grads = gradients(loss, {w1, b1, w2, b2});
  EXPECT_TRUE(grads.ok()) << grads.status();
  g.output(loss, "loss");
  for (size_t i = 0; i < kWeights.size(); ++i) g.output((*grads)[i], "grad_" + kWeights[i]);
  v1::Graph graph = *g.build();
  lay_out(graph, "x", devices, false, shards);
  lay_out(graph, "y", devices, false, shards);
  for (const std::string& w : kWeights) lay_out(graph, w, devices, true, 0);
  return graph;
}

std::map<std::string, HostTensor> weights() {
  return {{"w1", random_f32({kFeatures, kHidden}, 1)},
          {"b1", random_f32({kHidden}, 2)},
          {"w2", random_f32({kHidden, 1}, 3)},
          {"b2", random_f32({1}, 4)}};
}

HostTensor rows(const HostTensor& t, int64_t begin, int64_t end) {
  const int64_t width = t.elements() / t.shape()[0];
  Shape shape = t.shape();
  shape[0] = end - begin;
  HostTensor out(TensorType{t.dtype(), shape});
  std::memcpy(out.data(), t.data() + begin * width * 4, (end - begin) * width * 4);
  return out;
}

bool bit_identical(const HostTensor& a, const HostTensor& b) {
  return a.type() == b.type() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

void expect_near(const HostTensor& a, const HostTensor& b, float tolerance, const std::string& what) {
  ASSERT_EQ(a.type(), b.type()) << what;
  for (int64_t i = 0; i < a.elements(); ++i) {
    const float x = a.values<float>()[i], y = b.values<float>()[i];
    EXPECT_NEAR(x, y, tolerance * std::max(1.0f, std::abs(y))) << what << "[" << i << "]";
  }
}

// total = sum(tanh(x) + tanh(x)), x sharded along the batch over `devices`. The tanh is
// named "test_hold_graph": on a daemon started after pool.hold_kernels_on(...), its shard
// stays running until the test calls release(...).
v1::Graph held_graph(const std::vector<v1::DeviceRef>& devices) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {2, 4});
  v1::Node held;
  held.set_name("test_hold_graph");
  Value h = g.add(v1::OP_TANH, {x}, held);
  g.output(sum(h + h), "total");
  v1::Graph graph = *g.build();
  lay_out(graph, "x", devices, false, 0);
  return graph;
}

class GraphsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }

  std::vector<HostTensor> run_gradients(int batch, float scale,
                                        const std::vector<v1::DeviceRef>& devices, int shards,
                                        bool deterministic, const HostTensor& x, const HostTensor& y) {
    std::map<std::string, HostTensor> feeds = weights();
    feeds["x"] = x;
    feeds["y"] = y;
    RunOptions options;
    options.deterministic = deterministic;
    auto result = pool_.client().run(gradient_graph(batch, scale, devices, shards), feeds, options);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    EXPECT_EQ(result->devices.size(), devices.size());
    return result->outputs;
  }

  Pool pool_;
  const std::vector<v1::DeviceRef> one_ = {dev("node-a", 0)};
  const std::vector<v1::DeviceRef> two_ = {dev("node-a", 0), dev("node-b", 0)};
  const std::vector<v1::DeviceRef> four_ = {dev("node-a", 0), dev("node-a", 1), dev("node-b", 0),
                                            dev("node-b", 1)};
};

TEST_F(GraphsTest, FourDevicesEqualOneDeviceWithinReassociation) {
  const HostTensor x = random_f32({16, kFeatures}, 10), y = random_f32({16, 1}, 11);
  auto single = run_gradients(16, 1.0f / 16, one_, 1, false, x, y);
  auto sharded = run_gradients(16, 1.0f / 16, four_, 4, false, x, y);
  ASSERT_EQ(single.size(), 5u);
  ASSERT_EQ(sharded.size(), 5u);
  for (size_t i = 0; i < single.size(); ++i) expect_near(sharded[i], single[i], 1e-5f, "output " + std::to_string(i));
}

TEST_F(GraphsTest, DeterministicModeIsBitIdenticalForAnyDeviceCount) {
  const HostTensor x = random_f32({16, kFeatures}, 20), y = random_f32({16, 1}, 21);
  auto on_one = run_gradients(16, 1.0f / 16, one_, 4, true, x, y);
  auto on_two = run_gradients(16, 1.0f / 16, two_, 4, true, x, y);
  auto on_four = run_gradients(16, 1.0f / 16, four_, 4, true, x, y);
  ASSERT_EQ(on_one.size(), 5u);
  for (size_t i = 0; i < on_one.size(); ++i) {
    EXPECT_TRUE(bit_identical(on_two[i], on_one[i])) << "output " << i << ", 2 devices";
    EXPECT_TRUE(bit_identical(on_four[i], on_one[i])) << "output " << i << ", 4 devices";
  }
}

// Accumulating k micro-batch gradients, stacked in order and summed by the pool's own
// reduction, equals the full-batch gradient: bit for bit in deterministic mode.
TEST_F(GraphsTest, GradientAccumulationEqualsTheFullBatch) {
  constexpr int kBatch = 16, kMicro = 4;
  const float scale = 1.0f / kBatch;
  const HostTensor x = random_f32({kBatch, kFeatures}, 30), y = random_f32({kBatch, 1}, 31);
  auto full = run_gradients(kBatch, scale, two_, kMicro, true, x, y);
  ASSERT_EQ(full.size(), 5u);
  std::vector<std::vector<HostTensor>> micro;
  for (int k = 0; k < kMicro; ++k) {
    const int64_t begin = k * kBatch / kMicro, end = (k + 1) * kBatch / kMicro;
    micro.push_back(run_gradients(kBatch / kMicro, scale, one_, 1, false, rows(x, begin, end),
                                  rows(y, begin, end)));
    ASSERT_EQ(micro.back().size(), 5u);
  }
  for (size_t i = 0; i < full.size(); ++i) {
    // Client-side accumulation in f32: equal within reassociation.
    HostTensor added = micro[0][i];
    for (int k = 1; k < kMicro; ++k) {
      for (int64_t e = 0; e < added.elements(); ++e) added.values<float>()[e] += micro[k][i].values<float>()[e];
    }
    expect_near(added, full[i], 1e-5f, "accumulated output " + std::to_string(i));
    // Accumulation by the pool's ordered reduction: sum(stack(g_0 .. g_k-1), axis 0).
    GraphBuilder g;
    std::vector<Value> parts;
    Shape row_shape = full[i].shape();
    row_shape.insert(row_shape.begin(), 1);
    for (int k = 0; k < kMicro; ++k) parts.push_back(reshape(g.constant(micro[k][i]), row_shape));
    g.output(sum(concat(parts, 0), {0}), "accumulated");
    auto accumulated = pool_.client().submit(*g.build(), {});
    ASSERT_TRUE(accumulated.ok()) << accumulated.status();
    EXPECT_TRUE(bit_identical(accumulated->outputs[0], full[i])) << "output " << i;
  }
}

class ReplayTest : public GraphsTest {
 protected:
  void SetUp() override {
    GraphsTest::SetUp();
    auto session = Session::open(pool_.client(), std::chrono::seconds(30), "replay-test");
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = std::move(*session);
  }
  // y = x * w summed over rows, x sharded over two devices, w replicated and kept.
  v1::Graph graph() {
    GraphBuilder g;
    Value x = g.input("x", v1::DTYPE_F32, {4, 2});
    Value w = g.input("w", v1::DTYPE_F32, {2});
    g.output(sum(x * w, {0}), "y");
    g.output(w * g.scalar(2), "w2");
    v1::Graph graph = *g.build();
    lay_out(graph, "x", two_, false, 0);
    lay_out(graph, "w", two_, true, 0);
    return graph;
  }
  std::unique_ptr<Session> session_;
};

TEST_F(ReplayTest, ReplayRunsTheCapturedPlanWithRemoteInputs) {
  RunOptions options = session_->options();
  options.capture = true;
  options.keep = {"w2"};
  HostTensor x = random_f32({4, 2}, 1), w = random_f32({2}, 2);
  auto first = pool_.client().run(graph(), {{"x", x}, {"w", w}}, options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->plan_id.empty());
  ASSERT_EQ(first->kept.size(), 1u);

  // Capturing the same graph again gives the same plan.
  auto again = pool_.client().run(graph(), {{"x", x}, {"w", w}}, options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->plan_id, first->plan_id);

  RunOptions replay = session_->options();
  replay.keep = {"w2"};
  replay.input("w", first->kept[0]);
  auto second = pool_.client().replay(first->plan_id, {{"x", x}}, replay);
  ASSERT_TRUE(second.ok()) << second.status();
  const auto xs = x.values<float>();
  for (int col = 0; col < 2; ++col) {
    float expected = 0;
    for (int r = 0; r < 4; ++r) expected += xs[r * 2 + col] * 2 * w.values<float>()[col];
    EXPECT_NEAR(second->outputs[0].values<float>()[col], expected, 1e-5f);
  }
  auto fetched = pool_.client().fetch(second->kept[0]);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_FLOAT_EQ(fetched->values<float>()[1], 4 * w.values<float>()[1]);
}

TEST_F(ReplayTest, ReplayRefusesInputsThatDifferFromTheCapture) {
  RunOptions options = session_->options();
  options.capture = true;
  options.keep = {"w2"};
  auto first = pool_.client().run(graph(), {{"x", random_f32({4, 2}, 1)}, {"w", random_f32({2}, 2)}},
                                  options);
  ASSERT_TRUE(first.ok()) << first.status();

  // Wrong shape.
  auto shape = pool_.client().replay(first->plan_id,
                                     {{"x", random_f32({4, 3}, 1)}, {"w", random_f32({2}, 2)}},
                                     session_->options());
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shape.status().message(), HasSubstr("input 'x': expected f32[4,2], got f32[4,3]"));

  // A remote tensor laid out differently (whole on one device) for the replicated input.
  GraphBuilder g;
  Value w = g.input("w", v1::DTYPE_F32, {2});
  g.output(w + g.scalar(0), "copy");
  RunOptions keep = session_->options();
  keep.keep = {"copy"};
  tgrack::v1::Placement on_b;
  *on_b.mutable_device() = dev("node-b", 1);
  auto single = pool_.client().run(*g.build(), {{"w", random_f32({2}, 3)}}, [&] {
    RunOptions o = keep;
    o.placement = on_b;
    return o;
  }());
  ASSERT_TRUE(single.ok()) << single.status();
  RunOptions wrong_layout = session_->options();
  wrong_layout.input("w", single->kept[0]);
  auto layout = pool_.client().replay(first->plan_id, {{"x", random_f32({4, 2}, 1)}}, wrong_layout);
  ASSERT_FALSE(layout.ok());
  EXPECT_THAT(layout.status().message(), HasSubstr("input 'w' was planned replicated on node-a/0,node-b/0"));
  EXPECT_THAT(layout.status().message(), HasSubstr("is whole on node-b/1"));

  // Not fed at all.
  auto missing = pool_.client().replay(first->plan_id, {{"x", random_f32({4, 2}, 1)}},
                                       session_->options());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("input 'w' (f32[2]) is not fed"));
}

TEST_F(ReplayTest, TwoInputsFedOneRemoteTensorAreRefused) {
  GraphBuilder g;
  Value a = g.input("a", v1::DTYPE_F32, {2});
  Value b = g.input("b", v1::DTYPE_F32, {2});
  g.output(a + b, "sum");
  g.output(a * g.scalar(1), "a_copy");
  RunOptions keep = session_->options();
  keep.keep = {"a_copy"};
  auto made = pool_.client().run(*g.build(), {{"a", random_f32({2}, 1)}, {"b", random_f32({2}, 2)}}, keep);
  ASSERT_TRUE(made.ok()) << made.status();
  RunOptions aliased = session_->options();
  aliased.input("a", made->kept[0]).input("b", made->kept[0]);
  auto result = pool_.client().run(*g.build(), {}, aliased);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("an input may not alias another"));
}

TEST_F(ReplayTest, CaptureThatWouldPlanDifferentlyIsRefused) {
  // No placement: the controller picks a device, and cordoning it changes the pick.
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {2});
  g.output(x + g.scalar(1), "y");
  const v1::Graph graph = *g.build();
  RunOptions options = session_->options();
  options.capture = true;
  auto first = pool_.client().run(graph, {{"x", random_f32({2}, 1)}}, options);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string node = first->devices.at(0).node();
  Completed cordon = run(pool_.dir(), TGCTL_PATH, {"--controller", pool_.controller_address(),
                                                   "cordon", node, "--reason", "test"});
  ASSERT_EQ(cordon.exit_status, 0) << cordon.err;
  auto second = pool_.client().run(graph, {{"x", random_f32({2}, 1)}}, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("capture refused"));
  EXPECT_THAT(second.status().message(), HasSubstr(first->plan_id));
}

// The pool of GraphsTest with node-b holding "test_hold..." kernels until released.
class HeldGraphTest : public GraphsTest {
 protected:
  void SetUp() override {
    pool_.hold_kernels_on("node-b");
    GraphsTest::SetUp();
  }
};

// Runs held_graph over node-a/0 and node-b/0 and kills node-b while its shard is held, so
// mid-graph; returns the run's result.
absl::StatusOr<RunResult> run_and_kill_node_b(Pool& pool, const std::vector<v1::DeviceRef>& devices) {
  absl::StatusOr<RunResult> result = absl::UnknownError("not run");
  std::thread runner(
      [&] { result = pool.client().run(held_graph(devices), {{"x", random_f32({2, 4}, 5)}}); });
  const bool held = pool.wait_held("node-b", "test_hold_graph");
  pool.kill_daemon("node-b");
  runner.join();
  EXPECT_TRUE(held) << "node-b's shard was never held: " << result.status();
  return result;
}

TEST_F(HeldGraphTest, DaemonDyingMidGraphFailsItAndLaterGraphsRun) {
  auto result = run_and_kill_node_b(pool_, two_);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), ::testing::ContainsRegex("job-[0-9a-f]{32}"));

  // The survivor runs the next graph.
  GraphBuilder small;
  Value v = small.input("v", v1::DTYPE_F32, {2});
  small.output(v + v, "w");
  v1::Graph next = *small.build();
  lay_out(next, "v", {dev("node-a", 0), dev("node-a", 1)}, true, 0);
  auto later = pool_.client().run(next, {{"v", random_f32({2}, 6)}});
  ASSERT_TRUE(later.ok()) << later.status();
}

// node-a's all-reduce fails as well, because its peer is gone, and its error may reach the
// controller first; the error must still name node-b, the node that died, and not blame
// node-a.
TEST_F(HeldGraphTest, DaemonDyingMidGraphIsNamedInTheError) {
  auto result = run_and_kill_node_b(pool_, two_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  const std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr("node 'node-b' (node-b/0)"));
  EXPECT_THAT(message, HasSubstr("is unreachable"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("node 'node-a'")));
}

TEST_F(HeldGraphTest, CancelStopsARunningGraphWithTheReason) {
  absl::StatusOr<RunResult> result = absl::UnknownError("not run");
  std::thread runner(
      [&] { result = pool_.client().run(held_graph(two_), {{"x", random_f32({2, 4}, 5)}}); });
  const bool held = pool_.wait_held("node-b", "test_hold_graph");
  std::string job;
  if (held) {
    auto jobs = pool_.client().jobs(/*running_only=*/true);
    if (jobs.ok() && jobs->size() == 1) job = jobs->front().job_id();
  }
  Completed cancel;
  if (!job.empty()) {
    cancel = run(pool_.dir(), TGCTL_PATH, {"--controller", pool_.controller_address(), "cancel",
                                           job, "--reason", "operator says stop"});
  }
  pool_.release("node-b", "test_hold_graph");
  runner.join();
  ASSERT_TRUE(held) << "node-b's shard was never held: " << result.status();
  ASSERT_FALSE(job.empty()) << "the held job is not the one running job";
  EXPECT_EQ(cancel.exit_status, 0) << cancel.err;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(result.status().message(), HasSubstr("operator says stop"));
  auto jobs = pool_.client().jobs();
  ASSERT_TRUE(jobs.ok());
  bool recorded = false;
  for (const v1::JobInfo& info : *jobs) {
    if (info.job_id() == job) {
      recorded = true;
      EXPECT_EQ(info.state(), v1::JOB_STATE_CANCELLED);
      EXPECT_EQ(info.devices_size(), 2);
    }
  }
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace tg::testing
