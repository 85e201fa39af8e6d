// Reductions and matmul against plain double references.
#include <cmath>
#include <limits>

#include "devices/graph/type_rules.h"
#include "graph_helpers.h"

namespace tg::testing {
namespace {

HostTensor reduce(v1::OpKind op, const HostTensor& x, std::vector<int64_t> axes, bool keepdims) {
  GraphBuilder b;
  b.input("x", x.dtype(), x.shape());
  v1::Node& n = b.node("r", op, {"x"});
  for (int64_t a : axes) n.add_axes(a);
  n.set_keepdims(keepdims);
  b.output("r");
  auto out = run(b, {{"x", x}});
  return out.empty() ? HostTensor() : out[0];
}

// Reference: loops over every input element, mapping it to its output position by hand.
std::vector<double> reduce_reference(v1::OpKind op, const Shape& shape,
                                     const std::vector<double>& in, const std::vector<int>& axes,
                                     Shape* out_shape) {
  Shape kept = shape;
  for (int a : axes) kept[a] = 1;
  const int64_t n_out = num_elements(kept);
  std::vector<double> acc(n_out, op == v1::OP_REDUCE_MAX   ? -INFINITY
                                 : op == v1::OP_REDUCE_MIN ? INFINITY
                                                           : 0);
  std::vector<int64_t> count(n_out, 0);
  for (int64_t i = 0; i < num_elements(shape); ++i) {
    int64_t rest = i, out = 0, stride = 1;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      const int64_t index = rest % shape[d];
      rest /= shape[d];
      if (kept[d] != 1) out += index * stride;  // Reduced dims map to index 0.
      stride *= kept[d];
    }
    double& a = acc[out];
    const double x = in[i];
    if (op == v1::OP_REDUCE_MAX)
      a = std::max(a, x);
    else if (op == v1::OP_REDUCE_MIN)
      a = std::min(a, x);
    else
      a += x;
    ++count[out];
  }
  if (op == v1::OP_MEAN)
    for (int64_t j = 0; j < n_out; ++j) acc[j] /= count[j];
  *out_shape = kept;
  return acc;
}

TEST(Reduce, EveryOpOverAxesWithAndWithoutKeepdims) {
  const Shape shape = {3, 4, 5};
  const std::vector<std::vector<int64_t>> axis_sets = {{}, {0}, {1}, {-1}, {0, 2}, {2, 0, 1}};
  for (v1::OpKind op : {v1::OP_SUM, v1::OP_REDUCE_MAX, v1::OP_REDUCE_MIN, v1::OP_MEAN}) {
    for (DType dtype : {F32, F64, F16, BF16, I32, I64}) {
      if (op == v1::OP_MEAN && !is_floating(dtype)) continue;
      for (const auto& axes : axis_sets) {
        for (bool keepdims : {false, true}) {
          SCOPED_TRACE(op_name(op) + " " + std::string(dtype_name(dtype)) + " keepdims=" +
                       std::to_string(keepdims) + " axes=" + std::to_string(axes.size()));
          const std::vector<double> in = sample(dtype, 60, -10, 10, 7);
          std::vector<int> norm;
          for (int64_t a : axes) norm.push_back(static_cast<int>(a < 0 ? a + 3 : a));
          if (axes.empty()) norm = {0, 1, 2};
          Shape kept;
          std::vector<double> want = reduce_reference(op, shape, in, norm, &kept);
          Shape expected_shape;
          for (int d = 0; d < 3; ++d) {
            const bool reduced = std::find(norm.begin(), norm.end(), d) != norm.end();
            if (!reduced)
              expected_shape.push_back(shape[d]);
            else if (keepdims)
              expected_shape.push_back(1);
          }
          HostTensor out = reduce(op, tensor(dtype, shape, in), axes, keepdims);
          EXPECT_EQ(out.type(), (TensorType{dtype, expected_shape}));
          expect_near_all(values(out), want, tolerance(dtype));
        }
      }
    }
  }
}

TEST(Reduce, SumOfBoolCountsInI64) {
  HostTensor out = reduce(v1::OP_SUM, tensor(BOOL, {2, 3}, {1, 0, 1, 1, 1, 1}), {1}, false);
  EXPECT_EQ(out.dtype(), I64);
  EXPECT_EQ(values(out), (std::vector<double>{2, 3}));
  HostTensor any = reduce(v1::OP_REDUCE_MAX, tensor(BOOL, {2, 2}, {0, 0, 0, 1}), {1}, false);
  EXPECT_EQ(values(any), (std::vector<double>{0, 1}));
  HostTensor all = reduce(v1::OP_REDUCE_MIN, tensor(BOOL, {2, 2}, {1, 1, 0, 1}), {1}, false);
  EXPECT_EQ(values(all), (std::vector<double>{1, 0}));
}

TEST(Reduce, F16SumAccumulatesWide) {
  // 4096 ones: an f16 running sum would stall at 2048.
  HostTensor out = reduce(v1::OP_SUM, tensor(F16, {4096}, std::vector<double>(4096, 1)), {}, false);
  EXPECT_EQ(values(out)[0], 4096);
}

TEST(Reduce, HalfSumsRoundOnce) {
  // 1 + 2^-11 + 2^-24 is just above an f16 tie; rounding through f32 would land on the tie.
  HostTensor h = reduce(v1::OP_SUM, tensor(F16, {3}, {1, 0x1p-11, 0x1p-24}), {}, false);
  EXPECT_EQ(h.values<uint16_t>()[0], 0x3c01);
  HostTensor b = reduce(v1::OP_SUM, tensor(BF16, {3}, {1, 0x1p-8, 0x1p-24}), {}, false);
  EXPECT_EQ(b.values<uint16_t>()[0], 0x3f81);
}

TEST(Reduce, IntegerSumWraps) {
  HostTensor out = reduce(v1::OP_SUM, tensor(I32, {2}, {2147483647, 2}), {}, false);
  EXPECT_EQ(values(out)[0], -2147483647);
}

TEST(Reduce, EmptyInputs) {
  HostTensor sum = reduce(v1::OP_SUM, tensor(F32, {0, 3}, {}), {0}, false);
  EXPECT_EQ(sum.type(), (TensorType{F32, {3}}));
  EXPECT_EQ(values(sum), (std::vector<double>{0, 0, 0}));
  HostTensor mean = reduce(v1::OP_MEAN, tensor(F64, {0, 2}, {}), {0}, true);
  EXPECT_EQ(mean.type(), (TensorType{F64, {1, 2}}));
  EXPECT_TRUE(std::isnan(values(mean)[0]));
  HostTensor none = reduce(v1::OP_REDUCE_MAX, tensor(F32, {0, 3}, {}), {1}, false);
  EXPECT_EQ(none.type(), (TensorType{F32, {0}}));
  HostTensor scalar = reduce(v1::OP_SUM, tensor(I64, {}, {5}), {}, false);
  EXPECT_EQ(values(scalar), (std::vector<double>{5}));
}

TEST(Reduce, MaxPropagatesNan) {
  HostTensor out = reduce(v1::OP_REDUCE_MAX, tensor(F32, {2, 2}, {1, NAN, 3, 2}), {1}, false);
  EXPECT_TRUE(std::isnan(values(out)[0]));
  EXPECT_EQ(values(out)[1], 3);
}

HostTensor matmul(const HostTensor& a, const HostTensor& c) {
  GraphBuilder b;
  b.input("a", a.dtype(), a.shape());
  b.input("b", c.dtype(), c.shape());
  b.node("y", v1::OP_MATMUL, {"a", "b"});
  b.output("y");
  auto out = run(b, {{"a", a}, {"b", c}});
  return out.empty() ? HostTensor() : out[0];
}

std::vector<double> matmul_reference(const Shape& sa, const std::vector<double>& a, const Shape& sb,
                                     const std::vector<double>& b, const Shape& so) {
  const int64_t m = so[so.size() - 2], n = so.back(), k = sa.back();
  const Shape batch(so.begin(), so.end() - 2);
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  std::vector<double> out(num_elements(so), 0);
  for (int64_t p = 0; p < num_elements(batch); ++p) {
    const int64_t oa = broadcast_offset(p, batch, ba) * m * k,
                  ob = broadcast_offset(p, batch, bb) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += a[oa + i * k + q] * b[ob + q * n + j];
        out[p * m * n + i * n + j] = s;
      }
  }
  return out;
}

