// gradients() checked by running forward and gradient graphs in-process on a CpuDevice, in f64,
// against central finite differences, plus the tie/kink conventions, dtypes, errors and a
// short SGD run.
#include "client/autodiff.h"

#include <cmath>
#include <functional>
#include <ostream>

#include <gtest/gtest.h>

#include "devices/cpu/cpu_device.h"
#include "devices/graph/graph_api.h"
#include "tests/devices/graph_helpers.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using tg::testing::sample;
using tg::testing::tensor;
using tg::testing::values;
constexpr DType F64 = v1::DTYPE_F64, F32 = v1::DTYPE_F32, I32 = v1::DTYPE_I32;

// Central differences with step kStep; an analytic gradient must agree within
// kTolerance * max(1, |finite difference|).
constexpr double kStep = 1e-6;
constexpr double kTolerance = 1e-6;

std::vector<HostTensor> run(CpuDevice& device, const v1::Graph& graph,
                            const std::vector<HostTensor>& feeds,
                            const std::vector<std::string>& names) {
  auto result = run_graph(device, graph, feeds, names);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : std::vector<HostTensor>{};
}

TensorType type_of(GraphBuilder& g, Value v) {
  auto graph = g.build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  auto validated = validate_graph(*graph);
  EXPECT_TRUE(validated.ok()) << validated.status();
  return validated.ok() ? validated->types.at(v.name()) : TensorType{};
}

// An f64 input fed with values drawn from [lo, hi); `wrt` asks for its gradient.
struct Param {
  std::string name;
  Shape shape;
  double lo = -1, hi = 1;
  bool wrt = true;
};

struct GradCase {
  std::string name;
  std::vector<Param> inputs;
  // Builds y from the inputs; the loss is y when y is a scalar, else sum(y * r) for a fixed
  // r of y's shape with entries in [0.5, 1.5), so every element's gradient differs.
  std::function<Value(GraphBuilder&, const std::vector<Value>&)> build;
};

void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

// Builds the case, asks for the gradients, and compares each element of each with central
// finite differences of the forward graph.
void check_against_finite_differences(const GradCase& c) {
  GraphBuilder g;
  std::vector<Value> xs, wrt;
  std::vector<HostTensor> feeds;
  std::vector<std::string> names;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Param& p = c.inputs[i];
    xs.push_back(g.input(p.name, F64, p.shape));
    if (p.wrt) wrt.push_back(xs.back());
    names.push_back(p.name);
    feeds.push_back(tensor(F64, p.shape, sample(F64, num_elements(p.shape), p.lo, p.hi,
                                                static_cast<uint32_t>(i + 1))));
  }
  Value y = c.build(g, xs);
  const TensorType y_type = type_of(g, y);
  Value loss = y;
  if (!y_type.shape.empty()) {
    Value r = g.constant(tensor(F64, y_type.shape, sample(F64, y_type.elements(), 0.5, 1.5, 99)));
    loss = sum(y * r);
  }
  g.output(loss, "loss");
  auto forward = g.build();
  ASSERT_TRUE(forward.ok()) << forward.status();

  auto grads = gradients(loss, wrt);
  ASSERT_TRUE(grads.ok()) << grads.status();
  ASSERT_EQ(grads->size(), wrt.size());
  for (Value grad : *grads) g.output(grad);
  auto full = g.build();
  ASSERT_TRUE(full.ok()) << full.status();

  CpuDevice device("cpu0", uint64_t{1} << 28, 1);
  std::vector<HostTensor> out = run(device, *full, feeds, names);
  ASSERT_EQ(out.size(), 1 + wrt.size());
  size_t j = 0;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].wrt) continue;
    SCOPED_TRACE("d loss / d " + c.inputs[i].name);
    const HostTensor& analytic = out[1 + j++];
    ASSERT_EQ(analytic.type(), (TensorType{F64, c.inputs[i].shape}));
    const std::vector<double> got = values(analytic);
    for (int64_t e = 0; e < feeds[i].elements(); ++e) {
      std::vector<HostTensor> plus = feeds, minus = feeds;
      plus[i].values<double>()[e] += kStep;
      minus[i].values<double>()[e] -= kStep;
      const std::vector<HostTensor> up = run(device, *forward, plus, names);
      const std::vector<HostTensor> down = run(device, *forward, minus, names);
      ASSERT_EQ(up.size(), 1u);
      ASSERT_EQ(down.size(), 1u);
      const double fd = (values(up[0])[0] - values(down[0])[0]) / (2 * kStep);
      EXPECT_NEAR(got[e], fd, kTolerance * std::max(1.0, std::fabs(fd))) << "element " << e;
    }
  }
}

