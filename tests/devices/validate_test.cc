// Every validation rule: the status code and a message naming the node and the rule.
#include "devices/graph/type_rules.h"
#include "graph_helpers.h"

#include <limits>

namespace tg::testing {
namespace {

void expect_invalid(const absl::StatusOr<ValidatedGraph>& result, const std::string& part) {
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(result.status().message().find(part), std::string::npos)
      << "message: " << result.status().message() << "\nwanted: " << part;
}

void expect_invalid(GraphBuilder& b, const std::string& part, const GraphLimits& limits = {}) {
  expect_invalid(validate_graph(b.graph(), limits), part);
}

TEST(Validate, AcceptsAGoodGraphAndOrdersIt) {
  GraphBuilder b;
  b.node("y", v1::OP_ADD, {"m", "c"});  // Listed before its inputs.
  b.node("m", v1::OP_MATMUL, {"x", "w"});
  b.input("x", F32, {2, 3});
  b.input("w", F32, {3, 4});
  *b.node("c", v1::OP_CONSTANT).mutable_value() = tensor(F32, {4}, {1, 2, 3, 4}).to_proto();
  b.output("y");
  auto v = validate_graph(b.graph());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->types.at("y"), (TensorType{F32, {2, 4}}));
  std::vector<int> position(5);
  for (size_t i = 0; i < v->order.size(); ++i) position[v->order[i]] = static_cast<int>(i);
  EXPECT_GT(position[0], position[1]);
  EXPECT_GT(position[1], position[2]);
  EXPECT_GT(position[0], position[4]);
}

TEST(Validate, NamesMustBeNonEmptyAndUnique) {
  GraphBuilder a;
  a.input("", F32, {1});
  expect_invalid(a, "node #0 (OP_INPUT) has no name");
  GraphBuilder b;
  b.input("x", F32, {1});
  b.input("x", F32, {2});
  expect_invalid(b, "node 'x' is defined twice (nodes #0 and #1)");
}

TEST(Validate, UnknownOp) {
  GraphBuilder b;
  b.node("q", static_cast<v1::OpKind>(99));
  expect_invalid(b, "node 'q': unknown op 99");
  GraphBuilder c;
  c.node("u", v1::OP_UNSPECIFIED);
  expect_invalid(c, "node 'u': unknown op 0");
}

TEST(Validate, Arity) {
  GraphBuilder b;
  b.input("x", F32, {1});
  b.node("y", v1::OP_ADD, {"x"});
  expect_invalid(b, "node 'y' (OP_ADD): takes 2 inputs, got 1");
  GraphBuilder c;
  c.node("y", v1::OP_CONCAT).set_axis(0);
  expect_invalid(c, "node 'y' (OP_CONCAT): takes one or more inputs, got 0");
  GraphBuilder d;
  d.input("x", F32, {1});
  d.node("i", v1::OP_INPUT, {"x"}).set_dtype(F32);
  expect_invalid(d, "node 'i' (OP_INPUT): takes 0 inputs, got 1");
}

TEST(Validate, InputsMustExist) {
  GraphBuilder b;
  b.node("y", v1::OP_RELU, {"ghost"});
  expect_invalid(b, "node 'y' (OP_RELU): input 'ghost' does not exist");
}

TEST(Validate, AttributesTheOpDoesNotUse) {
  GraphBuilder b;
  b.input("x", F32, {2});
  b.node("y", v1::OP_RELU, {"x"}).add_axes(0);
  expect_invalid(b, "node 'y' (OP_RELU): attribute axes is not used by this op");
  GraphBuilder c;
  c.input("x", F32, {2});
  c.node("y", v1::OP_SUM, {"x"}).set_pad_value(1);
  expect_invalid(c, "node 'y' (OP_SUM): attribute pad_before/pad_after/pad_value is not used");
}

TEST(Validate, CyclesNameANodeOnTheCycle) {
  GraphBuilder b;
  b.input("x", F32, {2});
  b.node("a", v1::OP_ADD, {"x", "c"});
  b.node("b", v1::OP_RELU, {"a"});
  b.node("c", v1::OP_NEG, {"b"});
  b.output("c");
  auto v = validate_graph(b.graph());
  expect_invalid(v, "is part of a cycle: ");
  const std::string message(v.status().message());
  EXPECT_TRUE(message.find("a -> b -> c -> a") != std::string::npos ||
              message.find("b -> c -> a -> b") != std::string::npos ||
              message.find("c -> a -> b -> c") != std::string::npos)
      << message;
  GraphBuilder self;
  self.node("s", v1::OP_RELU, {"s"});
  expect_invalid(self, "node 's' is part of a cycle: s -> s");
}

TEST(Validate, LeafDeclarations) {
  GraphBuilder a;
  a.input("x", v1::DTYPE_UNSPECIFIED, {2});
  expect_invalid(a, "node 'x' (OP_INPUT): input dtype is unspecified");
  GraphBuilder b;
  b.input("x", F32, {2, -1});
  expect_invalid(b, "node 'x' (OP_INPUT): input shape [2,-1] has a negative dim");
  GraphBuilder c;
  v1::Tensor value = tensor(F32, {2}, {1, 2}).to_proto();
  value.mutable_data()->resize(7);
  *c.node("k", v1::OP_CONSTANT).mutable_value() = value;
  expect_invalid(c, "node 'k' (OP_CONSTANT): tensor 'value': f32[2] needs 8 bytes of data, got 7");
}

TEST(Validate, FloatOnlyOpsRefuseIntegers) {
  for (v1::OpKind op : {v1::OP_EXP, v1::OP_LOG, v1::OP_SQRT, v1::OP_SIGMOID, v1::OP_TANH}) {
    GraphBuilder b;
    b.input("x", I32, {2, 3});
    b.node("y", op, {"x"});
    expect_invalid(b, "node 'y' (" + op_name(op) + "): ");
    expect_invalid(b, "needs a floating input, got i32[2,3]; cast first");
  }
  GraphBuilder m;
  m.input("x", I64, {4});
  m.node("y", v1::OP_MEAN, {"x"});
  expect_invalid(m, "node 'y' (OP_MEAN): mean needs a floating input, got i64[4]; cast first");
  GraphBuilder n;
  n.input("x", BOOL, {4});
  n.node("y", v1::OP_NEG, {"x"});
  expect_invalid(n, "node 'y' (OP_NEG): neg of bool is not defined: bool[4]; cast first");
}

TEST(Validate, BinaryRules) {
  GraphBuilder a;
  a.input("x", F32, {2, 3});
  a.input("z", F32, {4});
  a.node("y", v1::OP_ADD, {"x", "z"});
  expect_invalid(a, "node 'y' (OP_ADD): shapes [2,3] and [4] do not broadcast");
  GraphBuilder b;
  b.input("x", BOOL, {2});
  b.input("z", BOOL, {2});
  b.node("y", v1::OP_SUB, {"x", "z"});
  expect_invalid(b, "node 'y' (OP_SUB): sub of two bool operands is not defined");
  GraphBuilder c;
  c.input("x", BOOL, {2});
  c.input("z", BOOL, {1});
  c.node("y", v1::OP_EQ, {"x", "z"});
  c.node("w", v1::OP_MAX, {"x", "z"});
  c.output("y").output("w");
  auto v = validate_graph(c.graph());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->types.at("y"), (TensorType{BOOL, {2}}));
}

