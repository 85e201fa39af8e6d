// Reductions over a sharded axis through a real pool (a controller and two daemons), in the
// default (all-reduce) and the deterministic mode: f16/bf16 mean, NaN through max/min, and
// bool max/min (or/and).
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

HostTensor f32_tensor(const Shape& shape, const std::vector<float>& values) {
  HostTensor t(TensorType{v1::DTYPE_F32, shape});
  std::copy(values.begin(), values.end(), t.values<float>().begin());
  return t;
}

HostTensor half_tensor(v1::DType dtype, const Shape& shape, const std::vector<float>& values) {
  HostTensor t(TensorType{dtype, shape});
  for (size_t i = 0; i < values.size(); ++i) {
    t.values<uint16_t>()[i] =
        dtype == v1::DTYPE_F16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
  }
  return t;
}

std::vector<float> half_values(const HostTensor& t) {
  std::vector<float> out;
  for (uint16_t h : t.values<uint16_t>()) {
    out.push_back(t.dtype() == v1::DTYPE_F16 ? half_to_float(h) : bfloat16_to_float(h));
  }
  return out;
}

class ShardedReductionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }

  // Runs `graph` with its input "x" sharded along axis 0 over node-a/0 and node-b/0.
  HostTensor run_sharded(v1::Graph graph, const HostTensor& x, bool deterministic) {
    for (v1::Node& node : *graph.mutable_nodes()) {
      if (node.name() != "x") continue;
      *node.mutable_sharding()->add_devices() = device_ref("node-a", 0);
      *node.mutable_sharding()->add_devices() = device_ref("node-b", 0);
    }
    RunOptions options;
    options.deterministic = deterministic;
    auto result = pool_.client().run(graph, {{"x", x}}, options);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok() || result->outputs.empty()) return HostTensor();
    return result->outputs[0];
  }

  Pool pool_;
};

TEST_F(ShardedReductionsTest, HalfMeanOverTheShardedAxisKeepsItsShape) {
  for (v1::DType dtype : {v1::DTYPE_F16, v1::DTYPE_BF16}) {
    for (bool deterministic : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (deterministic ? " deterministic" : ""));
      GraphBuilder g;
      g.output(mean(g.input("x", dtype, {4, 2}), {0}), "y");
      HostTensor y = run_sharded(*g.build(),
                                 half_tensor(dtype, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), deterministic);
      EXPECT_EQ(y.type(), (TensorType{dtype, {2}}));
      if (y.dtype() == dtype) {
        EXPECT_EQ(half_values(y), (std::vector<float>{4, 5}));
      }
    }
  }
}

TEST_F(ShardedReductionsTest, MaxAndMinKeepNanInEitherMode) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // The NaN on the second device, then on the first: either side of the combination.
  for (const std::vector<float>& values :
       {std::vector<float>{1, 2, nan, 3}, std::vector<float>{nan, 3, 1, 2}}) {
    for (bool deterministic : {false, true}) {
      SCOPED_TRACE(deterministic ? "deterministic" : "all-reduce");
      GraphBuilder g;
      Value x = g.input("x", v1::DTYPE_F32, {4});
      g.output(reduce_max(x), "max");
      g.output(reduce_min(x), "min");
      v1::Graph graph = *g.build();
      for (v1::Node& node : *graph.mutable_nodes()) {
        if (node.name() != "x") continue;
        *node.mutable_sharding()->add_devices() = device_ref("node-a", 0);
        *node.mutable_sharding()->add_devices() = device_ref("node-b", 0);
      }
      RunOptions options;
      options.deterministic = deterministic;
      auto result = pool_.client().run(graph, {{"x", f32_tensor({4}, values)}}, options);
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_EQ(result->outputs.size(), 2u);
      EXPECT_TRUE(std::isnan(result->outputs[0].values<float>()[0])) << "max";
      EXPECT_TRUE(std::isnan(result->outputs[1].values<float>()[0])) << "min";
    }
  }
}

TEST_F(ShardedReductionsTest, BoolMaxIsAnyAndMinIsAll) {
  // Columns: all false, one true on the second device, all true.
  HostTensor x(TensorType{v1::DTYPE_BOOL, {4, 3}});
  const std::vector<uint8_t> bits = {0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1};
  std::copy(bits.begin(), bits.end(), x.values<uint8_t>().begin());
  for (bool deterministic : {false, true}) {
    SCOPED_TRACE(deterministic ? "deterministic" : "all-reduce");
    GraphBuilder g;
    g.output(reduce_max(g.input("x", v1::DTYPE_BOOL, {4, 3}), {0}), "any");
    HostTensor any = run_sharded(*g.build(), x, deterministic);
    ASSERT_EQ(any.type(), (TensorType{v1::DTYPE_BOOL, {3}}));
    EXPECT_EQ(std::vector<uint8_t>(any.values<uint8_t>().begin(), any.values<uint8_t>().end()),
              (std::vector<uint8_t>{0, 1, 1}));
    GraphBuilder h;
    h.output(reduce_min(h.input("x", v1::DTYPE_BOOL, {4, 3}), {0}), "all");
    HostTensor all = run_sharded(*h.build(), x, deterministic);
    ASSERT_EQ(all.type(), (TensorType{v1::DTYPE_BOOL, {3}}));
    EXPECT_EQ(std::vector<uint8_t>(all.values<uint8_t>().begin(), all.values<uint8_t>().end()),
              (std::vector<uint8_t>{0, 0, 1}));
  }
}

}  // namespace
}  // namespace tg::testing