using X = const std::vector<Value>&;

std::vector<GradCase> op_cases() {
  const Param a23{"a", {2, 3}}, positive23{"a", {2, 3}, 0.5, 2};
  return {
      {"neg", {a23}, [](GraphBuilder&, X x) { return neg(x[0]); }},
      {"exp", {a23}, [](GraphBuilder&, X x) { return exp(x[0]); }},
      {"log", {positive23}, [](GraphBuilder&, X x) { return log(x[0]); }},
      {"sqrt", {positive23}, [](GraphBuilder&, X x) { return sqrt(x[0]); }},
      {"relu", {a23}, [](GraphBuilder&, X x) { return relu(x[0]); }},
      {"sigmoid", {{"a", {2, 3}, -3, 3}}, [](GraphBuilder&, X x) { return sigmoid(x[0]); }},
      {"tanh", {{"a", {2, 3}, -2, 2}}, [](GraphBuilder&, X x) { return tanh(x[0]); }},
      {"add_row_broadcast", {a23, {"b", {3}}}, [](GraphBuilder&, X x) { return x[0] + x[1]; }},
      {"add_outer_broadcast", {{"a", {2, 1}}, {"b", {1, 3}}},
       [](GraphBuilder&, X x) { return x[0] + x[1]; }},
      {"add_scalar_broadcast", {{"a", {}}, {"b", {2, 3}}},
       [](GraphBuilder&, X x) { return x[0] + x[1]; }},
      {"sub_column_broadcast", {a23, {"b", {2, 1}}},
       [](GraphBuilder&, X x) { return x[0] - x[1]; }},
      {"mul_rank_broadcast", {{"a", {4, 1, 3}}, {"b", {2, 1}}},
       [](GraphBuilder&, X x) { return x[0] * x[1]; }},
      {"div_broadcast", {a23, {"b", {3}, 0.5, 2}}, [](GraphBuilder&, X x) { return x[0] / x[1]; }},
      {"maximum_broadcast", {a23, {"b", {3}}},
       [](GraphBuilder&, X x) { return maximum(x[0], x[1]); }},
      {"minimum_broadcast", {{"a", {2, 1}}, {"b", {2, 3}}},
       [](GraphBuilder&, X x) { return minimum(x[0], x[1]); }},
      {"pow_both_sides", {positive23, {"b", {3}, -1.5, 2}},
       [](GraphBuilder&, X x) { return pow(x[0], x[1]); }},
      {"pow_negative_base_integer_exponent", {{"a", {2, 3}, -2, 2}},
       [](GraphBuilder& g, X x) { return pow(x[0], g.scalar(3, F64)); }},
      {"where_broadcast_condition_gets_none", {{"c", {2, 3}}, a23, {"e", {3}}},
       [](GraphBuilder& g, X x) { return where(gt(x[0], g.scalar(0, F64)), x[1], x[2]); }},
      {"comparison_path_carries_none", {a23},
       [](GraphBuilder& g, X x) { return x[0] * cast(gt(x[0], g.scalar(0, F64)), F64); }},
      {"sum_one_axis", {a23}, [](GraphBuilder&, X x) { return sum(x[0], {1}); }},
      {"sum_axes_keepdims", {{"a", {2, 3, 4}}},
       [](GraphBuilder&, X x) { return sum(x[0], {0, 2}, true); }},
      {"sum_all", {a23}, [](GraphBuilder&, X x) { return sum(x[0]); }},
      {"mean_last_axis", {{"a", {2, 3, 4}}}, [](GraphBuilder&, X x) { return mean(x[0], {-1}); }},
      {"mean_all_keepdims", {a23}, [](GraphBuilder&, X x) { return mean(x[0], {}, true); }},
      {"reduce_max_axis", {{"a", {3, 4}}},
       [](GraphBuilder&, X x) { return reduce_max(x[0], {1}); }},
      {"reduce_max_axes_keepdims", {{"a", {2, 3, 4}}},
       [](GraphBuilder&, X x) { return reduce_max(x[0], {0, 2}, true); }},
      {"reduce_min_all", {{"a", {3, 4}}}, [](GraphBuilder&, X x) { return reduce_min(x[0]); }},
      {"matmul", {a23, {"b", {3, 4}}}, [](GraphBuilder&, X x) { return matmul(x[0], x[1]); }},
      {"matmul_batch", {{"a", {2, 2, 3}}, {"b", {3, 4}}},
       [](GraphBuilder&, X x) { return matmul(x[0], x[1]); }},
      {"matmul_batch_broadcast", {{"a", {2, 1, 2, 3}}, {"b", {3, 3, 4}}},
       [](GraphBuilder&, X x) { return matmul(x[0], x[1]); }},
      {"matmul_with_own_transpose", {a23},
       [](GraphBuilder&, X x) { return matmul(x[0], permute(x[0], {1, 0})); }},
      {"reshape", {a23}, [](GraphBuilder&, X x) { return reshape(x[0], {3, -1}); }},
      {"permute", {{"a", {2, 3, 4}}}, [](GraphBuilder&, X x) { return permute(x[0], {2, 0, 1}); }},
      {"expand", {{"a", {3, 1}}}, [](GraphBuilder&, X x) { return expand(x[0], {2, 3, 4}); }},
      {"slice", {{"a", {4, 5}}}, [](GraphBuilder&, X x) { return slice(x[0], {1, -4}, {3, 5}); }},
      {"slice_steps_past_end", {{"a", {5, 6}}},
       [](GraphBuilder&, X x) { return slice(x[0], {0, 1}, {5, 6}, {3, 2}); }},
      {"slice_steps_3d", {{"a", {3, 7, 4}}},
       [](GraphBuilder&, X x) { return slice(x[0], {1, -6, 0}, {3, 7, 4}, {1, 3, 2}); }},
      {"pad", {a23}, [](GraphBuilder&, X x) { return pad(x[0], {1, 0}, {0, 2}, 1.5); }},
      {"concat", {{"a", {2, 1}}, {"b", {2, 3}}, {"c", {2, 2}}},
       [](GraphBuilder&, X x) { return concat({x[0], x[1], x[2]}, 1); }},
      {"concat_negative_axis_partial_wrt",
       {{"a", {1, 3}}, {"b", {2, 3}, -1, 1, false}, {"c", {2, 3}}},
       [](GraphBuilder&, X x) { return concat({x[0], x[1], x[2]}, -2); }},
      {"reused_value_accumulates", {a23},
       [](GraphBuilder&, X x) { return x[0] * x[0] + exp(x[0]); }},
      {"chain", {positive23},
       [](GraphBuilder&, X x) {
         return tanh(x[0]) * sigmoid(x[0]) - sqrt(x[0]) / log(x[0] + x[0]);
       }},
  };
}

class GradientCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(GradientCheck, MatchesFiniteDifferences) { check_against_finite_differences(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Ops, GradientCheck, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<GradCase>& info) {
                           return info.param.name;
                         });

// mean((relu(x w1 + b1) w2 + b2 - target)^2).
Value mlp_loss(X p) {
  Value hidden = relu(matmul(p[0], p[1]) + p[2]);
  Value error = matmul(hidden, p[3]) + p[4] - p[5];
  return mean(error * error);
}

TEST(Autodiff, TwoLayerMlpMatchesFiniteDifferences) {
  check_against_finite_differences(
      {"mlp",
       {{"x", {6, 3}, -1, 1, false},
        {"w1", {3, 4}},
        {"b1", {4}},
        {"w2", {4, 2}},
        {"b2", {2}},
        {"target", {6, 2}, -1, 1, false}},
       [](GraphBuilder&, X p) { return mlp_loss(p); }});
}

// Builds loss(inputs), its gradients and runs them; returns [loss, gradients...].
std::vector<std::vector<double>> run_gradients(
    const std::vector<std::pair<std::string, HostTensor>>& inputs,
    const std::function<Value(GraphBuilder&, X)>& build) {
  GraphBuilder g;
  std::vector<Value> xs;
  std::vector<HostTensor> feeds;
  std::vector<std::string> names;
  for (const auto& [name, t] : inputs) {
    xs.push_back(g.input(name, t.dtype(), t.shape()));
    names.push_back(name);
    feeds.push_back(t);
  }
  Value loss = build(g, xs);
  g.output(loss);
  auto grads = gradients(loss, xs);
  EXPECT_TRUE(grads.ok()) << grads.status();
  if (!grads.ok()) return {};
  for (Value grad : *grads) g.output(grad);
  auto graph = g.build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  CpuDevice device("cpu0", uint64_t{1} << 28, 1);
  std::vector<std::vector<double>> out;
  for (const HostTensor& t : run(device, *graph, feeds, names)) out.push_back(values(t));
  return out;
}

