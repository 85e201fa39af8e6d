// Runs the generated HIP kernels on the host: the source is compiled by the host C++ compiler
// with the few HIP names it uses defined for a CPU, then called block by block. Kernels that
// synchronize (__syncthreads) run one std::thread per GPU thread with a barrier and static
// storage for __shared__; the others run their threads one after another. This checks the
// kernels' results against the type rules and the cpu backend on machines without an AMD GPU.
#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "devices/hip/hip_kernels.h"
#include "tests/hip/kernel_cases.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

constexpr char kHostPrelude[] = R"(
#include <math.h>
struct TgDim3 { unsigned x = 0, y = 0, z = 0; };
thread_local TgDim3 threadIdx, blockIdx;
#define __global__
#define __device__
)";
constexpr char kThreadedPrelude[] = R"(
#include <barrier>
#include <thread>
#include <vector>
static std::barrier<>* tg_barrier;
#define __shared__ static
#define __syncthreads() tg_barrier->arrive_and_wait()
)";

std::string ctype(DType d) {
  switch (d) {
    case v1::DTYPE_F32: return "float";
    case v1::DTYPE_F64: return "double";
    case v1::DTYPE_F16: case v1::DTYPE_BF16: return "unsigned short";
    case v1::DTYPE_I32: return "int";
    case v1::DTYPE_I64: return "long long";
    default: return "unsigned char";
  }
}

// A launch's result: the status (INVALID_ARGUMENT naming the node when the kernel set its
// error flag, as HipDevice reports it) and the output bytes.
struct Emulated {
  absl::Status status;
  std::vector<std::byte> bytes;
};

