// Unary, binary, comparison, where and cast ops against plain double references.
#include <cmath>
#include <functional>
#include <limits>

#include "devices/graph/type_rules.h"
#include "graph_helpers.h"

namespace tg::testing {
namespace {

using Unary = std::function<double(double)>;
using Binary = std::function<double(double, double)>;

std::vector<HostTensor> unary_graph(v1::OpKind op, const HostTensor& x) {
  GraphBuilder b;
  b.input("x", x.dtype(), x.shape());
  b.node("y", op, {"x"});
  b.output("y");
  return run(b, {{"x", x}});
}

TEST(Unary, FloatOpsMatchReferenceInEveryFloatType) {
  const std::vector<std::tuple<v1::OpKind, Unary, double, double>> ops = {
      {v1::OP_NEG, [](double x) { return -x; }, -5, 5},
      {v1::OP_EXP, [](double x) { return std::exp(x); }, -5, 5},
      {v1::OP_LOG, [](double x) { return std::log(x); }, 0.01, 100},
      {v1::OP_SQRT, [](double x) { return std::sqrt(x); }, 0, 100},
      {v1::OP_RELU, [](double x) { return x < 0 ? 0 : x; }, -5, 5},
      {v1::OP_SIGMOID, [](double x) { return 1 / (1 + std::exp(-x)); }, -8, 8},
      {v1::OP_TANH, [](double x) { return std::tanh(x); }, -4, 4},
  };
  for (DType dtype : {F32, F64, F16, BF16}) {
    for (const auto& [op, ref, lo, hi] : ops) {
      SCOPED_TRACE(op_name(op) + " " + std::string(dtype_name(dtype)));
      const Shape shape = {3, 7};
      const std::vector<double> in = sample(dtype, 21, lo, hi, op);
      auto out = unary_graph(op, tensor(dtype, shape, in));
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].type(), (TensorType{dtype, shape}));
      std::vector<double> want;
      for (double x : in) want.push_back(ref(x));
      expect_near_all(values(out[0]), want, tolerance(dtype));
    }
  }
}

TEST(Unary, SigmoidOfLargeNegativeInputsIsTinyNotZero) {
  // exp(-x) overflows there (f32 past 88.7, f64 past 709.8); the result is subnormal.
  auto f32 = unary_graph(v1::OP_SIGMOID, tensor(F32, {2}, {-100, -90}));
  ASSERT_EQ(f32.size(), 1u);
  EXPECT_NEAR(values(f32[0])[0], std::exp(-100.0), 2 * 0x1p-149);
  EXPECT_NEAR(values(f32[0])[1], std::exp(-90.0), 2 * 0x1p-149);
  EXPECT_GT(values(f32[0])[0], 0);
  auto f64 = unary_graph(v1::OP_SIGMOID, tensor(F64, {1}, {-720}));
  ASSERT_EQ(f64.size(), 1u);
  EXPECT_NEAR(values(f64[0])[0], std::exp(-720.0), 2 * 0x1p-1074);
  EXPECT_GT(values(f64[0])[0], 0);
  auto nan = unary_graph(v1::OP_SIGMOID, tensor(F32, {3}, {NAN, -INFINITY, INFINITY}));
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_TRUE(std::isnan(values(nan[0])[0]));
  EXPECT_EQ(values(nan[0])[1], 0);
  EXPECT_EQ(values(nan[0])[2], 1);
}

TEST(Unary, NegAndReluOnIntegersAreExactAndWrap) {
  const double min32 = std::numeric_limits<int32_t>::min();
  auto neg = unary_graph(v1::OP_NEG, tensor(I32, {4}, {3, -7, 0, min32}));
  EXPECT_EQ(values(neg[0]), (std::vector<double>{-3, 7, 0, min32}));
  auto relu = unary_graph(v1::OP_RELU, tensor(I64, {3}, {-2, 0, 9}));
  EXPECT_EQ(values(relu[0]), (std::vector<double>{0, 0, 9}));
}

