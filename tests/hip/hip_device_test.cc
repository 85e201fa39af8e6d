// The HIP backend on a real AMD GPU. Where there is none, every test that needs one skips
// saying what is missing; the "no GPU" behaviour itself is tested everywhere.
#include "devices/hip/hip_device.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/hip/kernel_cases.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;
constexpr std::chrono::seconds kWait(60);

TEST(HipBackend, NoKfdMeansUnavailableWithOneClearLine) {
  const std::filesystem::path empty =
      std::filesystem::temp_directory_path() / ("tg_hip_no_kfd_" + std::to_string(getpid()));
  std::filesystem::create_directories(empty);
  auto devices = open_hip_devices({.ordinals = {}, .dev_root = empty.string(),
                                   .kfd_topology_root = empty.string()});
  std::filesystem::remove_all(empty);
  ASSERT_EQ(devices.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(devices.status().message()),
            "hip backend: no AMD GPU found (" + (empty / "kfd").string() + " missing)");
}

class HipDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status s = hip_devices_present(); !s.ok()) {
      GTEST_SKIP() << s.message();
    }
    auto devices = open_hip_devices();
    ASSERT_TRUE(devices.ok()) << devices.status();
    devices_ = std::move(*devices);
    device_ = devices_[0].get();
  }

  Buffer put(const std::vector<std::byte>& bytes) {
    auto b = device_->allocate(bytes.size());
    EXPECT_TRUE(b.ok()) << b.status();
    EXPECT_TRUE(device_->upload(*b, 0, bytes.data(), bytes.size()).wait_for(kWait).ok());
    return *b;
  }
  template <class T> Buffer put_values(const std::vector<T>& values) {
    std::vector<std::byte> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return put(bytes);
  }
  template <class T> std::vector<T> get(Buffer b, size_t n) {
    std::vector<T> out(n);
    EXPECT_TRUE(device_->download(out.data(), b, 0, n * sizeof(T)).wait_for(kWait).ok());
    return out;
  }
  // Runs `node` on `inputs` and returns the output buffer.
  absl::StatusOr<Buffer> run(const v1::Node& node, std::vector<TensorType> types,
                             std::vector<Buffer> inputs, TensorType out) {
    auto o = device_->allocate(out.bytes());
    if (!o.ok()) return o.status();
    Kernel k{&node, std::move(types), out};
    if (auto s = device_->launch(k, inputs, *o).wait_for(kWait); !s.ok()) return s;
    return *o;
  }

  std::vector<std::unique_ptr<Device>> devices_;
  Device* device_ = nullptr;
};

v1::Node op(v1::OpKind kind) {
  v1::Node n;
  n.set_name("n");
  n.set_op(kind);
  return n;
}

TEST_F(HipDeviceTest, ReportsAGpuWithNoHostAddress) {
  EXPECT_EQ(device_->properties().kind, v1::DEVICE_KIND_HIP);
  EXPECT_GT(device_->properties().memory_bytes, 0u);
  Buffer b = put_values<int>({1, 2, 3});
  EXPECT_EQ(device_->host_address(b), nullptr);
  EXPECT_EQ(device_->memory_used(), 12u);
  device_->release(b);
  EXPECT_EQ(device_->memory_used(), 0u);
}

