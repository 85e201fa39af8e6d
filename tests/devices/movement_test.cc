// Movement ops and constants against index arithmetic done by hand.
#include <cmath>

#include "graph_helpers.h"

namespace tg::testing {
namespace {

std::vector<double> iota(int64_t n, double start = 0) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i);
  return v;
}

// Runs x -> op -> y with `setup` filling the op's attributes.
HostTensor unary_move(v1::OpKind op, const HostTensor& x,
                      const std::function<void(v1::Node&)>& setup) {
  GraphBuilder b;
  b.input("x", x.dtype(), x.shape());
  setup(b.node("y", op, {"x"}));
  b.output("y");
  auto out = run(b, {{"x", x}});
  return out.empty() ? HostTensor() : out[0];
}

TEST(Reshape, InfersMinusOneAndKeepsOrder) {
  HostTensor out = unary_move(v1::OP_RESHAPE, tensor(I32, {2, 6}, iota(12)), [](v1::Node& n) {
    for (int64_t d : {3, -1, 2}) n.add_shape(d);
  });
  EXPECT_EQ(out.type(), (TensorType{I32, {3, 2, 2}}));
  EXPECT_EQ(values(out), iota(12));
  HostTensor empty = unary_move(v1::OP_RESHAPE, tensor(F32, {0, 3}, {}), [](v1::Node& n) {
    for (int64_t d : {3, -1}) n.add_shape(d);
  });
  EXPECT_EQ(empty.type(), (TensorType{F32, {3, 0}}));
}

TEST(Permute, MovesEveryElementToItsPermutedIndex) {
  const Shape shape = {2, 3, 5};
  for (DType dtype : {F32, F16, F64, BOOL, I64}) {
    HostTensor x = tensor(dtype, shape, dtype == BOOL ? sample(BOOL, 30, 0, 2) : iota(30));
    HostTensor out = unary_move(v1::OP_PERMUTE, x, [](v1::Node& n) {
      for (int64_t a : {2, 0, 1}) n.add_axes(a);
    });
    EXPECT_EQ(out.type(), (TensorType{dtype, {5, 2, 3}}));
    const std::vector<double> in = values(x), got = values(out);
    for (int64_t k = 0; k < 5; ++k)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(got[k * 6 + i * 3 + j], in[i * 15 + j * 5 + k]);
  }
}

TEST(Expand, BroadcastsToTheTargetShape) {
  HostTensor out = unary_move(v1::OP_EXPAND, tensor(F32, {3, 1}, {1, 2, 3}), [](v1::Node& n) {
    for (int64_t d : {2, 3, 4}) n.add_shape(d);
  });
  EXPECT_EQ(out.type(), (TensorType{F32, {2, 3, 4}}));
  const std::vector<double> got = values(out);
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(got[i], 1 + (i / 4) % 3);
  HostTensor zero =
      unary_move(v1::OP_EXPAND, tensor(F32, {1}, {7}), [](v1::Node& n) { n.add_shape(0); });
  EXPECT_EQ(zero.type(), (TensorType{F32, {0}}));
}

TEST(Slice, NegativeStartsStepsAndClamping) {
  // x[4,6] = iota; take rows [-3:100:2] = {1, 3}, cols [1:-1:3] = {1, 4}.
  HostTensor out = unary_move(v1::OP_SLICE, tensor(I64, {4, 6}, iota(24)), [](v1::Node& n) {
    n.add_starts(-3);
    n.add_ends(100);
    n.add_steps(2);
    n.add_starts(1);
    n.add_ends(-1);
    n.add_steps(3);
  });
  EXPECT_EQ(out.type(), (TensorType{I64, {2, 2}}));
  EXPECT_EQ(values(out), (std::vector<double>{7, 10, 19, 22}));
  HostTensor empty = unary_move(v1::OP_SLICE, tensor(F32, {4}, iota(4)), [](v1::Node& n) {
    n.add_starts(3);
    n.add_ends(1);
  });
  EXPECT_EQ(empty.type(), (TensorType{F32, {0}}));
  HostTensor odd = unary_move(v1::OP_SLICE, tensor(F16, {7}, iota(7)), [](v1::Node& n) {
    n.add_starts(-100);
    n.add_ends(7);
    n.add_steps(7);
  });
  EXPECT_EQ(values(odd), (std::vector<double>{0}));
}

TEST(Pad, FillsAroundTheInput) {
  HostTensor out = unary_move(v1::OP_PAD, tensor(I32, {2, 2}, {1, 2, 3, 4}), [](v1::Node& n) {
    n.add_pad_before(1);
    n.add_pad_after(0);
    n.add_pad_before(0);
    n.add_pad_after(2);
    n.set_pad_value(-1);
  });
  EXPECT_EQ(out.type(), (TensorType{I32, {3, 4}}));
  EXPECT_EQ(values(out), (std::vector<double>{-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1}));
  HostTensor half = unary_move(v1::OP_PAD, tensor(BF16, {0}, {}), [](v1::Node& n) {
    n.add_pad_before(2);
    n.add_pad_after(1);
    n.set_pad_value(0.5);
  });
  EXPECT_EQ(values(half), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(Concat, JoinsAlongAxisAndPromotes) {
  GraphBuilder b;
  b.input("a", F32, {2, 1});
  b.input("b", I32, {2, 3});
  b.input("c", F32, {2, 0});
  b.node("y", v1::OP_CONCAT, {"a", "b", "c", "a"}).set_axis(-1);
  b.output("y");
  auto out = run(b, {{"a", tensor(F32, {2, 1}, {0.5, 1.5})},
                     {"b", tensor(I32, {2, 3}, {1, 2, 3, 4, 5, 6})},
                     {"c", tensor(F32, {2, 0}, {})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), (TensorType{F32, {2, 5}}));
  EXPECT_EQ(values(out[0]), (std::vector<double>{0.5, 1, 2, 3, 0.5, 1.5, 4, 5, 6, 1.5}));
}

TEST(Concat, AlongTheFirstAxis) {
  GraphBuilder b;
  b.input("a", F64, {1, 2});
  b.input("b", F64, {2, 2});
  b.node("y", v1::OP_CONCAT, {"b", "a"});
  b.output("y");
  auto out = run(b, {{"a", tensor(F64, {1, 2}, {9, 8})}, {"b", tensor(F64, {2, 2}, {1, 2, 3, 4})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values(out[0]), (std::vector<double>{1, 2, 3, 4, 9, 8}));
}

TEST(Constant, ProducesItsValue) {
  GraphBuilder b;
  *b.node("k", v1::OP_CONSTANT).mutable_value() = tensor(I32, {3}, {4, 5, 6}).to_proto();
  b.input("x", I32, {3});
  b.node("y", v1::OP_MUL, {"k", "x"});
  b.output("y").output("k");
  auto out = run(b, {{"x", tensor(I32, {3}, {1, 2, 3})}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(values(out[0]), (std::vector<double>{4, 10, 18}));
  EXPECT_EQ(values(out[1]), (std::vector<double>{4, 5, 6}));
}

}  // namespace
}  // namespace tg::testing