TEST(Unary, EmptyAndScalarTensors) {
  auto empty = unary_graph(v1::OP_EXP, tensor(F32, {0, 4}, {}));
  EXPECT_EQ(empty[0].type(), (TensorType{F32, {0, 4}}));
  auto scalar = unary_graph(v1::OP_SQRT, tensor(F64, {}, {2}));
  EXPECT_DOUBLE_EQ(values(scalar[0])[0], std::sqrt(2.0));
}

HostTensor binary_graph(v1::OpKind op, const HostTensor& a, const HostTensor& c) {
  GraphBuilder b;
  b.input("a", a.dtype(), a.shape());
  b.input("b", c.dtype(), c.shape());
  b.node("y", op, {"a", "b"});
  b.output("y");
  auto out = run(b, {{"a", a}, {"b", c}});
  return out.empty() ? HostTensor() : out[0];
}

std::vector<double> broadcast_reference(const Shape& out, const Shape& sa,
                                        const std::vector<double>& a, const Shape& sb,
                                        const std::vector<double>& b, const Binary& f) {
  std::vector<double> want(num_elements(out));
  for (int64_t i = 0; i < num_elements(out); ++i) {
    want[i] = f(a[broadcast_offset(i, out, sa)], b[broadcast_offset(i, out, sb)]);
  }
  return want;
}

TEST(Binary, ArithmeticBroadcastsInEveryType) {
  const std::vector<std::pair<v1::OpKind, Binary>> ops = {
      {v1::OP_ADD, std::plus<double>()},
      {v1::OP_SUB, std::minus<double>()},
      {v1::OP_MUL, std::multiplies<double>()},
      {v1::OP_MAX, [](double x, double y) { return std::max(x, y); }},
      {v1::OP_MIN, [](double x, double y) { return std::min(x, y); }},
      {v1::OP_DIV, [](double x, double y) { return x / y; }},
      {v1::OP_POW, [](double x, double y) { return std::pow(x, y); }},
  };
  const std::vector<std::tuple<Shape, Shape, Shape>> shapes = {
      {{2, 3, 4}, {3, 1}, {2, 3, 4}}, {{1}, {5}, {5}},          {{0, 3}, {1, 3}, {0, 3}},
      {{}, {2, 2}, {2, 2}},           {{7, 13}, {13}, {7, 13}}, {{4, 1, 3}, {1, 5, 1}, {4, 5, 3}},
  };
  for (DType dtype : {F32, F64, F16, BF16, I32, I64}) {
    for (const auto& [op, ref] : ops) {
      for (const auto& [sa, sb, so] : shapes) {
        SCOPED_TRACE(op_name(op) + " " + std::string(dtype_name(dtype)) + shape_string(sa) +
                     shape_string(sb));
        const bool integer = is_integer(dtype);
        const bool pow = op == v1::OP_POW;
        std::vector<double> a = sample(dtype, num_elements(sa), pow ? 0.5 : -20, pow ? 4 : 20, 3);
        std::vector<double> c = sample(dtype, num_elements(sb), pow ? 0 : 1, pow ? 3 : 9, 4);
        if (!integer && op == v1::OP_DIV)
          for (double& x : c) x = -x;  // Negative divisors too.
        Binary f = ref;
        if (integer && op == v1::OP_DIV) f = [](double x, double y) { return std::floor(x / y); };
        HostTensor out = binary_graph(op, tensor(dtype, sa, a), tensor(dtype, sb, c));
        EXPECT_EQ(out.type(), (TensorType{dtype, so}));
        expect_near_all(values(out), broadcast_reference(so, sa, a, sb, c, f),
                        2 * tolerance(dtype));
      }
    }
  }
}

TEST(Binary, IntegerDivisionFloorsAndWraps) {
  const double min32 = std::numeric_limits<int32_t>::min();
  HostTensor out = binary_graph(v1::OP_DIV, tensor(I32, {5}, {-7, 7, -7, 6, min32}),
                                tensor(I32, {5}, {2, -2, -2, 3, -1}));
  EXPECT_EQ(values(out), (std::vector<double>{-4, -4, 3, 2, min32}));
}

