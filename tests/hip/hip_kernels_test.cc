// Kernel generation needs no GPU, and neither does hiprtc: every supported op (and every
// kernel case of kernel_cases.h) is generated and compiled for a real target here, so a
// source the compiler rejects fails on any host.
#include "devices/hip/hip_kernels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "devices/hip/hip_compiler.h"
#include "tests/hip/kernel_cases.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

constexpr char kArch[] = "gfx90a";

struct Case {
  std::string label;
  v1::Node node;
  std::vector<TensorType> inputs;
  TensorType output;
};

TensorType tt(DType d, Shape s) { return TensorType{d, std::move(s)}; }

v1::Node node(v1::OpKind op) {
  v1::Node n;
  n.set_name("n");
  n.set_op(op);
  return n;
}

Case make(std::string label, v1::Node n, std::vector<TensorType> in, TensorType out) {
  return Case{std::move(label), std::move(n), std::move(in), std::move(out)};
}

std::vector<Case> supported_cases() {
  const DType f32 = v1::DTYPE_F32, f64 = v1::DTYPE_F64, i32 = v1::DTYPE_I32,
              i64 = v1::DTYPE_I64, b = v1::DTYPE_BOOL;
  std::vector<Case> cases;
  for (v1::OpKind op : {v1::OP_NEG, v1::OP_EXP, v1::OP_LOG, v1::OP_SQRT, v1::OP_RELU,
                        v1::OP_SIGMOID, v1::OP_TANH}) {
    cases.push_back(
        make(v1::OpKind_Name(op) + "_f32", node(op), {tt(f32, {5, 7})}, tt(f32, {5, 7})));
  }
  cases.push_back(make("neg_i64", node(v1::OP_NEG), {tt(i64, {9})}, tt(i64, {9})));
  cases.push_back(make("tanh_f64", node(v1::OP_TANH), {tt(f64, {9})}, tt(f64, {9})));
  for (v1::OpKind op : {v1::OP_ADD, v1::OP_SUB, v1::OP_MUL, v1::OP_DIV, v1::OP_MAX, v1::OP_MIN,
                        v1::OP_POW}) {
    cases.push_back(make(v1::OpKind_Name(op) + "_bcast", node(op), {tt(f32, {2, 3}), tt(f32, {3})},
                         tt(f32, {2, 3})));
  }
  cases.push_back(make("add_i32_i64", node(v1::OP_ADD), {tt(i32, {4, 1}), tt(i64, {1, 5})},
                       tt(i64, {4, 5})));
  cases.push_back(make("max_bool", node(v1::OP_MAX), {tt(b, {3}), tt(b, {3})}, tt(b, {3})));
  for (v1::OpKind op : {v1::OP_EQ, v1::OP_NE, v1::OP_LT, v1::OP_LE, v1::OP_GT, v1::OP_GE}) {
    cases.push_back(make(v1::OpKind_Name(op), node(op), {tt(f32, {4}), tt(i32, {})}, tt(b, {4})));
  }
  for (DType from : {f32, f64, i32, i64, b}) {
    for (DType to : {f32, f64, i32, i64, b}) {
      v1::Node n = node(v1::OP_CAST);
      n.set_dtype(to);
      cases.push_back(make("cast_" + v1::DType_Name(from) + "_" + v1::DType_Name(to), n,
                           {tt(from, {6})}, tt(to, {6})));
    }
  }
  for (v1::OpKind op : {v1::OP_SUM, v1::OP_REDUCE_MAX, v1::OP_REDUCE_MIN, v1::OP_MEAN}) {
    v1::Node n = node(op);
    n.add_axes(1);
    cases.push_back(make(v1::OpKind_Name(op) + "_axis1", n, {tt(f32, {2, 3, 4})}, tt(f32, {2, 4})));
  }
  cases.push_back(make("sum_all_i32", node(v1::OP_SUM), {tt(i32, {3, 4})}, tt(i32, {})));
  cases.push_back(make("sum_bool", node(v1::OP_SUM), {tt(b, {8})}, tt(i64, {})));
  cases.push_back(make("matmul_f32", node(v1::OP_MATMUL), {tt(f32, {33, 17}), tt(f32, {17, 19})},
                       tt(f32, {33, 19})));
  cases.push_back(make("matmul_batch_bcast", node(v1::OP_MATMUL),
                       {tt(f64, {2, 1, 4, 5}), tt(f64, {3, 5, 6})}, tt(f64, {2, 3, 4, 6})));
  cases.push_back(make("matmul_i32", node(v1::OP_MATMUL), {tt(i32, {4, 5}), tt(i32, {5, 6})},
                       tt(i32, {4, 6})));
  v1::Node reshape = node(v1::OP_RESHAPE);
  cases.push_back(make("reshape", reshape, {tt(f32, {2, 6})}, tt(f32, {3, 4})));
  cases.push_back(make("expand", node(v1::OP_EXPAND), {tt(i64, {3, 1})}, tt(i64, {2, 3, 4})));
  v1::Node permute = node(v1::OP_PERMUTE);
  for (int a : {2, 0, 1}) permute.add_axes(a);
  cases.push_back(make("permute", permute, {tt(f32, {2, 3, 4})}, tt(f32, {4, 2, 3})));
  return cases;
}