TEST(Autodiff, ReduceMaxGivesEveryTiedPositionTheWholeGradient) {
  auto out = run_gradients({{"x", tensor(F64, {2, 3}, {1, 3, 3, 5, 2, 5})}},
                           [](GraphBuilder&, X x) {
                             return sum(reduce_max(x[0], {1}, true) * x[0]);
                           });
  ASSERT_EQ(out.size(), 2u);
  // d/dx of sum_i max_i * x_ij: max_i everywhere, plus sum_j x_ij at the row's maxima.
  EXPECT_EQ(out[1], (std::vector<double>{3, 3 + 7, 3 + 7, 5 + 12, 5, 5 + 12}));
}

TEST(Autodiff, MaximumAndMinimumGiveTiesToTheFirstInput) {
  auto out = run_gradients(
      {{"a", tensor(F64, {3}, {1, 2, 5})}, {"b", tensor(F64, {3}, {1, 3, 4})}},
      [](GraphBuilder&, X x) {
        return sum(maximum(x[0], x[1])) + sum(minimum(x[0], x[1]) * x[0]);
      });
  ASSERT_EQ(out.size(), 3u);
  // maximum: a wins at 0 (tie) and 2; minimum: a wins at 0 (tie) and 1.
  EXPECT_EQ(out[1], (std::vector<double>{1 + 2, 0 + 4, 1 + 4}));
  EXPECT_EQ(out[2], (std::vector<double>{0, 1, 5}));
}

TEST(Autodiff, ReluPassesNothingAtZero) {
  auto out = run_gradients({{"x", tensor(F64, {3}, {-1, 0, 2})}},
                           [](GraphBuilder&, X x) { return sum(relu(x[0])); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], (std::vector<double>{0, 0, 1}));
}

TEST(Autodiff, PowExponentGradientCountsOnlyPositiveBases) {
  auto out = run_gradients({{"a", tensor(F64, {3}, {-2, 0, 3})}, {"b", tensor(F64, {}, {2})}},
                           [](GraphBuilder&, X x) { return sum(pow(x[0], x[1])); });
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1], (std::vector<double>{-4, 0, 6}));
  EXPECT_NEAR(out[2][0], 9 * std::log(3.0), 1e-12);
}

