#include "controller/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "devices/graph/type_rules.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

v1::DeviceRef dev(const std::string& node, uint32_t index) {
  v1::DeviceRef d;
  d.set_node(node);
  d.set_index(index);
  return d;
}

v1::Node& node_named(v1::Graph& graph, const std::string& name) {
  for (v1::Node& node : *graph.mutable_nodes()) {
    if (node.name() == name) return node;
  }
  throw std::runtime_error("no node " + name);
}

void shard(v1::Graph& graph, const std::string& input, std::vector<v1::DeviceRef> devices,
           int axis, uint32_t shards = 0) {
  v1::Sharding* s = node_named(graph, input).mutable_sharding();
  for (auto& d : devices) *s->add_devices() = d;
  s->set_axis(axis);
  s->set_shards(shards);
}

void replicate(v1::Graph& graph, const std::string& input, std::vector<v1::DeviceRef> devices) {
  v1::Sharding* s = node_named(graph, input).mutable_sharding();
  for (auto& d : devices) *s->add_devices() = d;
  s->set_replicated(true);
}

absl::StatusOr<Plan> plan(const v1::Graph& graph, bool deterministic = false) {
  auto validated = validate_graph(graph);
  if (!validated.ok()) return validated.status();
  PlanOptions options;
  options.deterministic = deterministic;
  options.place = [](const v1::Placement& p) -> absl::StatusOr<v1::DeviceRef> {
    if (p.has_device()) return p.device();
    return dev("a", 0);
  };
  options.address_of = [](const std::string& node) { return node + ":1"; };
  options.communicator = [](const std::vector<v1::DeviceRef>& devices) -> absl::StatusOr<std::string> {
    return "comm-" + std::to_string(devices.size());
  };
  return plan_graph(graph, *validated, {}, options);
}

std::vector<std::string> ops_of(const v1::Graph& fragment) {
  std::vector<std::string> ops;
  for (const v1::Node& node : fragment.nodes()) ops.push_back(op_name(node.op()));
  return ops;
}

// y = sum over the batch of x @ w, x sharded over two devices, w replicated.
v1::Graph data_parallel_graph(int batch) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {batch, 3});
  Value w = g.input("w", v1::DTYPE_F32, {3, 2});
  g.output(sum(matmul(x, w), {0}), "y");
  v1::Graph graph = *g.build();
  return graph;
}

TEST(Planner, ShardedMatmulReducedOverBatchAllReducesOnEveryDevice) {
  v1::Graph graph = data_parallel_graph(8);
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  replicate(graph, "w", {dev("a", 0), dev("b", 0)});
  auto p = plan(graph);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->devices.size(), 2u);
  EXPECT_EQ(p->comm_ids, std::vector<std::string>{"comm-2"});
  for (const v1::Graph& fragment : p->fragments) {
    EXPECT_THAT(ops_of(fragment), ::testing::Contains("OP_ALL_REDUCE"));
    EXPECT_EQ(fragment.outputs(0), "y");
  }
  // Each device's shard of x is [4, 3].
  EXPECT_EQ(node_named(p->fragments[1], "x#1").shape(0), 4);
  ASSERT_EQ(p->inputs.size(), 2u);
  EXPECT_EQ(p->inputs[0].pieces.size(), 2u);
  EXPECT_EQ(p->outputs[0].layout.kind, Layout::Kind::kReplicated);
}

TEST(Planner, DeterministicModeGathersPartialsInShardOrder) {
  v1::Graph graph = data_parallel_graph(8);
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0, 4);
  replicate(graph, "w", {dev("a", 0), dev("b", 0)});
  auto p = plan(graph, /*deterministic=*/true);
  ASSERT_TRUE(p.ok()) << p.status();
  for (const v1::Graph& fragment : p->fragments) {
    auto ops = ops_of(fragment);
    EXPECT_THAT(ops, ::testing::Contains("OP_ALL_GATHER"));
    EXPECT_THAT(ops, ::testing::Not(::testing::Contains("OP_ALL_REDUCE")));
  }
  // Device a holds shards 0 and 1, stacked in that order.
  const v1::Node& stack = node_named(p->fragments[0], "y/stack");
  EXPECT_THAT(stack.inputs(), ::testing::ElementsAre("y/row0", "y/row1"));
  EXPECT_EQ(node_named(p->fragments[0], "y").op(), v1::OP_SUM);
}

const v1::Node& node_in(const v1::Graph& fragment, const std::string& name) {
  for (const v1::Node& node : fragment.nodes()) {
    if (node.name() == name) return node;
  }
  throw std::runtime_error("no node " + name);
}

// mean = cast(sum / count): the combined sum divided by the f32 count, rounded once to f16.
TEST(Planner, ShardedHalfMeanDividesTheCombinedSumByTheCount) {
  for (bool deterministic : {false, true}) {
    SCOPED_TRACE(deterministic ? "deterministic" : "all-reduce");
    GraphBuilder g;
    Value x = g.input("x", v1::DTYPE_F16, {4, 2});
    g.output(mean(x, {0}), "y");
    v1::Graph graph = *g.build();
    shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
    auto p = plan(graph, deterministic);
    ASSERT_TRUE(p.ok()) << p.status();
    for (const v1::Graph& fragment : p->fragments) {
      const v1::Node& y = node_in(fragment, "y");
      EXPECT_EQ(y.op(), v1::OP_CAST);
      EXPECT_EQ(y.dtype(), v1::DTYPE_F16);
      ASSERT_EQ(y.inputs_size(), 1);
      const v1::Node& quotient = node_in(fragment, y.inputs(0));
      EXPECT_EQ(quotient.op(), v1::OP_DIV);
      const std::string combined = deterministic ? "y/ordered" : "y/all_reduce";
      EXPECT_THAT(quotient.inputs(), ::testing::ElementsAre(combined, "y/count"));
      EXPECT_EQ(node_in(fragment, "y/count").value().dtype(), v1::DTYPE_F32);
    }
  }
}