Kernel kernel_of(const Case& c) { return Kernel{&c.node, c.inputs, c.output}; }

TEST(HipKernels, EverySupportedOpGeneratesSourceThatCompilesForAGfxTarget) {
  for (const Case& c : supported_cases()) {
    SCOPED_TRACE(c.label);
    auto src = generate_hip_kernel(kernel_of(c));
    ASSERT_TRUE(src.ok()) << src.status();
    ASSERT_FALSE(src->empty());
    auto code = compile_hip_source(src->source, kArch);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_GT(code->size(), 0u);
  }
}

TEST(HipKernels, LaunchShapeCoversEveryOutputElement) {
  Case c = make("add", node(v1::OP_ADD), {tt(v1::DTYPE_F32, {1000}), tt(v1::DTYPE_F32, {1000})},
                tt(v1::DTYPE_F32, {1000}));
  auto src = generate_hip_kernel(kernel_of(c));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->grid[0] * src->block[0], 1024u);
  EXPECT_THAT(src->source, HasSubstr("if (i >= 1000LL) return;"));

  Case mm = make("mm", node(v1::OP_MATMUL),
                 {tt(v1::DTYPE_F32, {5, 33, 17}), tt(v1::DTYPE_F32, {17, 40})},
                 tt(v1::DTYPE_F32, {5, 33, 40}));
  auto m = generate_hip_kernel(kernel_of(mm));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->grid[0], 3u);  // ceil(40 / 16) columns of tiles.
  EXPECT_EQ(m->grid[1], 3u);  // ceil(33 / 16) rows.
  EXPECT_EQ(m->grid[2], 5u);  // One z per batch.
  // b has no batch dims: its batch stride is 0, so no offset is added for it.
  EXPECT_THAT(m->source, HasSubstr("o0 += c * 561LL;"));
  EXPECT_THAT(m->source, ::testing::Not(HasSubstr("o1 += c")));
}

TEST(HipKernels, BroadcastInputReadsWithZeroStride) {
  Case c = make("add", node(v1::OP_ADD), {tt(v1::DTYPE_F32, {2, 3}), tt(v1::DTYPE_F32, {2, 1})},
                tt(v1::DTYPE_F32, {2, 3}));
  auto src = generate_hip_kernel(kernel_of(c));
  ASSERT_TRUE(src.ok());
  EXPECT_THAT(src->source, HasSubstr("long long o0 = i;"));  // Same shape: direct.
  EXPECT_THAT(src->source, HasSubstr("{ long long c = r % 2LL; r /= 2LL; o1 += c * 1LL; }"));
  EXPECT_THAT(src->source, HasSubstr("  r /= 3LL;\n"));  // Nothing moves along dim 1.
}

TEST(HipKernels, EmptyOutputNeedsNoLaunch) {
  Case c = make("neg", node(v1::OP_NEG), {tt(v1::DTYPE_F32, {0, 4})}, tt(v1::DTYPE_F32, {0, 4}));
  auto src = generate_hip_kernel(kernel_of(c));
  ASSERT_TRUE(src.ok());
  EXPECT_TRUE(src->empty());
}