TEST(Matmul, BatchedWithBroadcastingInEveryType) {
  const std::vector<std::tuple<Shape, Shape, Shape>> shapes = {
      {{2, 3}, {3, 4}, {2, 4}},          {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
      {{1, 1}, {1, 7}, {1, 7}},          {{3, 17, 9}, {9, 5}, {3, 17, 5}},
      {{0, 2, 3}, {3, 2}, {0, 2, 2}},    {{2, 0}, {0, 3}, {2, 3}},
      {{4, 0, 3}, {4, 3, 2}, {4, 0, 2}},
  };
  for (DType dtype : {F32, F64, F16, BF16, I32, I64}) {
    for (const auto& [sa, sb, so] : shapes) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + shape_string(sa) + shape_string(sb));
      // Small integers keep every product and sum exact in all types (bf16 up to 256).
      const std::vector<double> a = sample(I32, num_elements(sa), -3, 4, 8);
      const std::vector<double> c = sample(I32, num_elements(sb), -3, 4, 9);
      HostTensor out = matmul(tensor(dtype, sa, a), tensor(dtype, sb, c));
      EXPECT_EQ(out.type(), (TensorType{dtype, so}));
      EXPECT_EQ(values(out), matmul_reference(sa, a, sb, c, so));
    }
  }
}