TEST(Autodiff, CastBackToTheInputDtypeAndIntegerPathsCarryNone) {
  const std::vector<double> r = {0.25, -1.5, 3};
  auto out = run_gradients(
      {{"x", tensor(F32, {3}, {0.5, 1.5, 2.5})}}, [&](GraphBuilder& g, X x) {
        Value weighted = sum(cast(x[0], F64) * g.constant(tensor(F64, {3}, r)));
        return weighted + sum(cast(cast(x[0], I32), F64));
      });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], r);  // Read back from f32: these values are exact in f32.
}

TEST(Autodiff, GradientsHaveTheWrtDtypeAndShape) {
  GraphBuilder g;
  Value x = g.input("x", F32, {2, 3});
  Value unused = g.input("unused", F32, {4, 1});
  Value count = g.input("count", I32, {2});
  Value loss = mean(x * x);
  auto grads = gradients(loss, {x, unused, count, loss});
  ASSERT_TRUE(grads.ok()) << grads.status();
  ASSERT_EQ(grads->size(), 4u);
  for (Value grad : *grads) g.output(grad);
  auto graph = g.build();
  ASSERT_TRUE(graph.ok()) << graph.status();
  CpuDevice device("cpu0", uint64_t{1} << 28, 1);
  auto out = run(device, *graph,
                 {tensor(F32, {2, 3}, {1, 2, 3, 4, 5, 6}), tensor(F32, {4, 1}, {1, 1, 1, 1}),
                  tensor(I32, {2}, {1, 2})},
                 {"x", "unused", "count"});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].type(), (TensorType{F32, {2, 3}}));
  testing::expect_near_all(values(out[0]), {1 / 3., 2 / 3., 1, 4 / 3., 5 / 3., 2}, 1e-6);
  EXPECT_EQ(out[1].type(), (TensorType{F32, {4, 1}}));
  EXPECT_EQ(values(out[1]), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(out[2].type(), (TensorType{I32, {2}}));
  EXPECT_EQ(values(out[2]), (std::vector<double>{0, 0}));
  EXPECT_EQ(out[3].type(), (TensorType{F32, {}}));
  EXPECT_EQ(values(out[3]), (std::vector<double>{1}));
}

TEST(Autodiff, EmitsFewNodesNamedAfterTheForwardNode) {
  GraphBuilder g;
  Value x = g.input("x", F64, {2, 3});
  Value w = g.input("w", F64, {2, 3});
  Value product = x * w;
  Value loss = sum(product);
  const int before = g.build()->nodes_size();
  auto grads = gradients(loss, {x});
  ASSERT_TRUE(grads.ok()) << grads.status();
  auto graph = g.build();
  ASSERT_TRUE(graph.ok());
  // Seed, reshape and expand for sum, one mul for x: nothing for w, which was not asked for.
  EXPECT_EQ(graph->nodes_size() - before, 4);
  for (int i = before; i < graph->nodes_size(); ++i)
    EXPECT_EQ(graph->nodes(i).name().rfind("grad/", 0), 0u) << graph->nodes(i).name();
  EXPECT_EQ((*grads)[0].name(), "grad/" + product.name() + "/mul");
}

TEST(Autodiff, EmitsNothingBelowAWrtThatNoOtherWrtFeeds) {
  GraphBuilder g;
  Value x = g.input("x", F64, {3});
  Value h = exp(x);
  Value loss = sum(h);
  const int before = g.build()->nodes_size();
  auto grads = gradients(loss, {h});
  ASSERT_TRUE(grads.ok()) << grads.status();
  // Seed, reshape, expand: the gradient of h, and nothing through exp towards x.
  EXPECT_EQ(g.build()->nodes_size() - before, 3);
}

TEST(Autodiff, RunsTwiceOnOneBuilderWithoutNameClashes) {
  GraphBuilder g;
  Value x = g.input("x", F64, {3});
  Value loss = sum(exp(x));
  Value first = gradients(loss, {x})->front();
  Value second = gradients(loss, {x})->front();
  EXPECT_NE(first.name(), second.name());
  g.output(first, "first");
  g.output(second, "second");
  auto graph = g.build();
  ASSERT_TRUE(graph.ok()) << graph.status();
  CpuDevice device("cpu0", uint64_t{1} << 28, 1);
  auto out = run(device, *graph, {tensor(F64, {3}, {0, 1, 2})}, {"x"});
  ASSERT_EQ(out.size(), 2u);
  testing::expect_near_all(values(out[0]), {1, std::exp(1.0), std::exp(2.0)}, 1e-15);
  EXPECT_EQ(values(out[0]), values(out[1]));
}