TEST(Binary, IntegerOverflowWraps) {
  HostTensor out = binary_graph(v1::OP_ADD, tensor(I32, {1}, {2147483647}), tensor(I32, {1}, {1}));
  EXPECT_EQ(values(out)[0], -2147483648.0);
  HostTensor pow = binary_graph(v1::OP_POW, tensor(I64, {2}, {3, -2}), tensor(I64, {2}, {40, 5}));
  EXPECT_EQ(pow.values<int64_t>()[0],
            static_cast<int64_t>(12157665459056928801ull));  // 3^40 mod 2^64.
  EXPECT_EQ(pow.values<int64_t>()[1], -32);
}

TEST(Binary, IntegerDivisionByZeroFailsNamingTheNode) {
  GraphBuilder b;
  b.input("a", I32, {2});
  b.input("b", I32, {2});
  b.node("q", v1::OP_DIV, {"a", "b"});
  b.output("q");
  absl::Status s =
      run_status(b, {{"a", tensor(I32, {2}, {1, 2})}, {"b", tensor(I32, {2}, {1, 0})}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "node 'q' (OP_DIV): integer division by zero");
}

TEST(Binary, IntegerToNegativePowerFails) {
  GraphBuilder b;
  b.input("a", I64, {1});
  b.input("b", I64, {1});
  b.node("p", v1::OP_POW, {"a", "b"});
  b.output("p");
  absl::Status s = run_status(b, {{"a", tensor(I64, {1}, {2})}, {"b", tensor(I64, {1}, {-1})}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node 'p' (OP_POW): integer to a negative"), std::string::npos) << s;
}

TEST(Binary, MixedTypesPromote) {
  HostTensor f = binary_graph(v1::OP_ADD, tensor(I32, {2}, {1, 2}), tensor(F32, {2}, {0.5, 0.25}));
  EXPECT_EQ(f.dtype(), F32);
  EXPECT_EQ(values(f), (std::vector<double>{1.5, 2.25}));
  HostTensor i =
      binary_graph(v1::OP_MUL, tensor(BOOL, {3}, {1, 0, 1}), tensor(I64, {3}, {5, 6, 7}));
  EXPECT_EQ(i.dtype(), I64);
  EXPECT_EQ(values(i), (std::vector<double>{5, 0, 7}));
  HostTensor h = binary_graph(v1::OP_ADD, tensor(F16, {1}, {1}), tensor(BF16, {1}, {0.5}));
  EXPECT_EQ(h.dtype(), F32);
  EXPECT_EQ(values(h)[0], 1.5);
  HostTensor d = binary_graph(v1::OP_SUB, tensor(F16, {1}, {1}), tensor(F64, {1}, {0.125}));
  EXPECT_EQ(d.dtype(), F64);
  EXPECT_EQ(values(d)[0], 0.875);
}

TEST(Binary, HalfResultsAreRoundedOnceToNearestEven) {
  // 2048 + 1 and 2050 + 1 are ties in f16 (spacing 2 there): 2048 and 2052.
  HostTensor h =
      binary_graph(v1::OP_ADD, tensor(F16, {3}, {2048, 2050, 65504}), tensor(F16, {3}, {1, 1, 32}));
  EXPECT_EQ(values(h), (std::vector<double>{2048, 2052, INFINITY}));
  // bf16 spacing at 256 is 2: 256 + 1 -> 256, 258 + 1 -> 260.
  HostTensor b = binary_graph(v1::OP_ADD, tensor(BF16, {2}, {256, 258}), tensor(BF16, {2}, {1, 1}));
  EXPECT_EQ(values(b), (std::vector<double>{256, 260}));
}

TEST(Binary, MaxMinPropagateNan) {
  HostTensor m = binary_graph(v1::OP_MAX, tensor(F32, {2}, {NAN, 1}), tensor(F32, {2}, {1, NAN}));
  EXPECT_TRUE(std::isnan(values(m)[0]) && std::isnan(values(m)[1]));
  HostTensor n = binary_graph(v1::OP_MIN, tensor(F64, {2}, {NAN, 1}), tensor(F64, {2}, {1, NAN}));
  EXPECT_TRUE(std::isnan(values(n)[0]) && std::isnan(values(n)[1]));
  HostTensor o =
      binary_graph(v1::OP_MAX, tensor(BOOL, {4}, {0, 0, 1, 1}), tensor(BOOL, {4}, {0, 1, 0, 1}));
  EXPECT_EQ(values(o), (std::vector<double>{0, 1, 1, 1}));
}

TEST(Compare, GivesBoolWithBroadcasting) {
  const std::vector<std::pair<v1::OpKind, Binary>> ops = {
      {v1::OP_EQ, [](double x, double y) { return double(x == y); }},
      {v1::OP_NE, [](double x, double y) { return double(x != y); }},
      {v1::OP_LT, [](double x, double y) { return double(x < y); }},
      {v1::OP_LE, [](double x, double y) { return double(x <= y); }},
      {v1::OP_GT, [](double x, double y) { return double(x > y); }},
      {v1::OP_GE, [](double x, double y) { return double(x >= y); }},
  };
  const Shape sa = {3, 4}, sb = {4};
  for (DType dtype : {F32, F16, I32, I64, F64}) {
    for (const auto& [op, ref] : ops) {
      SCOPED_TRACE(op_name(op) + " " + std::string(dtype_name(dtype)));
      std::vector<double> a = sample(dtype, 12, -3, 3, 5), c = sample(dtype, 4, -3, 3, 6);
      a[0] = c[0];  // At least one tie.
      a[5] = NAN;
      if (is_integer(dtype)) a[5] = 0;
      HostTensor out = binary_graph(op, tensor(dtype, sa, a), tensor(dtype, sb, c));
      EXPECT_EQ(out.type(), (TensorType{BOOL, sa}));
      EXPECT_EQ(values(out), broadcast_reference(sa, sa, a, sb, c, ref));
    }
  }
  HostTensor mixed =
      binary_graph(v1::OP_LT, tensor(I32, {2}, {1, 2}), tensor(F32, {2}, {1.5, 1.5}));
  EXPECT_EQ(values(mixed), (std::vector<double>{1, 0}));
}

TEST(Where, SelectsWithBroadcastingAndPromotion) {
  GraphBuilder b;
  b.input("c", BOOL, {2, 1});
  b.input("t", I32, {3});
  b.input("e", F32, {2, 3});
  b.node("w", v1::OP_WHERE, {"c", "t", "e"});
  b.output("w");
  auto out = run(b, {{"c", tensor(BOOL, {2, 1}, {1, 0})},
                     {"t", tensor(I32, {3}, {1, 2, 3})},
                     {"e", tensor(F32, {2, 3}, {-1, -2, -3, -4, -5, -6})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), (TensorType{F32, {2, 3}}));
  EXPECT_EQ(values(out[0]), (std::vector<double>{1, 2, 3, -4, -5, -6}));
}

HostTensor cast(const HostTensor& x, DType to) {
  GraphBuilder b;
  b.input("x", x.dtype(), x.shape());
  b.node("y", v1::OP_CAST, {"x"}).set_dtype(to);
  b.output("y");
  auto out = run(b, {{"x", x}});
  return out.empty() ? HostTensor() : out[0];
}

TEST(Cast, FloatToIntegerTruncatesSaturatesAndZeroesNan) {
  const std::vector<double> in = {0, 1.9, -1.9, 2.5, -2.5, 1e10, -1e10, NAN, INFINITY};
  const double max32 = std::numeric_limits<int32_t>::max(),
               min32 = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(values(cast(tensor(F64, {9}, in), I32)),
            (std::vector<double>{0, 1, -1, 2, -2, max32, min32, 0, max32}));
  HostTensor i64 = cast(tensor(F32, {3}, {1e30, -1e30, -7.5}), I64);
  EXPECT_EQ(i64.values<int64_t>()[0], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(i64.values<int64_t>()[1], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(i64.values<int64_t>()[2], -7);
}

TEST(Cast, ToBoolIsNonZero) {
  EXPECT_EQ(values(cast(tensor(F32, {4}, {0, -0.0, 0.1, NAN}), BOOL)),
            (std::vector<double>{0, 0, 1, 1}));
  EXPECT_EQ(values(cast(tensor(I64, {3}, {0, -5, 1}), BOOL)), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(values(cast(tensor(BOOL, {2}, {1, 0}), F16)), (std::vector<double>{1, 0}));
}

TEST(Cast, IntegerNarrowingWraps) {
  HostTensor big(TensorType{I64, {2}});
  big.values<int64_t>()[0] = (int64_t{1} << 32) + 5;
  big.values<int64_t>()[1] = -(int64_t{1} << 31) - 1;
  EXPECT_EQ(values(cast(big, I32)), (std::vector<double>{5, 2147483647}));
}

TEST(Cast, ToHalfRoundsOnceFromF64) {
  // 1 + 2^-11 + 2^-40: rounding to f32 first would land on the tie 1 + 2^-11 and then round
  // down to 1; rounding once gives 1 + 2^-10.
  HostTensor h = cast(tensor(F64, {3}, {1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-11, 70000}), F16);
  EXPECT_EQ(h.values<uint16_t>()[0], 0x3c01);
  EXPECT_EQ(h.values<uint16_t>()[1], 0x3c00);
  EXPECT_EQ(h.values<uint16_t>()[2], 0x7c00);
  HostTensor b = cast(tensor(F64, {1}, {1 + 0x1p-8 + 0x1p-40}), BF16);
  EXPECT_EQ(b.values<uint16_t>()[0], 0x3f81);
  HostTensor from_int = cast(tensor(I32, {2}, {2049, 16777217}), F16);
  EXPECT_EQ(values(from_int), (std::vector<double>{2048, INFINITY}));
}

TEST(Cast, I64ToHalfAndBfloat16RoundsOnce) {
  // 2^60 + 2^52 + 1 is just above the bf16 tie 2^60 + 2^52: through f64 it lands on the tie
  // (2^60 is even, so it rounds down); rounding once goes up to 2^60 + 2^53.
  HostTensor big(TensorType{I64, {4}});
  big.values<int64_t>()[0] = (int64_t{1} << 60) + (int64_t{1} << 52) + 1;
  big.values<int64_t>()[1] = -big.values<int64_t>()[0];
  big.values<int64_t>()[2] = (int64_t{1} << 60) + (int64_t{1} << 52);  // The tie itself.
  big.values<int64_t>()[3] = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(values(cast(big, BF16)), (std::vector<double>{0x1p60 + 0x1p53, -0x1p60 - 0x1p53,
                                                          0x1p60, -0x1p63}));
  // Promotion converts the same way: i64 + bf16 0 is the i64 rounded once.
  GraphBuilder b;
  b.input("x", I64, {4});
  b.input("zero", BF16, {1});
  b.node("y", v1::OP_ADD, {"x", "zero"});
  b.output("y");
  auto out = run(b, {{"x", big}, {"zero", tensor(BF16, {1}, {0})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(values(out[0])[0], 0x1p60 + 0x1p53);
  // f16 from integers: 2^11 + 1 ties to even, 2^11 + 3 rounds up, 65520 overflows.
  HostTensor ints(TensorType{I64, {4}});
  int64_t* v = ints.values<int64_t>().data();
  v[0] = 2049, v[1] = 2051, v[2] = 65519, v[3] = (int64_t{1} << 62) + 1;
  EXPECT_EQ(values(cast(ints, F16)), (std::vector<double>{2048, 2052, 65504, INFINITY}));
}

TEST(Cast, EveryPairPreservesSmallIntegers) {
  const std::vector<double> in = {0, 1, 3, 42};
  for (DType from : {F32, F16, BF16, F64, I32, I64}) {
    for (DType to : {F32, F16, BF16, F64, I32, I64}) {
      SCOPED_TRACE(std::string(dtype_name(from)) + "->" + std::string(dtype_name(to)));
      HostTensor out = cast(tensor(from, {2, 2}, in), to);
      EXPECT_EQ(out.type(), (TensorType{to, {2, 2}}));
      EXPECT_EQ(values(out), in);
    }
  }
}

}  // namespace
}  // namespace tg::testing
