// FLOPs per op (devices/op_flops.h) against counts worked out by hand, and what the executor
// reports a run used (devices/graph/executor.h: ExecuteUsage).
#include <absl/strings/match.h>

#include "devices/graph/executor.h"
#include "devices/job_usage.h"
#include "devices/op_flops.h"
#include "graph_helpers.h"

namespace tg::testing {
namespace {

uint64_t flops_of(GraphBuilder& g, const std::string& name) {
  auto validated = validate_graph(g.graph());
  EXPECT_TRUE(validated.ok()) << validated.status();
  if (!validated.ok()) return 0;
  for (const v1::Node& node : g.graph().nodes()) {
    if (node.name() != name) continue;
    std::vector<TensorType> inputs;
    for (const std::string& in : node.inputs()) inputs.push_back(validated->types.at(in));
    auto flops = op_flops(node, inputs, validated->types.at(name));
    EXPECT_TRUE(flops.ok()) << flops.status();
    return flops.ok() ? *flops : 0;
  }
  ADD_FAILURE() << "no node " << name;
  return 0;
}

TEST(OpFlops, MatmulIsTwoFlopsPerMultiplyAdd) {
  GraphBuilder g;
  g.input("a", F32, {3, 4});
  g.input("b", F32, {4, 5});
  g.node("mm", v1::OP_MATMUL, {"a", "b"});
  g.output("mm");
  EXPECT_EQ(flops_of(g, "mm"), 2u * 3 * 4 * 5);  // 120
}

TEST(OpFlops, BatchedMatmulCountsEveryBroadcastMatrix) {
  GraphBuilder g;
  g.input("a", F32, {2, 1, 3, 4});
  g.input("b", F32, {6, 4, 5});
  g.node("mm", v1::OP_MATMUL, {"a", "b"});  // [2, 6, 3, 5]
  g.output("mm");
  EXPECT_EQ(flops_of(g, "mm"), 2u * 6 * 2 * 3 * 4 * 5);  // 1440
}

TEST(OpFlops, EmptyContractionIsFree) {
  GraphBuilder g;
  g.input("a", F32, {3, 0});
  g.input("b", F32, {0, 5});
  g.node("mm", v1::OP_MATMUL, {"a", "b"});
  g.output("mm");
  EXPECT_EQ(flops_of(g, "mm"), 0u);
}

TEST(OpFlops, ElementwiseIsOnePerOutputElement) {
  GraphBuilder g;
  g.input("x", F32, {3, 5});
  g.input("row", F32, {5});
  g.input("c", BOOL, {3, 1});
  g.node("add", v1::OP_ADD, {"x", "row"});
  g.node("tanh", v1::OP_TANH, {"x"});
  g.node("lt", v1::OP_LT, {"row", "x"});
  g.node("where", v1::OP_WHERE, {"c", "x", "row"});
  for (const char* out : {"add", "tanh", "lt", "where"}) g.output(out);
  EXPECT_EQ(flops_of(g, "add"), 15u);
  EXPECT_EQ(flops_of(g, "tanh"), 15u);
  EXPECT_EQ(flops_of(g, "lt"), 15u);
  EXPECT_EQ(flops_of(g, "where"), 15u);
}

TEST(OpFlops, ReductionsAreOnePerInputElement) {
  GraphBuilder g;
  g.input("x", F32, {2, 3, 4});
  g.node("sum", v1::OP_SUM, {"x"}).add_axes(1);
  g.node("mean", v1::OP_MEAN, {"x"});
  g.node("max", v1::OP_REDUCE_MAX, {"x"}).add_axes(2);
  for (const char* out : {"sum", "mean", "max"}) g.output(out);
  EXPECT_EQ(flops_of(g, "sum"), 24u);
  EXPECT_EQ(flops_of(g, "mean"), 24u);
  EXPECT_EQ(flops_of(g, "max"), 24u);
}

TEST(OpFlops, MovementCastsAndLeavesAreFree) {
  GraphBuilder g;
  g.input("x", F32, {2, 3});
  g.node("cast", v1::OP_CAST, {"x"}).set_dtype(F64);
  v1::Node& p = g.node("perm", v1::OP_PERMUTE, {"x"});
  p.add_axes(1);
  p.add_axes(0);
  v1::Node& r = g.node("reshape", v1::OP_RESHAPE, {"x"});
  r.add_shape(6);
  g.node("concat", v1::OP_CONCAT, {"x", "x"});
  for (const char* out : {"cast", "perm", "reshape", "concat"}) g.output(out);
  for (const char* name : {"x", "cast", "perm", "reshape", "concat"}) {
    EXPECT_EQ(flops_of(g, name), 0u) << name;
  }
}

TEST(OpFlops, MatmulThatOverflowsIsRefusedNamingTheNode) {
  v1::Node mm;
  mm.set_name("huge");
  mm.set_op(v1::OP_MATMUL);
  const int64_t k = int64_t{1} << 62;
  const TensorType inputs[] = {{F32, {2, k}}, {F32, {k, 1}}};
  auto flops = op_flops(mm, inputs, TensorType{F32, {2, 1}});  // 2 * 2^62 * 2 = 2^64
  ASSERT_EQ(flops.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(flops.status().message(), "node 'huge'")) << flops.status();
  EXPECT_TRUE(absl::StrContains(flops.status().message(), "64 bits")) << flops.status();
  // One less in k fits: 2 * (2^62 - 1) * 2 = 2^64 - 4.
  const TensorType fits[] = {{F32, {2, k - 1}}, {F32, {k - 1, 1}}};
  auto largest = op_flops(mm, fits, TensorType{F32, {2, 1}});
  ASSERT_TRUE(largest.ok()) << largest.status();
  EXPECT_EQ(*largest, ~uint64_t{0} - 3);
}

TEST(OpFlops, GraphWhoseSumOverflowsIsRefusedNamingWhere) {
  GraphBuilder g;
  g.input("a", F32, {1, 1});
  g.node("m1", v1::OP_MATMUL, {"a", "a"});
  g.node("m2", v1::OP_MATMUL, {"a", "a"});
  // Types as if k were 2^62: each matmul is 2^63 FLOPs; the two sum to 2^64.
  const int64_t k = int64_t{1} << 62;
  ValidatedGraph validated;
  validated.types["a"] = TensorType{F32, {1, k}};
  validated.types["m1"] = TensorType{F32, {1, 1}};
  validated.types["m2"] = TensorType{F32, {1, 1}};
  auto total = graph_flops(g.graph(), validated);
  ASSERT_EQ(total.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(total.status().message(), "at node 'm2'")) << total.status();
}

TEST(ExecuteUsage, CountsFlopsAndPeakMemoryOfARun) {
  CpuDevice device("cpu0", uint64_t{64} << 20, 1);
  GraphBuilder g;
  g.input("x", F32, {2, 3});                  // 24 bytes
  g.input("w", F32, {3, 4});                  // 48 bytes
  g.node("mm", v1::OP_MATMUL, {"x", "w"});    // 32 bytes; 2*2*3*4 = 48 FLOPs
  g.node("y", v1::OP_RELU, {"mm"});           // 32 bytes; 8 FLOPs
  g.output("y");
  ExecuteOptions options;
  ExecuteUsage usage;
  options.usage = &usage;
  auto result = execute_graph(device, g.graph(),
                              {HostTensor(TensorType{F32, {2, 3}}), HostTensor(TensorType{F32, {3, 4}})},
                              {"x", "w"}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(usage.flops, 56u);
  // x, w and mm are held together while mm runs; x and w are freed before y is allocated.
  EXPECT_EQ(usage.peak_memory_bytes, 24u + 48u + 32u);
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(ExecuteUsage, AFailedRunReportsWhatRanBeforeIt) {
  CpuDevice device("cpu0", uint64_t{64} << 20, 1);
  GraphBuilder g;
  g.input("x", I32, {4});
  g.node("neg", v1::OP_NEG, {"x"});           // 4 FLOPs, runs
  g.input("zero", I32, {4});
  g.node("div", v1::OP_DIV, {"neg", "zero"});  // fails at run time: division by zero
  g.output("div");
  ExecuteOptions options;
  ExecuteUsage usage;
  options.usage = &usage;
  auto result = execute_graph(device, g.graph(),
                              {tensor(I32, {4}, {1, 2, 3, 4}), tensor(I32, {4}, {0, 0, 0, 0})},
                              {"x", "zero"}, options);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(usage.flops, 4u + 4u);  // Both kernels were launched.
  EXPECT_EQ(device.memory_used(), 0u);
}

TEST(JobUsage, PartsAddUpAndCountsSaturateInsteadOfWrapping) {
  v1::JobUsage total;
  v1::JobUsage part;
  part.set_flops(120);
  part.set_device_seconds(0.5);
  part.set_bytes_moved(256);
  part.set_peak_memory_bytes(1000);
  add_usage(total, part);
  add_usage(total, part);
  EXPECT_EQ(total.flops(), 240u);
  EXPECT_EQ(total.device_seconds(), 1.0);
  EXPECT_EQ(total.bytes_moved(), 512u);
  EXPECT_EQ(total.peak_memory_bytes(), 2000u);
  part.set_flops(~uint64_t{0} - 100);
  add_usage(total, part);
  EXPECT_EQ(total.flops(), ~uint64_t{0});
}

}  // namespace
}  // namespace tg::testing