void expect_invalid(const absl::StatusOr<std::vector<Value>>& result, const std::string& part) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find(part), std::string::npos) << result.status();
}

TEST(Autodiff, RefusesNonScalarLoss) {
  GraphBuilder g;
  Value x = g.input("x", F64, {2, 3});
  Value rows = sum(x, {1});
  expect_invalid(gradients(rows, {x}),
                 "loss '" + rows.name() + "' must be a floating scalar (shape []), got f64[2]");
}

TEST(Autodiff, RefusesIntegerLoss) {
  GraphBuilder g;
  Value x = g.input("x", F64, {2, 3});
  expect_invalid(gradients(sum(cast(x, I32)), {x}),
                 "must be a floating scalar (shape []), got i32[]");
}

TEST(Autodiff, RefusesValueFromAnotherBuilder) {
  GraphBuilder g, other;
  Value x = g.input("x", F64, {2});
  Value y = other.input("y", F64, {2});
  expect_invalid(gradients(sum(x), {x, y}),
                 "wrt[1] ('y') is a Value from another GraphBuilder than the loss");
  expect_invalid(gradients(Value(), {x}), "loss is an empty Value");
  expect_invalid(gradients(sum(x), {Value()}), "wrt[0] is an empty Value");
}

TEST(Autodiff, RefusesGraphThatDoesNotValidate) {
  GraphBuilder g;
  Value a = g.input("a", F64, {2});
  Value b = g.input("b", F64, {3});
  expect_invalid(gradients(sum(a + b), {a}), "does not validate");
}

// One SGD step is one graph: it returns the loss and the updated parameters.
TEST(Autodiff, TwentySgdStepsShrinkRegressionLossAHundredfold) {
  constexpr int kRows = 16;
  constexpr double kRate = 0.3;
  const std::vector<double> features = sample(F64, kRows * 3, -1, 1, 7);
  std::vector<double> targets(kRows);
  for (int i = 0; i < kRows; ++i)
    targets[i] = 0.5 * features[3 * i] - 1.2 * features[3 * i + 1] + 2 * features[3 * i + 2] + 0.3;

  GraphBuilder g;
  Value w = g.input("w", F64, {3, 1});
  Value b = g.input("b", F64, {1});
  Value error = matmul(g.constant(tensor(F64, {kRows, 3}, features)), w) + b -
                g.constant(tensor(F64, {kRows, 1}, targets));
  Value loss = mean(error * error);
  auto grads = gradients(loss, {w, b});
  ASSERT_TRUE(grads.ok()) << grads.status();
  Value rate = g.scalar(kRate, F64);
  g.output(loss, "loss");
  g.output(w - rate * (*grads)[0], "w_next");
  g.output(b - rate * (*grads)[1], "b_next");
  auto step = g.build();
  ASSERT_TRUE(step.ok()) << step.status();

  CpuDevice device("cpu0", uint64_t{1} << 28, 1);
  std::vector<HostTensor> params = {tensor(F64, {3, 1}, {0, 0, 0}), tensor(F64, {1}, {0})};
  std::vector<double> losses;
  for (int i = 0; i <= 20; ++i) {
    auto out = run(device, *step, params, {"w", "b"});
    ASSERT_EQ(out.size(), 3u);
    losses.push_back(values(out[0])[0]);
    params = {out[1], out[2]};
  }
  for (int i = 1; i <= 20; ++i) EXPECT_LT(losses[i], losses[i - 1]) << "step " << i;
  EXPECT_LT(losses[20], losses[0] / 100) << "from " << losses[0] << " to " << losses[20];
}

}  // namespace
}  // namespace tg