TEST(Matmul, FloatValuesMatchReference) {
  const Shape sa = {6, 33}, sb = {33, 10};
  for (DType dtype : {F32, F64, BF16}) {
    const std::vector<double> a = sample(dtype, 198, -1, 1, 10), c = sample(dtype, 330, -1, 1, 11);
    HostTensor out = matmul(tensor(dtype, sa, a), tensor(dtype, sb, c));
    expect_near_all(values(out), matmul_reference(sa, a, sb, c, {6, 10}), 8 * tolerance(dtype));
  }
}

TEST(Matmul, IntegerOperandIsConvertedToTheHalfResultTypeFirst) {
  for (DType half : {F16, BF16}) {
    SCOPED_TRACE(std::string(dtype_name(half)));
    // 4097 is 4096 in f16 and bf16, so [4097, 4096] . [1, -1] is 0 there.
    HostTensor out = matmul(tensor(I32, {1, 2}, {4097, 4096}), tensor(half, {2, 1}, {1, -1}));
    EXPECT_EQ(out.type(), (TensorType{half, {1, 1}}));
    EXPECT_EQ(values(out)[0], 0.0);
    // 2147483646 is inf in f16 (and 2^31 in bf16): inf * 0 is NaN in f16.
    HostTensor big = matmul(tensor(half, {1, 1}, {0}), tensor(I32, {1, 1}, {2147483646}));
    if (half == F16) EXPECT_TRUE(std::isnan(values(big)[0]));
    else EXPECT_EQ(values(big)[0], 0.0);
  }
}

TEST(Matmul, MixedTypesPromote) {
  HostTensor out = matmul(tensor(I32, {1, 2}, {1, 2}), tensor(F32, {2, 1}, {0.5, 0.25}));
  EXPECT_EQ(out.type(), (TensorType{F32, {1, 1}}));
  EXPECT_EQ(values(out)[0], 1.0);
}

}  // namespace
}  // namespace tg::testing