TEST(HipKernels, WhatIsNotGeneratedIsUnimplementedNamingOpAndDtype) {
  const std::vector<std::pair<Case, std::string>> cases = {
      {make("input", node(v1::OP_INPUT), {}, tt(v1::DTYPE_BF16, {2})),
       "hip backend: OP_INPUT on bf16 kernel"},
      {make("constant", node(v1::OP_CONSTANT), {}, tt(v1::DTYPE_I64, {2})),
       "hip backend: OP_CONSTANT on i64 kernel"},
      {make("unknown_dtype", node(v1::OP_NEG), {tt(v1::DTYPE_UNSPECIFIED, {2})},
            tt(v1::DTYPE_UNSPECIFIED, {2})),
       "hip backend: OP_NEG on unspecified"},
  };
  for (const auto& [c, message] : cases) {
    auto src = generate_hip_kernel(kernel_of(c));
    ASSERT_EQ(src.status().code(), absl::StatusCode::kUnimplemented) << c.label;
    EXPECT_THAT(std::string(src.status().message()), HasSubstr(message)) << c.label;
    EXPECT_THAT(std::string(src.status().message()), HasSubstr("not supported yet")) << c.label;
  }
}

TEST(HipKernels, IntegerDivAndPowCarryTheErrorFlagOthersDoNot) {
  const DType i32 = v1::DTYPE_I32, f32 = v1::DTYPE_F32;
  Case div = make("div", node(v1::OP_DIV), {tt(i32, {4}), tt(i32, {4})}, tt(i32, {4}));
  auto d = generate_hip_kernel(kernel_of(div));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->failure, "integer division by zero");
  EXPECT_THAT(d->source, HasSubstr("unsigned int* __restrict__ err)"));
  Case pow = make("pow", node(v1::OP_POW), {tt(v1::DTYPE_I64, {4}), tt(i32, {4})},
                  tt(v1::DTYPE_I64, {4}));
  auto p = generate_hip_kernel(kernel_of(pow));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->failure, "integer to a negative integer power");
  Case fdiv = make("fdiv", node(v1::OP_DIV), {tt(f32, {4}), tt(i32, {4})}, tt(f32, {4}));
  auto f = generate_hip_kernel(kernel_of(fdiv));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->failure.empty());
  EXPECT_THAT(f->source, ::testing::Not(HasSubstr("__restrict__ err")));
}

TEST(HipKernels, SixteenBitFloatsAreStoredAsBitsAndComputedInF32) {
  Case add = make("add", node(v1::OP_ADD), {tt(v1::DTYPE_F16, {4}), tt(v1::DTYPE_I32, {4})},
                  tt(v1::DTYPE_F16, {4}));
  auto src = generate_hip_kernel(kernel_of(add));
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_THAT(src->source, HasSubstr("unsigned short* __restrict__ out"));
  // The i32 operand becomes f16 first (promotion), rounded once from its exact value.
  EXPECT_THAT(src->source, HasSubstr("tg_h2f(tg_f2h(tg_int_round_odd((long long)in1[o1])))"));
  EXPECT_THAT(src->source, HasSubstr("out[i] = tg_f2h(tg_add<float, float>(a, b));"));
}

// Every kernel case compiles for a real gfx target.
class HipKernelCaseCompiles : public ::testing::TestWithParam<std::string> {};

TEST_P(HipKernelCaseCompiles, ForGfx90a) {
  const hiptest::KernelCase& c = hiptest::kernel_case(GetParam());
  auto src = generate_hip_kernel(c.kernel());
  ASSERT_TRUE(src.ok()) << src.status();
  if (src->empty()) return;
  auto code = compile_hip_source(src->source, kArch);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_GT(code->size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, HipKernelCaseCompiles,
                         ::testing::ValuesIn(hiptest::kernel_case_labels()),
                         [](const auto& info) { return info.param; });

TEST(HipCompiler, BadSourceFailsWithTheCompilerLog) {
  auto code =
      compile_hip_source("extern \"C\" __global__ void tg_kernel() { undeclared(); }", kArch);
  ASSERT_EQ(code.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(code.status().message()), HasSubstr("undeclared"));
}

TEST(HipCompiler, EmptyTargetIsRejected) {
  EXPECT_EQ(compile_hip_source("", "").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tg