TEST_F(HipDeviceTest, UploadCopyDownloadRoundTrip) {
  Buffer a = put_values<int>({1, 2, 3, 4});
  auto b = device_->allocate(16);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(device_->copy(*b, 4, a, 0, 12).wait_for(kWait).ok());
  ASSERT_TRUE(device_->copy(*b, 0, a, 12, 4).wait_for(kWait).ok());
  EXPECT_EQ(get<int>(*b, 4), (std::vector<int>{4, 1, 2, 3}));
  EXPECT_EQ(device_->copy(*b, 8, a, 0, 12).wait_for(kWait).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HipDeviceTest, AllocationBeyondCapacityIsResourceExhausted) {
  auto b = device_->allocate(device_->properties().memory_bytes + 1);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(HipDeviceTest, BroadcastAddMatchesHost) {
  const TensorType a{v1::DTYPE_F32, {2, 3}}, b{v1::DTYPE_F32, {3}};
  auto out = run(op(v1::OP_ADD), {a, b},
                 {put_values<float>({1, 2, 3, 4, 5, 6}), put_values<float>({10, 20, 30})}, a);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(get<float>(*out, 6), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST_F(HipDeviceTest, IntegerAddWrapsAndMaxPropagatesNan) {
  const TensorType i{v1::DTYPE_I32, {2}};
  auto sum = run(op(v1::OP_ADD), {i, i},
                 {put_values<int>({std::numeric_limits<int>::max(), 5}), put_values<int>({1, 6})},
                 i);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(get<int>(*sum, 2), (std::vector<int>{std::numeric_limits<int>::min(), 11}));
  const TensorType f{v1::DTYPE_F32, {2}};
  const float nan = std::nanf("");
  auto mx = run(op(v1::OP_MAX), {f, f},
                {put_values<float>({nan, 1}), put_values<float>({2, nan})}, f);
  ASSERT_TRUE(mx.ok()) << mx.status();
  std::vector<float> got = get<float>(*mx, 2);
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_TRUE(std::isnan(got[1]));
}

TEST_F(HipDeviceTest, CastFloatToIntTruncatesSaturatesAndMapsNanToZero) {
  v1::Node cast = op(v1::OP_CAST);
  cast.set_dtype(v1::DTYPE_I32);
  auto out = run(cast, {{v1::DTYPE_F32, {5}}},
                 {put_values<float>({1.7f, -1.7f, std::nanf(""), 3e9f, -3e9f})},
                 {v1::DTYPE_I32, {5}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(get<int>(*out, 5), (std::vector<int>{1, -1, 0, std::numeric_limits<int>::max(),
                                                 std::numeric_limits<int>::min()}));
}

TEST_F(HipDeviceTest, SumAndMaxOverAnAxisMatchHost) {
  std::vector<float> x(2 * 3 * 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7) % 11) - 5;
  v1::Node sum = op(v1::OP_SUM);
  sum.add_axes(1);
  v1::Node mx = op(v1::OP_REDUCE_MAX);
  mx.add_axes(1);
  const TensorType in{v1::DTYPE_F32, {2, 3, 4}}, out{v1::DTYPE_F32, {2, 4}};
  Buffer xb = put_values(x);
  auto s = run(sum, {in}, {xb}, out);
  auto m = run(mx, {in}, {xb}, out);
  ASSERT_TRUE(s.ok() && m.ok());
  std::vector<float> got_s = get<float>(*s, 8), got_m = get<float>(*m, 8);
  for (int a = 0; a < 2; ++a) {
    for (int c = 0; c < 4; ++c) {
      double want_s = 0;
      float want_m = -1e30f;
      for (int b = 0; b < 3; ++b) {
        want_s += x[a * 12 + b * 4 + c];
        want_m = std::max(want_m, x[a * 12 + b * 4 + c]);
      }
      EXPECT_EQ(got_s[a * 4 + c], static_cast<float>(want_s));
      EXPECT_EQ(got_m[a * 4 + c], want_m);
    }
  }
}

TEST_F(HipDeviceTest, TiledMatmulMatchesHost) {
  const int m = 37, k = 29, n = 21;
  std::vector<double> a(m * k), b(k * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>((i * 13) % 17) / 8 - 1;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<double>((i * 5) % 19) / 4 - 2;
  auto out = run(op(v1::OP_MATMUL), {{v1::DTYPE_F64, {m, k}}, {v1::DTYPE_F64, {k, n}}},
                 {put_values(a), put_values(b)}, {v1::DTYPE_F64, {m, n}});
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<double> got = get<double>(*out, m * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double want = 0;
      for (int q = 0; q < k; ++q) want += a[i * k + q] * b[q * n + j];
      EXPECT_NEAR(got[i * n + j], want, 1e-9) << i << "," << j;
    }
  }
}

TEST_F(HipDeviceTest, InputNodeIsUnimplementedNamingOpAndDtype) {
  auto out = run(op(v1::OP_INPUT), {}, {}, {v1::DTYPE_F16, {2}});
  ASSERT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("OP_INPUT on f16"));
}

TEST_F(HipDeviceTest, ConstantNodeUploadsItsValue) {
  v1::Node c = op(v1::OP_CONSTANT);
  c.mutable_value()->set_dtype(v1::DTYPE_I32);
  c.mutable_value()->add_shape(3);
  const std::vector<int> want = {4, -5, 6};
  c.mutable_value()->set_data(std::string(reinterpret_cast<const char*>(want.data()), 12));
  auto out = run(c, {}, {}, {v1::DTYPE_I32, {3}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(get<int>(*out, 3), want);
}

TEST_F(HipDeviceTest, DataErrorFailsTheLaunchButLeavesTheDeviceHealthy) {
  const TensorType i{v1::DTYPE_I32, {2}};
  auto q = run(op(v1::OP_DIV), {i, i}, {put_values<int>({1, 2}), put_values<int>({1, 0})}, i);
  ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(q.status().message(), "node 'n' (OP_DIV): integer division by zero");
  EXPECT_TRUE(device_->health().healthy);
  auto ok = run(op(v1::OP_DIV), {i, i}, {put_values<int>({-7, 7}), put_values<int>({2, 2})}, i);
  ASSERT_TRUE(ok.ok()) << ok.status();  // The flag was cleared for the next launch.
  EXPECT_EQ(get<int>(*ok, 2), (std::vector<int>{-4, 3}));
}

// Every kernel case (tests/hip/kernel_cases.h) on the GPU gives the cpu backend's result.
class HipDeviceMatchesCpu : public HipDeviceTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(HipDeviceMatchesCpu, SameResultAsTheCpuBackend) {
  const hiptest::KernelCase& c = hiptest::kernel_case(GetParam());
  std::vector<Buffer> inputs;
  for (const auto& d : c.data) inputs.push_back(put(d));
  auto out = run(c.node, c.inputs, inputs, c.output);
  std::vector<std::byte> bytes(c.output.bytes());
  if (out.ok() && !bytes.empty()) {
    ASSERT_TRUE(device_->download(bytes.data(), *out, 0, bytes.size()).wait_for(kWait).ok());
  }
  hiptest::expect_matches_cpu(c, out.status(), bytes);
}

INSTANTIATE_TEST_SUITE_P(Cases, HipDeviceMatchesCpu,
                         ::testing::ValuesIn(hiptest::kernel_case_labels()),
                         [](const auto& info) { return info.param; });

TEST_F(HipDeviceTest, ResetDropsEveryAllocation) {
  put_values<int>({1, 2, 3});
  ASSERT_GT(device_->memory_used(), 0u);
  ASSERT_TRUE(device_->reset().ok());
  EXPECT_EQ(device_->memory_used(), 0u);
  EXPECT_TRUE(device_->health().healthy);
  Buffer again = put_values<int>({7});
  EXPECT_EQ(get<int>(again, 1), std::vector<int>{7});
}

TEST_F(HipDeviceTest, HostStagedAndPeerCopiesBetweenTwoGpus) {
  if (devices_.size() < 2) GTEST_SKIP() << "needs two AMD GPUs, found " << devices_.size();
  auto& src = static_cast<HipDevice&>(*devices_[0]);
  auto& dst = static_cast<HipDevice&>(*devices_[1]);
  Buffer from = put_values<int>({5, 6, 7});
  auto to = dst.allocate(12);
  ASSERT_TRUE(to.ok());
  ASSERT_TRUE(hip_peer_copy(dst, *to, 0, src, from, 0, 12, LinkClass::kHost).wait_for(kWait).ok());
  std::vector<int> got(3);
  ASSERT_TRUE(dst.download(got.data(), *to, 0, 12).wait_for(kWait).ok());
  EXPECT_EQ(got, (std::vector<int>{5, 6, 7}));
  if (!dst.enable_peer_access(src).ok()) return;  // No peer path between them: nothing more.
  ASSERT_TRUE(hip_peer_copy(dst, *to, 4, src, from, 0, 8, LinkClass::kPcie).wait_for(kWait).ok());
  ASSERT_TRUE(dst.download(got.data(), *to, 0, 12).wait_for(kWait).ok());
  EXPECT_EQ(got, (std::vector<int>{5, 5, 6}));
}

TEST_F(HipDeviceTest, PeerCopyWithoutPeerAccessFailsInsteadOfFallingBack) {
  if (devices_.size() < 2) GTEST_SKIP() << "needs two AMD GPUs, found " << devices_.size();
  auto& src = static_cast<HipDevice&>(*devices_[0]);
  auto& dst = static_cast<HipDevice&>(*devices_[1]);
  if (dst.peer_access_enabled(src)) GTEST_SKIP() << "peer access already enabled";
  Buffer from = put_values<int>({1});
  auto to = dst.allocate(4);
  ASSERT_TRUE(to.ok());
  absl::Status s = hip_peer_copy(dst, *to, 0, src, from, 0, 4, LinkClass::kXgmi).wait_for(kWait);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tg