TEST(Validate, WhereRules) {
  GraphBuilder a;
  a.input("c", F32, {2});
  a.input("x", F32, {2});
  a.node("y", v1::OP_WHERE, {"c", "x", "x"});
  expect_invalid(a, "node 'y' (OP_WHERE): condition must be bool, got f32[2]");
  GraphBuilder b;
  b.input("c", BOOL, {3});
  b.input("x", F32, {2});
  b.node("y", v1::OP_WHERE, {"c", "x", "x"});
  expect_invalid(b, "node 'y' (OP_WHERE): shapes [3] and [2] and [2] do not broadcast");
}

TEST(Validate, CastNeedsATarget) {
  GraphBuilder b;
  b.input("x", F32, {2});
  b.node("y", v1::OP_CAST, {"x"});
  expect_invalid(b, "node 'y' (OP_CAST): cast target dtype is unspecified");
}

TEST(Validate, MatmulRules) {
  GraphBuilder a;
  a.input("x", F32, {2, 3});
  a.input("w", F32, {4, 5});
  a.node("y", v1::OP_MATMUL, {"x", "w"});
  expect_invalid(a, "node 'y' (OP_MATMUL): inner dimensions differ: f32[2,3] x f32[4,5]");
  GraphBuilder b;
  b.input("x", F32, {3});
  b.input("w", F32, {3, 5});
  b.node("y", v1::OP_MATMUL, {"x", "w"});
  expect_invalid(b,
                 "node 'y' (OP_MATMUL): matmul needs operands of rank >= 2 (reshape first): f32[3] "
                 "x f32[3,5]");
  GraphBuilder c;
  c.input("x", F32, {2, 2, 3});
  c.input("w", F32, {3, 3, 5});
  c.node("y", v1::OP_MATMUL, {"x", "w"});
  expect_invalid(
      c, "node 'y' (OP_MATMUL): batch dimensions do not broadcast: f32[2,2,3] x f32[3,3,5]");
  GraphBuilder d;
  d.input("x", BOOL, {2, 2});
  d.node("y", v1::OP_MATMUL, {"x", "x"});
  expect_invalid(d, "node 'y' (OP_MATMUL): matmul of bool is not defined");
  GraphBuilder e;
  e.input("x", BOOL, {2, 2});
  e.input("w", F32, {2, 2});
  e.node("y", v1::OP_MATMUL, {"x", "w"});
  expect_invalid(e, "node 'y' (OP_MATMUL): matmul of bool is not defined: bool[2,2] x f32[2,2]");
}

