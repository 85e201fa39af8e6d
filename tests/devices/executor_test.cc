// run_graph end to end: results, order of outputs, memory freed on success and failure.
#include <atomic>
#include <thread>

#include "graph_helpers.h"

namespace tg::testing {
namespace {

constexpr uint64_t MiB = uint64_t{1} << 20;

TEST(RunGraph, DenseLayer) {
  // y = relu(x @ w + b), checked against hand arithmetic.
  GraphBuilder g;
  g.input("x", F32, {2, 3});
  g.input("w", F32, {3, 2});
  g.input("b", F32, {2});
  g.node("m", v1::OP_MATMUL, {"x", "w"});
  g.node("s", v1::OP_ADD, {"m", "b"});
  g.node("y", v1::OP_RELU, {"s"});
  g.node("t", v1::OP_SUM, {"y"});
  g.output("y").output("t").output("y");
  auto out = run(g, {{"x", tensor(F32, {2, 3}, {1, 2, 3, -1, -2, -3})},
                     {"w", tensor(F32, {3, 2}, {1, 0, 0, 1, 1, 1})},
                     {"b", tensor(F32, {2}, {0.5, -1})}});
  ASSERT_EQ(out.size(), 3u);
  // x @ w = [[4, 5], [-4, -5]]; + b = [[4.5, 4], [-3.5, -6]].
  EXPECT_EQ(values(out[0]), (std::vector<double>{4.5, 4, 0, 0}));
  EXPECT_EQ(values(out[1]), (std::vector<double>{8.5}));
  EXPECT_EQ(values(out[2]), values(out[0]));
}

TEST(RunGraph, FreesIntermediatesAfterTheirLastUse) {
  // A chain of 8 MiB tensors runs in a 24 MiB budget only if each is freed once read.
  GraphBuilder g;
  g.input("x0", F32, {2 * 1024 * 1024});
  for (int i = 1; i <= 10; ++i) {
    g.node("x" + std::to_string(i), v1::OP_NEG, {"x" + std::to_string(i - 1)});
  }
  g.output("x10");
  CpuDevice device("cpu0", 24 * MiB, 1);
  HostTensor x(TensorType{F32, {2 * 1024 * 1024}});
  x.values<float>()[7] = 3;
  auto out = run_graph(device, g.graph(), {x}, {"x0"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].values<float>()[7], 3);
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(RunGraph, AllocationFailureNamesTheNodeAndFreesEverything) {
  GraphBuilder g;
  g.input("x", F32, {1024, 1024});
  g.node("y", v1::OP_EXP, {"x"});
  g.node("z", v1::OP_ADD, {"x", "y"});
  g.output("z");
  CpuDevice device("cpu7", 9 * MiB, 1);
  auto out = run_graph(device, g.graph(), {HostTensor(TensorType{F32, {1024, 1024}})}, {"x"});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(out.status().message(),
            "node 'z': device cpu7: cannot allocate 4.0 MiB: 1.0 MiB of 9.0 MiB free");
  EXPECT_EQ(device.memory_used(), 0u);
  EXPECT_TRUE(device.allocate(9 * MiB).ok());  // Really free, not just accounted.
}

TEST(RunGraph, KernelFailureFreesEverything) {
  GraphBuilder g;
  g.input("a", I64, {3});
  g.node("z", v1::OP_SUB, {"a", "a"});
  g.node("q", v1::OP_DIV, {"a", "z"});
  g.node("r", v1::OP_NEG, {"q"});
  g.output("r");
  CpuDevice device("cpu0", MiB, 1);
  auto out = run_graph(device, g.graph(), {tensor(I64, {3}, {1, 2, 3})}, {"a"});
  EXPECT_EQ(out.status().message(), "node 'q' (OP_DIV): integer division by zero");
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(RunGraph, RefusesBadGraphsAndFeedsBeforeRunning) {
  GraphBuilder g;
  g.input("x", F32, {2});
  g.node("y", v1::OP_LOG, {"x"});
  g.output("y");
  CpuDevice device("cpu0", MiB, 1);
  auto wrong_feed = run_graph(device, g.graph(), {tensor(F32, {3}, {1, 2, 3})}, {"x"});
  EXPECT_EQ(wrong_feed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong_feed.status().message().find("input 'x' is declared f32[2] but fed f32[3]"),
            std::string::npos);
  g.graph().add_outputs("missing");
  auto bad_graph = run_graph(device, g.graph(), {tensor(F32, {2}, {1, 2})}, {"x"});
  EXPECT_EQ(bad_graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(RunGraph, UnusedNodesAndInputOutputs) {
  GraphBuilder g;
  g.input("x", I32, {2});
  g.node("unused", v1::OP_NEG, {"x"});
  g.output("x");
  auto out = run(g, {{"x", tensor(I32, {2}, {5, 6})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values(out[0]), (std::vector<double>{5, 6}));
}

TEST(RunGraph, DeviceIsReusableAcrossRuns) {
  GraphBuilder g;
  g.input("x", F64, {4});
  g.node("y", v1::OP_SQRT, {"x"});
  g.output("y");
  CpuDevice device("cpu0", MiB, 2);
  for (int i = 1; i <= 20; ++i) {
    auto out = run_graph(device, g.graph(), {tensor(F64, {4}, {1, 4, 9, double(i * i)})}, {"x"});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(values((*out)[0]), (std::vector<double>{1, 2, 3, double(i)}));
  }
  EXPECT_EQ(device.memory_used(), 0u);
}

}  // namespace
}  // namespace tg::testing

namespace tg::testing {
namespace {

// Runs `g` on a device with `threads` worker threads.
absl::StatusOr<std::vector<HostTensor>> run_on(int threads, const v1::Graph& g,
                                               const std::vector<HostTensor>& feeds,
                                               const std::vector<std::string>& names) {
  CpuDevice device("cpu0", uint64_t{1} << 30, threads);
  return run_graph(device, g, feeds, names);
}

TEST(RunGraph, WorkerThreadsGiveIdenticalResults) {
  // Large enough (67 x 1031) that elementwise and movement kernels split across threads.
  GraphBuilder g;
  g.input("a", F32, {67, 1031});
  g.input("b", F32, {1031});
  g.input("i", I32, {67, 1031});
  g.node("s", v1::OP_ADD, {"a", "b"});
  g.node("e", v1::OP_EXP, {"s"});
  g.node("c", v1::OP_GT, {"a", "b"});
  g.node("w", v1::OP_WHERE, {"c", "e", "a"});
  g.node("p", v1::OP_PERMUTE, {"w"}).add_axes(1);
  g.graph().mutable_nodes()->rbegin()->add_axes(0);
  g.node("h", v1::OP_CAST, {"p"}).set_dtype(BF16);
  v1::Node& x = g.node("x", v1::OP_EXPAND, {"b"});
  x.add_shape(40);
  x.add_shape(1031);
  g.node("q", v1::OP_DIV, {"i", "i"});
  g.output("h").output("x").output("q");
  std::vector<double> iv = sample(I32, 67 * 1031, 1, 100, 3);
  const std::vector<HostTensor> feeds = {tensor(F32, {67, 1031}, sample(F32, 67 * 1031, -2, 2, 1)),
                                         tensor(F32, {1031}, sample(F32, 1031, -2, 2, 2)),
                                         tensor(I32, {67, 1031}, iv)};
  const std::vector<std::string> names = {"a", "b", "i"};
  auto one = run_on(1, g.graph(), feeds, names);
  auto three = run_on(3, g.graph(), feeds, names);
  ASSERT_TRUE(one.ok() && three.ok()) << one.status() << three.status();
  for (size_t k = 0; k < one->size(); ++k) {
    ASSERT_EQ((*one)[k].type(), (*three)[k].type());
    EXPECT_EQ(std::memcmp((*one)[k].data(), (*three)[k].data(), (*one)[k].bytes()), 0) << k;
  }
  EXPECT_EQ(values((*three)[2]), std::vector<double>(67 * 1031, 1));
  // Spot-check the permuted where against the reference.
  const std::vector<double> a = values(feeds[0]), b = values(feeds[1]), h = values((*three)[0]);
  for (int64_t r : {0, 33, 66}) {
    for (int64_t c : {0, 500, 1030}) {
      const double s = static_cast<float>(a[r * 1031 + c] + b[c]);
      const double want = a[r * 1031 + c] > b[c] ? std::exp(s) : a[r * 1031 + c];
      EXPECT_NEAR(h[c * 67 + r], want, 8e-3 * std::max(1.0, std::fabs(want)));
    }
  }
  // A data error found by any thread is reported.
  iv[12345] = 0;
  const std::vector<HostTensor> zero = {feeds[0], feeds[1], tensor(I32, {67, 1031}, iv)};
  EXPECT_EQ(run_on(3, g.graph(), zero, names).status().message(),
            "node 'q' (OP_DIV): integer division by zero");
}

}  // namespace
}  // namespace tg::testing

namespace tg::testing {
namespace {

TEST(RunGraph, ConcurrentRunsOnSharedAndSeparateDevices) {
  GraphBuilder g;
  g.input("x", F32, {64, 64});
  g.node("m", v1::OP_MATMUL, {"x", "x"});
  g.node("s", v1::OP_SUM, {"m"});
  g.output("s");
  CpuDevice shared("cpu0", 64 * MiB, 1), other("cpu1", 64 * MiB, 2);
  std::atomic<int> wrong = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      CpuDevice& device = t % 2 ? other : shared;
      for (int i = 0; i < 10; ++i) {
        // x = c * ones: every entry of x @ x is 64 c^2, and the sum 64^3 c^2.
        const double c = t + i + 1;
        auto out = run_graph(device, g.graph(),
                             {tensor(F32, {64, 64}, std::vector<double>(4096, c))}, {"x"});
        if (!out.ok() || values((*out)[0])[0] != 262144 * c * c) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(shared.memory_used(), 0u);
  EXPECT_EQ(other.memory_used(), 0u);
}

}  // namespace
}  // namespace tg::testing