class Emulator {
 public:
  Emulator() {
    dir_ = std::filesystem::temp_directory_path() / ("tg_hip_emu_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  // The loaded kernels stay loaded until the process exits: unloading a module with
  // thread-local storage and then loading another one corrupts glibc's heap.
  ~Emulator() { std::filesystem::remove_all(dir_); }

  // Runs `kernel` on `inputs` (raw bytes) and returns the output's bytes.
  std::vector<std::byte> run(const Kernel& k, const std::vector<std::vector<std::byte>>& inputs) {
    Emulated e = launch(k, inputs);
    EXPECT_TRUE(e.status.ok()) << e.status;
    return e.bytes;
  }

  Emulated launch(const Kernel& k, const std::vector<std::vector<std::byte>>& inputs) {
    auto src = generate_hip_kernel(k);
    EXPECT_TRUE(src.ok()) << src.status();
    Emulated result{absl::OkStatus(), std::vector<std::byte>(k.output.bytes())};
    if (!src.ok()) return {src.status(), {}};
    if (src->empty()) return result;
    const bool flagged = !src->failure.empty();
    std::string call = "tg_kernel(";
    for (size_t i = 0; i < k.inputs.size(); ++i) {
      call += "(const " + ctype(k.inputs[i].dtype) + "*)args[" + std::to_string(i) + "], ";
    }
    call += "(" + ctype(k.output.dtype) + "*)args[" + std::to_string(k.inputs.size()) + "]";
    if (flagged) call += ", (unsigned int*)args[" + std::to_string(k.inputs.size() + 1) + "]";
    call += ");";
    const bool threaded = src->source.find("__syncthreads") != std::string::npos;
    const unsigned threads = src->block[0] * src->block[1] * src->block[2];
    std::string runner = "extern \"C\" void tg_run(void** args) {\n";
    if (threaded) {
      runner += "  std::barrier<> barrier(" + std::to_string(threads) + "); tg_barrier = &barrier;\n";
    }
    runner += "  for (unsigned z = 0; z < " + std::to_string(src->grid[2]) + "; ++z)\n";
    runner += "  for (unsigned y = 0; y < " + std::to_string(src->grid[1]) + "; ++y)\n";
    runner += "  for (unsigned x = 0; x < " + std::to_string(src->grid[0]) + "; ++x) {\n";
    if (threaded) runner += "    std::vector<std::thread> ts;\n";
    runner += "    for (unsigned tz = 0; tz < " + std::to_string(src->block[2]) + "; ++tz)\n";
    runner += "    for (unsigned ty = 0; ty < " + std::to_string(src->block[1]) + "; ++ty)\n";
    runner += "    for (unsigned tx = 0; tx < " + std::to_string(src->block[0]) + "; ++tx)\n";
    if (threaded) {
      runner += "      ts.emplace_back([=] {\n";
      runner += "        blockIdx = {x, y, z}; threadIdx = {tx, ty, tz}; " + call + "\n      });\n";
      runner += "    for (auto& t : ts) t.join();\n  }\n}\n";
    } else {
      runner += "      { blockIdx = {x, y, z}; threadIdx = {tx, ty, tz}; " + call + " }\n  }\n}\n";
    }
    static int count = 0;  // Unique names across emulators: loaded modules are never unloaded.
    const std::string name = "k" + std::to_string(count++);
    const auto cc = dir_ / (name + ".cc"), so = dir_ / (name + ".so");
    std::ofstream(cc) << kHostPrelude << (threaded ? kThreadedPrelude : "") << src->source
                      << runner;
    const std::string cmd = std::string(TG_HOST_CXX) +
                            " -std=c++20 -O1 -w -shared -fPIC -pthread -o " + so.string() + " " +
                            cc.string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "host compile failed:\n" << src->source;
    void* handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(handle, nullptr) << dlerror();
    if (!handle) return {absl::InternalError("no emulated kernel"), {}};
    auto run = reinterpret_cast<void (*)(void**)>(dlsym(handle, "tg_run"));
    std::vector<void*> args;
    for (const auto& in : inputs) args.push_back(const_cast<std::byte*>(in.data()));
    args.push_back(result.bytes.data());
    uint32_t error_flag = 0;
    if (flagged) args.push_back(&error_flag);
    run(args.data());
    if (error_flag != 0) {
      result.status = absl::InvalidArgumentError("node '" + k.node->name() + "' (" +
                                                 v1::OpKind_Name(k.node->op()) + "): " +
                                                 src->failure);
    }
    return result;
  }

 private:
  std::filesystem::path dir_;
};

template <class T> std::vector<std::byte> bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <class T> std::vector<T> values(const std::vector<std::byte>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

v1::Node op(v1::OpKind kind) {
  v1::Node n;
  n.set_name("n");
  n.set_op(kind);
  return n;
}

class HipKernelEmulation : public ::testing::Test {
 protected:
  Emulator emu_;
};

TEST_F(HipKernelEmulation, BroadcastAddAndPromotedComparison) {
  const v1::Node add = op(v1::OP_ADD);
  Kernel k{&add, {{v1::DTYPE_F32, {2, 3}}, {v1::DTYPE_F32, {3}}}, {v1::DTYPE_F32, {2, 3}}};
  auto out =
      values<float>(emu_.run(k, {bytes<float>({1, 2, 3, 4, 5, 6}), bytes<float>({10, 20, 30})}));
  EXPECT_EQ(out, (std::vector<float>{11, 22, 33, 14, 25, 36}));

  const v1::Node lt = op(v1::OP_LT);
  Kernel c{&lt, {{v1::DTYPE_F32, {4}}, {v1::DTYPE_I32, {}}}, {v1::DTYPE_BOOL, {4}}};
  auto flags = values<uint8_t>(emu_.run(c, {bytes<float>({1.5f, 2.5f, -3, 2}), bytes<int>({2})}));
  EXPECT_EQ(flags, (std::vector<uint8_t>{1, 0, 1, 0}));
}

TEST_F(HipKernelEmulation, IntegerArithmeticWrapsAndMixedTypesPromote) {
  const v1::Node add = op(v1::OP_ADD);
  Kernel k{&add, {{v1::DTYPE_I32, {2}}, {v1::DTYPE_I32, {2}}}, {v1::DTYPE_I32, {2}}};
  auto out = values<int>(
      emu_.run(k, {bytes<int>({std::numeric_limits<int>::max(), -4}), bytes<int>({1, 6})}));
  EXPECT_EQ(out, (std::vector<int>{std::numeric_limits<int>::min(), 2}));

  const v1::Node mul = op(v1::OP_MUL);
  Kernel m{&mul, {{v1::DTYPE_I32, {2, 1}}, {v1::DTYPE_I64, {1, 2}}}, {v1::DTYPE_I64, {2, 2}}};
  auto prod = values<int64_t>(
      emu_.run(m, {bytes<int>({3, -2}), bytes<int64_t>({int64_t{1} << 40, 5})}));
  EXPECT_EQ(prod, (std::vector<int64_t>{3 * (int64_t{1} << 40), 15, -2 * (int64_t{1} << 40), -10}));
}

TEST_F(HipKernelEmulation, MaxMinPropagateNanAndUnaryOpsFollowTheRules) {
  const float nan = std::nanf("");
  const v1::Node mx = op(v1::OP_MAX), mn = op(v1::OP_MIN);
  Kernel kx{&mx, {{v1::DTYPE_F32, {3}}, {v1::DTYPE_F32, {3}}}, {v1::DTYPE_F32, {3}}};
  Kernel kn{&mn, {{v1::DTYPE_F32, {3}}, {v1::DTYPE_F32, {3}}}, {v1::DTYPE_F32, {3}}};
  const auto a = bytes<float>({nan, 1, 4}), b = bytes<float>({2, nan, 3});
  auto x = values<float>(emu_.run(kx, {a, b}));
  auto n = values<float>(emu_.run(kn, {a, b}));
  EXPECT_TRUE(std::isnan(x[0]) && std::isnan(x[1]));
  EXPECT_TRUE(std::isnan(n[0]) && std::isnan(n[1]));
  EXPECT_EQ(x[2], 4);
  EXPECT_EQ(n[2], 3);

  const v1::Node relu = op(v1::OP_RELU), sigmoid = op(v1::OP_SIGMOID), neg = op(v1::OP_NEG);
  Kernel r{&relu, {{v1::DTYPE_F32, {3}}}, {v1::DTYPE_F32, {3}}};
  auto rv = values<float>(emu_.run(r, {bytes<float>({-2, 3, nan})}));
  EXPECT_EQ(rv[0], 0);
  EXPECT_EQ(rv[1], 3);
  EXPECT_TRUE(std::isnan(rv[2]));  // x < 0 ? 0 : x keeps NaN.
  Kernel s{&sigmoid, {{v1::DTYPE_F64, {2}}}, {v1::DTYPE_F64, {2}}};
  auto sv = values<double>(emu_.run(s, {bytes<double>({0, 2})}));
  EXPECT_DOUBLE_EQ(sv[0], 0.5);
  EXPECT_DOUBLE_EQ(sv[1], 1 / (1 + std::exp(-2.0)));
  Kernel ng{&neg, {{v1::DTYPE_I64, {1}}}, {v1::DTYPE_I64, {1}}};
  auto nv = values<int64_t>(emu_.run(ng, {bytes<int64_t>({std::numeric_limits<int64_t>::min()})}));
  EXPECT_EQ(nv[0], std::numeric_limits<int64_t>::min());  // Wraps.
}

TEST_F(HipKernelEmulation, CastsTruncateSaturateWrapAndTestNonZero) {
  v1::Node to_i32 = op(v1::OP_CAST);
  to_i32.set_dtype(v1::DTYPE_I32);
  Kernel f2i{&to_i32, {{v1::DTYPE_F64, {6}}}, {v1::DTYPE_I32, {6}}};
  auto i = values<int>(
      emu_.run(f2i, {bytes<double>({1.9, -1.9, std::nan(""), 3e9, -3e9, -2147483648.0})}));
  const int lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
  EXPECT_EQ(i, (std::vector<int>{1, -1, 0, hi, lo, lo}));
  Kernel narrow{&to_i32, {{v1::DTYPE_I64, {2}}}, {v1::DTYPE_I32, {2}}};
  auto w = values<int>(emu_.run(narrow, {bytes<int64_t>({(int64_t{1} << 32) + 7, -1})}));
  EXPECT_EQ(w, (std::vector<int>{7, -1}));
  v1::Node to_bool = op(v1::OP_CAST);
  to_bool.set_dtype(v1::DTYPE_BOOL);
  Kernel f2b{&to_bool, {{v1::DTYPE_F32, {3}}}, {v1::DTYPE_BOOL, {3}}};
  auto bv = values<uint8_t>(emu_.run(f2b, {bytes<float>({0, -0.5f, std::nanf("")})}));
  EXPECT_EQ(bv, (std::vector<uint8_t>{0, 1, 1}));
  v1::Node to_f32 = op(v1::OP_CAST);
  to_f32.set_dtype(v1::DTYPE_F32);
  Kernel b2f{&to_f32, {{v1::DTYPE_BOOL, {2}}}, {v1::DTYPE_F32, {2}}};
  EXPECT_EQ(values<float>(emu_.run(b2f, {bytes<uint8_t>({1, 0})})), (std::vector<float>{1, 0}));
}

TEST_F(HipKernelEmulation, ReductionsOverAxes) {
  std::vector<float> x(2 * 3 * 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11) - 5.25f;
  v1::Node sum = op(v1::OP_SUM);
  sum.add_axes(1);
  Kernel ks{&sum, {{v1::DTYPE_F32, {2, 3, 4}}}, {v1::DTYPE_F32, {2, 4}}};
  auto s = values<float>(emu_.run(ks, {bytes(x)}));
  v1::Node mx = op(v1::OP_REDUCE_MAX);
  mx.add_axes(0);
  mx.add_axes(2);
  Kernel km{&mx, {{v1::DTYPE_F32, {2, 3, 4}}}, {v1::DTYPE_F32, {3}}};
  auto m = values<float>(emu_.run(km, {bytes(x)}));
  v1::Node mean = op(v1::OP_MEAN);
  Kernel kmean{&mean, {{v1::DTYPE_F32, {2, 3, 4}}}, {v1::DTYPE_F32, {}}};
  auto avg = values<float>(emu_.run(kmean, {bytes(x)}));
  double total = 0;
  for (int a = 0; a < 2; ++a) {
    for (int c = 0; c < 4; ++c) {
      double want = 0;
      for (int b = 0; b < 3; ++b) want += x[a * 12 + b * 4 + c];
      EXPECT_EQ(s[a * 4 + c], static_cast<float>(want));
      total += want;
    }
  }
  EXPECT_EQ(avg[0], static_cast<float>(total / 24));
  for (int b = 0; b < 3; ++b) {
    float want = -1e30f;
    for (int a = 0; a < 2; ++a) {
      for (int c = 0; c < 4; ++c) want = std::max(want, x[a * 12 + b * 4 + c]);
    }
    EXPECT_EQ(m[b], want);
  }
  v1::Node bsum = op(v1::OP_SUM);
  Kernel kb{&bsum, {{v1::DTYPE_BOOL, {5}}}, {v1::DTYPE_I64, {}}};
  EXPECT_EQ(values<int64_t>(emu_.run(kb, {bytes<uint8_t>({1, 0, 1, 1, 0})}))[0], 3);
}

TEST_F(HipKernelEmulation, TiledMatmulWithBroadcastBatchesMatchesHost) {
  const int m = 19, k = 21, n = 17;
  std::vector<double> a(2 * m * k), b(3 * k * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>((i * 13) % 17) / 8 - 1;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<double>((i * 5) % 19) / 4 - 2;
  const v1::Node mm = op(v1::OP_MATMUL);
  Kernel kk{&mm, {{v1::DTYPE_F64, {2, 1, m, k}}, {v1::DTYPE_F64, {3, k, n}}},
            {v1::DTYPE_F64, {2, 3, m, n}}};
  auto c = values<double>(emu_.run(kk, {bytes(a), bytes(b)}));
  ASSERT_EQ(c.size(), static_cast<size_t>(6 * m * n));
  for (int p = 0; p < 2; ++p) {
    for (int q = 0; q < 3; ++q) {
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          double want = 0;
          for (int t = 0; t < k; ++t) want += a[(p * m + i) * k + t] * b[(q * k + t) * n + j];
          EXPECT_NEAR(c[((p * 3 + q) * m + i) * n + j], want, 1e-12) << p << q << i << j;
        }
      }
    }
  }
}

TEST_F(HipKernelEmulation, MovementOpsPlaceEveryElement) {
  std::vector<int> x(24);
  for (int i = 0; i < 24; ++i) x[i] = i;
  v1::Node permute = op(v1::OP_PERMUTE);
  for (int a : {2, 0, 1}) permute.add_axes(a);
  Kernel kp{&permute, {{v1::DTYPE_I32, {2, 3, 4}}}, {v1::DTYPE_I32, {4, 2, 3}}};
  auto p = values<int>(emu_.run(kp, {bytes(x)}));
  for (int d = 0; d < 4; ++d) {
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < 3; ++b) EXPECT_EQ(p[(d * 2 + a) * 3 + b], x[a * 12 + b * 4 + d]);
    }
  }
  v1::Node expand = op(v1::OP_EXPAND);
  Kernel ke{&expand, {{v1::DTYPE_I32, {3, 1}}}, {v1::DTYPE_I32, {2, 3, 2}}};
  EXPECT_EQ(values<int>(emu_.run(ke, {bytes<int>({7, 8, 9})})),
            (std::vector<int>{7, 7, 8, 8, 9, 9, 7, 7, 8, 8, 9, 9}));
}

// Every kernel case (tests/hip/kernel_cases.h) emulated on the host gives the cpu backend's
// result for the same bytes: bit for bit, or within the case's stated tolerance.
class HipKernelMatchesCpu : public ::testing::TestWithParam<std::string> {
 protected:
  Emulator emu_;
};

TEST_P(HipKernelMatchesCpu, SameResultAsTheCpuBackend) {
  const hiptest::KernelCase& c = hiptest::kernel_case(GetParam());
  const Emulated got = emu_.launch(c.kernel(), c.data);
  hiptest::expect_matches_cpu(c, got.status, got.bytes);
}

INSTANTIATE_TEST_SUITE_P(Cases, HipKernelMatchesCpu,
                         ::testing::ValuesIn(hiptest::kernel_case_labels()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tg
