// The reference evaluator and the comparison on their own: the rounding they rest on, and
// the results the pool must give for cases it once got wrong.
#include <cmath>

#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "compare.h"
#include "reference.h"

namespace tg::differential {
namespace {

namespace v1 = tgrack::v1;

std::vector<long double> run_one(GraphBuilder& g, const std::map<std::string, HostTensor>& feeds) {
  auto graph = g.build();
  EXPECT_TRUE(graph.ok()) << graph.status();
  auto out = evaluate(*graph, feeds);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? (*out)[0].value : std::vector<long double>{};
}

TEST(Reference, RoundsOnceToNearestEven) {
  EXPECT_EQ(round_to_float(v1::DTYPE_F16, 2049), 2048);
  EXPECT_EQ(round_to_float(v1::DTYPE_F16, 2051), 2052);
  EXPECT_EQ(round_to_float(v1::DTYPE_F16, 65519.99L), 65504);
  EXPECT_TRUE(std::isinf(round_to_float(v1::DTYPE_F16, 65520)));
  EXPECT_EQ(round_to_float(v1::DTYPE_F16, 0x1p-25L), 0);           // Tie to even: 0.
  EXPECT_EQ(round_to_float(v1::DTYPE_F16, 0x1.8p-25L), 0x1p-24L);  // Smallest subnormal.
  EXPECT_EQ(round_to_float(v1::DTYPE_BF16, 0x1p60L + 0x1p52L + 1), 0x1p60L + 0x1p53L);
  EXPECT_EQ(round_to_float(v1::DTYPE_F32, 16777217), 16777216);
  EXPECT_EQ(convert(v1::DTYPE_F32, v1::DTYPE_I32, 3e9L), 2147483647);
  EXPECT_EQ(convert(v1::DTYPE_F32, v1::DTYPE_I32, NAN), 0);
  EXPECT_EQ(convert(v1::DTYPE_I64, v1::DTYPE_I32, 0x1p32L + 5), 5);
}

TEST(Reference, MeanMaxMatmulAndCastGiveTheDefinedValues) {
  GraphBuilder mean_graph;
  mean_graph.output(mean(mean_graph.input("x", v1::DTYPE_F16, {4, 2}), {0}));
  EXPECT_EQ(run_one(mean_graph, {{"x", to_host(v1::DTYPE_F16, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8})}}),
            (std::vector<long double>{4, 5}));

  GraphBuilder max_graph;
  max_graph.output(reduce_max(max_graph.input("x", v1::DTYPE_F32, {4})));
  EXPECT_TRUE(std::isnan(run_one(max_graph, {{"x", to_host(v1::DTYPE_F32, {4}, {1, 2, NAN, 3})}})[0]));

  GraphBuilder matmul_graph;
  matmul_graph.output(matmul(matmul_graph.input("a", v1::DTYPE_I32, {1, 2}),
                             matmul_graph.input("b", v1::DTYPE_F16, {2, 1})));
  EXPECT_EQ(run_one(matmul_graph, {{"a", to_host(v1::DTYPE_I32, {1, 2}, {4097, 4096})},
                                   {"b", to_host(v1::DTYPE_F16, {2, 1}, {1, -1})}}),
            (std::vector<long double>{0}));

  GraphBuilder cast_graph;
  cast_graph.output(cast(cast_graph.input("x", v1::DTYPE_I64, {1}), v1::DTYPE_BF16));
  EXPECT_EQ(run_one(cast_graph, {{"x", to_host(v1::DTYPE_I64, {1}, {0x1p60L + 0x1p52L + 1})}}),
            (std::vector<long double>{0x1p60L + 0x1p53L}));
}

TEST(Compare, ExactOpsMustMatchAndSumsStayWithinTheirBound) {
  RefTensor sum;
  sum.dtype = v1::DTYPE_F32;
  sum.shape = {1};
  sum.value = sum.exact = {1};
  sum.magnitude = {1000};  // 1000 - 999, summed over 2 terms.
  sum.op = v1::OP_SUM;
  sum.terms = 2;
  EXPECT_EQ(compare(sum, to_host(v1::DTYPE_F32, {1}, {1}), 0), "");
  // One device: 2 ulp(1) plus 2 u_f64 1000; a sharded run may also round two partials.
  EXPECT_NE(compare(sum, to_host(v1::DTYPE_F32, {1}, {1 + 0x1p-20L}), 0), "");
  EXPECT_EQ(compare(sum, to_host(v1::DTYPE_F32, {1}, {1 + 0x1p-20L}), 2), "");
  EXPECT_NE(compare(sum, to_host(v1::DTYPE_F32, {1}, {NAN}), 2), "");
  RefTensor cast = sum;
  cast.op = v1::OP_CAST;
  EXPECT_NE(compare(cast, to_host(v1::DTYPE_F32, {1}, {1 + 0x1p-23L}), 0), "");
}

}  // namespace
}  // namespace tg::differential