// The collectives reduce numbers, so a bool max (or) travels as i32 0/1 and comes back bool.
TEST(Planner, ShardedBoolMaxAllReducesAsI32) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_BOOL, {4, 2});
  g.output(reduce_max(x, {0}), "y");
  v1::Graph graph = *g.build();
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  auto p = plan(graph);
  ASSERT_TRUE(p.ok()) << p.status();
  for (const v1::Graph& fragment : p->fragments) {
    EXPECT_EQ(node_in(fragment, "y/as_i32").dtype(), v1::DTYPE_I32);
    EXPECT_THAT(node_in(fragment, "y/all_reduce").inputs(), ::testing::ElementsAre("y/as_i32"));
    const v1::Node& y = node_in(fragment, "y");
    EXPECT_EQ(y.op(), v1::OP_CAST);
    EXPECT_EQ(y.dtype(), v1::DTYPE_BOOL);
  }
}

TEST(Planner, CrossDeviceEdgeBecomesSendAndReceive) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {4});
  Value y = x + x;
  g.output(relu(y), "z");
  v1::Graph graph = *g.build();
  *node_named(graph, "z").mutable_placement()->mutable_device() = dev("b", 1);
  auto p = plan(graph);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->devices.size(), 2u);
  EXPECT_THAT(ops_of(p->fragments[0]), ::testing::ElementsAre("OP_INPUT", "OP_ADD", "OP_SEND"));
  EXPECT_THAT(ops_of(p->fragments[1]), ::testing::ElementsAre("OP_RECV", "OP_RELU"));
  const v1::Node& send = p->fragments[0].nodes(2);
  EXPECT_EQ(send.transfer().peer().node(), "b");
  EXPECT_EQ(send.transfer().peer_address(), "b:1");
  EXPECT_EQ(send.transfer().key(), p->fragments[1].nodes(0).transfer().key());
}

TEST(Planner, ShardedOutputComesBackAsShards) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {6, 2});
  g.output(x * g.scalar(2), "y");
  v1::Graph graph = *g.build();
  shard(graph, "x", {dev("a", 0), dev("a", 1), dev("b", 0)}, 0);
  auto p = plan(graph);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->outputs[0].pieces.size(), 3u);
  EXPECT_EQ(p->outputs[0].pieces[2].node, "y#2");
  EXPECT_EQ(p->outputs[0].pieces[2].device.node(), "b");
}

TEST(Planner, WholeOperandAlongTheShardedAxisIsSlicedPerShard) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {8, 3});
  Value z = g.input("z", v1::DTYPE_F32, {8, 3});
  g.output(x + z, "y");
  v1::Graph graph = *g.build();
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  auto p = plan(graph);
  ASSERT_TRUE(p.ok()) << p.status();
  // z lives whole on a/0; b/0 receives it and reads rows [4, 8).
  const v1::Node& part = node_named(p->fragments[1], "z#1/part_of_whole");
  EXPECT_EQ(part.op(), v1::OP_SLICE);
  EXPECT_THAT(part.starts(), ::testing::ElementsAre(4, 0));
  EXPECT_THAT(part.ends(), ::testing::ElementsAre(8, 3));
  EXPECT_THAT(node_named(p->fragments[1], "y#1").inputs(),
              ::testing::ElementsAre("x#1", "z#1/part_of_whole"));
}

TEST(Planner, ReshapeThatMixesTheShardedAxisIsRefused) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {8, 3});
  g.output(reshape(x, {3, 8}), "y");
  v1::Graph graph = *g.build();
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  auto p = plan(graph);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(),
              HasSubstr("node 'y' (OP_RESHAPE): the reshape does not keep axis 0"));
}

TEST(Planner, UnevenShardsAreRefused) {
  v1::Graph graph = data_parallel_graph(10);
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0, 4);
  replicate(graph, "w", {dev("a", 0), dev("b", 0)});
  auto p = plan(graph);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("axis 0 of length 10 does not split into 4 equal shards"));
}

TEST(Planner, ShardCountBeyondTheLimitIsRefusedNamingIt) {
  v1::Graph graph = data_parallel_graph(0);  // Every count divides an empty axis.
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0, 4294967294u);
  replicate(graph, "w", {dev("a", 0), dev("b", 0)});
  auto p = plan(graph);
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
  EXPECT_THAT(p.status().message(),
              HasSubstr("sharding.shards 4294967294 is more than the limit of 65536"));
}

TEST(Planner, ShardingDeviceWithoutANodeIsRefusedNamingIt) {
  v1::Graph graph = data_parallel_graph(8);
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  replicate(graph, "w", {dev("a", 0), dev("", 1)});
  auto p = plan(graph);
  ASSERT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
  EXPECT_THAT(p.status().message(), HasSubstr("node 'w' (OP_INPUT): sharding device 1 names no node"));
}

TEST(Planner, InputsOnDifferentDeviceGroupsAreRefused) {
  v1::Graph graph = data_parallel_graph(8);
  shard(graph, "x", {dev("a", 0), dev("b", 0)}, 0);
  replicate(graph, "w", {dev("a", 0), dev("a", 1)});
  auto p = plan(graph);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("its inputs live on different devices"));
}

}  // namespace
}  // namespace tg