TEST(Validate, ReductionAxes) {
  GraphBuilder a;
  a.input("x", F32, {2, 3});
  a.node("y", v1::OP_SUM, {"x"}).add_axes(2);
  expect_invalid(a, "node 'y' (OP_SUM): axis 2 is out of range for rank 2");
  GraphBuilder b;
  b.input("x", F32, {2, 3});
  v1::Node& n = b.node("y", v1::OP_REDUCE_MIN, {"x"});
  n.add_axes(1);
  n.add_axes(-1);
  expect_invalid(b, "node 'y' (OP_REDUCE_MIN): axis -1 is repeated");
  GraphBuilder c;
  c.input("x", F32, {0, 3});
  c.node("y", v1::OP_REDUCE_MAX, {"x"}).add_axes(0);
  expect_invalid(
      c, "node 'y' (OP_REDUCE_MAX): reduce_max over empty axis 0 of f32[0,3] has no identity");
}

TEST(Validate, MovementAttributes) {
  struct Case {
    v1::OpKind op;
    Shape in;
    std::function<void(v1::Node&)> setup;
    std::string message;
  };
  const std::vector<Case> cases = {
      {v1::OP_RESHAPE,
       {2, 3},
       [](v1::Node& n) {
         n.add_shape(4);
         n.add_shape(2);
       },
       "cannot reshape f32[2,3] (6 elements) to [4,2] (8 elements)"},
      {v1::OP_RESHAPE,
       {2, 3},
       [](v1::Node& n) {
         n.add_shape(-1);
         n.add_shape(-1);
       },
       "reshape target [-1,-1] has more than one -1"},
      {v1::OP_RESHAPE,
       {2, 3},
       [](v1::Node& n) {
         n.add_shape(-1);
         n.add_shape(4);
       },
       "cannot reshape f32[2,3] (6 elements) to [-1,4]"},
      {v1::OP_RESHAPE,
       {2, 3},
       [](v1::Node& n) {
         n.add_shape(-2);
         n.add_shape(-3);
       },
       "reshape target [-2,-3] has a negative dim"},
      {v1::OP_PERMUTE,
       {2, 3},
       [](v1::Node& n) {
         n.add_axes(0);
         n.add_axes(0);
       },
       "axes [0,0] are not a permutation of [0, 2) for f32[2,3]"},
      {v1::OP_PERMUTE,
       {2, 3},
       [](v1::Node& n) { n.add_axes(1); },
       "axes [1] are not a permutation of [0, 2)"},
      {v1::OP_EXPAND,
       {2, 3},
       [](v1::Node& n) {
         n.add_shape(3);
         n.add_shape(3);
       },
       "cannot expand f32[2,3] to [3,3]: dim 0 is neither 1 nor equal"},
      {v1::OP_EXPAND,
       {2, 3},
       [](v1::Node& n) { n.add_shape(3); },
       "cannot expand f32[2,3] to [3]: target rank is smaller"},
      {v1::OP_SLICE,
       {2, 3},
       [](v1::Node& n) {
         n.add_starts(0);
         n.add_ends(1);
       },
       "slice of rank 2 needs 2 starts and ends (and steps, if any), got 1, 1 and 0"},
      {v1::OP_SLICE,
       {2},
       [](v1::Node& n) {
         n.add_starts(0);
         n.add_ends(1);
         n.add_steps(0);
       },
       "slice step 0 on dim 0 is not positive"},
      {v1::OP_PAD,
       {2, 3},
       [](v1::Node& n) {
         n.add_pad_before(1);
         n.add_pad_after(1);
       },
       "pad_before and pad_after need 2 entries for f32[2,3], got 1 and 1"},
      {v1::OP_PAD,
       {2},
       [](v1::Node& n) {
         n.add_pad_before(-1);
         n.add_pad_after(1);
       },
       "negative padding on dim 0"},
      {v1::OP_CONCAT, {}, [](v1::Node&) {}, "cannot concat scalars"},
      {v1::OP_CONCAT,
       {2, 3},
       [](v1::Node& n) { n.set_axis(2); },
       "axis 2 is out of range for rank 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    GraphBuilder b;
    b.input("x", F32, c.in);
    c.setup(b.node("y", c.op, {"x"}));
    expect_invalid(b, "node 'y' (" + op_name(c.op) + "): " + c.message);
  }
}

TEST(Validate, PadValueMustFitTheDtype) {
  GraphBuilder b;
  b.input("x", I32, {2});
  v1::Node& n = b.node("y", v1::OP_PAD, {"x"});
  n.add_pad_before(1);
  n.add_pad_after(0);
  n.set_pad_value(1.5);
  expect_invalid(b, "node 'y' (OP_PAD): pad_value 1.5 is not representable in i32");
}

TEST(Validate, ConcatInputsMustAgree) {
  GraphBuilder b;
  b.input("x", F32, {2, 3});
  b.input("z", F32, {3, 3});
  b.node("y", v1::OP_CONCAT, {"x", "z"}).set_axis(1);
  expect_invalid(
      b,
      "node 'y' (OP_CONCAT): concat inputs must agree except along axis 1: f32[2,3] and f32[3,3]");
}

TEST(Validate, OutputsMustExist) {
  GraphBuilder b;
  b.input("x", F32, {2});
  b.output("nope");
  expect_invalid(b, "output 'nope' does not exist");
}

TEST(Validate, Limits) {
  GraphBuilder a;
  for (int i = 0; i < 5; ++i) a.input("x" + std::to_string(i), F32, {1});
  expect_invalid(a, "graph has 5 nodes, more than the limit of 4", GraphLimits{.max_nodes = 4});
  GraphBuilder b;
  b.input("x", F32, {1, 1, 1});
  expect_invalid(b, "node 'x' (OP_INPUT): rank 3 of f32[1,1,1] exceeds the limit of 2",
                 GraphLimits{.max_rank = 2});
  GraphBuilder c;
  c.input("x", F32, {1024, 1024});
  expect_invalid(
      c, "node 'x' (OP_INPUT): f32[1024,1024] needs 4194304 bytes, more than the limit of 1000000",
      GraphLimits{.max_tensor_bytes = 1000000});
  GraphBuilder d;
  d.input("x", F32, {1});
  v1::Node& n = d.node("y", v1::OP_EXPAND, {"x"});
  for (int i = 0; i < 4; ++i) n.add_shape(int64_t{1} << 20);
  expect_invalid(d, "node 'y' (OP_EXPAND): expand target: shape "
                    "[1048576,1048576,1048576,1048576] has more elements than a 64-bit size holds");
}

// Sizes computed from attributes never wrap: an empty input ([0, max]) lets an op's output dim
// pass every byte limit, so a wrapped dim would leave the validator negative.
TEST(Validate, SizesThatOverflowAreInvalidNamingTheValues) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  GraphBuilder pad;
  pad.input("x", F32, {0, kMax});
  v1::Node& p = pad.node("y", v1::OP_PAD, {"x"});
  p.add_pad_before(0);
  p.add_pad_before(0);
  p.add_pad_after(0);
  p.add_pad_after(1);
  expect_invalid(pad, "node 'y' (OP_PAD): padded dim 1 of f32[0,9223372036854775807]: "
                      "9223372036854775807 + 1 does not fit in a 64-bit size");

  GraphBuilder concat;
  concat.input("a", F32, {0, kMax});
  concat.input("b", F32, {0, 2});
  concat.node("y", v1::OP_CONCAT, {"a", "b"}).set_axis(1);
  expect_invalid(concat, "node 'y' (OP_CONCAT): concatenated dim 1 (input 1): "
                         "9223372036854775807 + 2 does not fit in a 64-bit size");

  GraphBuilder gather;
  gather.input("x", F32, {kMax / 2 + 1, 0});
  v1::Node& g = gather.node("y", v1::OP_ALL_GATHER, {"x"});
  g.mutable_collective()->set_comm_id("c");
  g.mutable_collective()->set_world_size(2);
  expect_invalid(gather,
                 "node 'y' (OP_ALL_GATHER): all_gather dim 0 times collective.world_size: "
                 "4611686018427387904 * 2 does not fit in a 64-bit size",
                 GraphLimits{.internal_ops = true});

  GraphBuilder reshape;
  reshape.input("x", F32, {0});
  v1::Node& r = reshape.node("y", v1::OP_RESHAPE, {"x"});
  r.add_shape(int64_t{1} << 32);
  r.add_shape(int64_t{1} << 32);
  r.add_shape(0);
  expect_invalid(reshape, "node 'y' (OP_RESHAPE): reshape target [4294967296,4294967296,0]: "
                          "4294967296 * 4294967296 does not fit in a 64-bit size");

  GraphBuilder input;
  input.input("x", F32, {0, kMax, 2});
  expect_invalid(input, "node 'x' (OP_INPUT): input: shape [0,9223372036854775807,2] has more "
                        "elements than a 64-bit size holds");
}

TEST(CheckFeeds, EveryMismatchIsNamed) {
  GraphBuilder b;
  b.input("x", F32, {2});
  b.input("z", I32, {});
  auto v = validate_graph(b.graph());
  ASSERT_TRUE(v.ok());
  const HostTensor x = tensor(F32, {2}, {1, 2}), z = tensor(I32, {}, {3});
  EXPECT_TRUE(check_feeds(b.graph(), *v, {x, z}, {"x", "z"}).ok());
  auto expect = [&](absl::Status s, const std::string& part) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(part), std::string::npos) << s;
  };
  expect(check_feeds(b.graph(), *v, {x}, {"x", "z"}), "got 1 feeds but 2 feed names");
  expect(check_feeds(b.graph(), *v, {x}, {"x"}), "input 'z' is not fed");
  expect(check_feeds(b.graph(), *v, {x, z, z}, {"x", "z", "w"}),
         "feed 'w' is not an input of the graph");
  expect(check_feeds(b.graph(), *v, {x, x}, {"x", "x"}), "input 'x' is fed twice");
  expect(check_feeds(b.graph(), *v, {z, z}, {"x", "z"}),
         "input 'x' is declared f32[2] but fed i32[]");
}

}  // namespace
}  // namespace tg::testing
