#include "client/graph_builder.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

using tgrack::v1::DTYPE_F32;

const tgrack::v1::Node& find(const tgrack::v1::Graph& graph, const std::string& name) {
  for (const auto& node : graph.nodes()) {
    if (node.name() == name) return node;
  }
  static tgrack::v1::Node missing;
  ADD_FAILURE() << "no node " << name;
  return missing;
}

TEST(GraphBuilder, BuildsReluMatmulAddWithNamedOutput) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.constant<float>({1, 2, 3, 4, 5, 6}, {3, 2}, "w");
  Value b = g.constant<float>({1, 2}, {2});
  g.output(relu(matmul(x, w) + b), "y");
  auto graph = g.build();
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->outputs_size(), 1);
  EXPECT_EQ(graph->outputs(0), "y");
  const auto& y = find(*graph, "y");
  EXPECT_EQ(y.op(), tgrack::v1::OP_RELU);
  const auto& sum = find(*graph, y.inputs(0));
  EXPECT_EQ(sum.op(), tgrack::v1::OP_ADD);
  ASSERT_EQ(sum.inputs_size(), 2);
  EXPECT_EQ(find(*graph, sum.inputs(0)).op(), tgrack::v1::OP_MATMUL);
  EXPECT_EQ(sum.inputs(1), b.name());
  const auto& matmul_node = find(*graph, sum.inputs(0));
  EXPECT_EQ(matmul_node.inputs(0), "x");
  EXPECT_EQ(matmul_node.inputs(1), "w");
  EXPECT_EQ(find(*graph, "w").value().shape_size(), 2);
  EXPECT_EQ(find(*graph, "w").value().data().size(), 6 * sizeof(float));
}

TEST(GraphBuilder, RenamingAnOutputRewritesItsConsumers) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2});
  Value e = exp(x);
  Value l = log(e);
  g.output(e, "e");
  g.output(l, "l");
  auto graph = g.build();
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(find(*graph, "l").inputs(0), "e");
  EXPECT_EQ(graph->outputs(0), "e");
  EXPECT_EQ(e.name(), "e");
}

TEST(GraphBuilder, AttributesReachTheNodes) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3, 4});
  g.output(sum(x, {0, 2}, true), "s");
  g.output(permute(x, {2, 0, 1}), "p");
  g.output(slice(x, {0, 1, 0}, {2, 3, 4}, {1, 1, 2}), "sl");
  g.output(pad(x, {0, 1, 0}, {1, 0, 0}, 2.5), "pd");
  g.output(concat({x, x}, -1), "c");
  g.output(cast(x, tgrack::v1::DTYPE_F16), "ct");
  g.output(reshape(x, {6, -1}), "r");
  g.output(where(gt(x, x), x, -x), "w");
  auto graph = g.build();
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(find(*graph, "s").axes_size(), 2);
  EXPECT_TRUE(find(*graph, "s").keepdims());
  EXPECT_EQ(find(*graph, "p").axes(0), 2);
  EXPECT_EQ(find(*graph, "sl").steps(2), 2);
  EXPECT_EQ(find(*graph, "pd").pad_value(), 2.5);
  EXPECT_EQ(find(*graph, "c").axis(), -1);
  EXPECT_EQ(find(*graph, "c").inputs_size(), 2);
  EXPECT_EQ(find(*graph, "ct").dtype(), tgrack::v1::DTYPE_F16);
  EXPECT_EQ(find(*graph, "r").shape(1), -1);
  EXPECT_EQ(find(*graph, "w").op(), tgrack::v1::OP_WHERE);
  EXPECT_EQ(find(*graph, "w").inputs_size(), 3);
}

TEST(GraphBuilder, ValueFromAnotherBuilderIsAnError) {
  GraphBuilder g, other;
  Value x = g.input("x", DTYPE_F32, {2});
  Value y = other.input("y", DTYPE_F32, {2});
  g.output(x + y);
  auto graph = g.build();
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("another GraphBuilder"), std::string::npos);
}

TEST(GraphBuilder, DuplicateNameIsAnError) {
  GraphBuilder g;
  g.input("x", DTYPE_F32, {2});
  g.input("x", DTYPE_F32, {2});
  auto graph = g.build();
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("'x' is used twice"), std::string::npos);
}

TEST(GraphBuilder, ConstantWithWrongValueCountIsAnError) {
  GraphBuilder g;
  g.output(g.constant<float>({1, 2, 3}, {2, 2}, "k"));
  auto graph = g.build();
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("3 values for shape [2,2]"), std::string::npos);
}

}  // namespace
}  // namespace tg
