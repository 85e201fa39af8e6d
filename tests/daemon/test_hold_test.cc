#include "daemon/test_hold.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "devices/cpu/cpu_device.h"
#include "process.h"

namespace tg {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool appears(const fs::path& path) {
  return tg::testing::wait_until([&] { return fs::exists(path); }, 30s, 1ms);
}

// relu of f32[2] {-1, 2} on a HoldingDevice over a cpu device, the node named by the test.
class HoldingDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    input_ = *holding_.allocate(8);
    output_ = *holding_.allocate(8);
    const float values[] = {-1, 2}, zeros[] = {0, 0};
    ASSERT_TRUE(holding_.upload(input_, 0, values, 8).wait().ok());
    ASSERT_TRUE(holding_.upload(output_, 0, zeros, 8).wait().ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Event launch_relu(const std::string& name, const std::atomic<bool>* stop = nullptr) {
    node_.set_name(name);
    node_.set_op(tgrack::v1::OP_RELU);
    const Kernel kernel{&node_, {TensorType{tgrack::v1::DTYPE_F32, {2}}},
                        TensorType{tgrack::v1::DTYPE_F32, {2}}, stop};
    const Buffer inputs[] = {input_};
    return holding_.launch(kernel, inputs, output_);
  }
  std::vector<float> output() {
    std::vector<float> out(2);
    EXPECT_TRUE(holding_.download(out.data(), output_, 0, 8).wait().ok());
    return out;
  }

  const fs::path dir_ =
      fs::path(::testing::TempDir()) / ("test-hold-" + std::to_string(::getpid()));
  HoldingDevice holding_{std::make_unique<CpuDevice>("cpu0", 1 << 20, 1), dir_.string()};
  tgrack::v1::Node node_;
  Buffer input_, output_;
};

TEST_F(HoldingDeviceTest, AHoldNodeRunsOnlyOnceReleased) {
  // The planner's shard suffix is not part of the key.
  auto launched = std::async(std::launch::async, [&] { return launch_relu("test_hold_a#1"); });
  ASSERT_TRUE(appears(dir_ / "test_hold_a.held"));
  EXPECT_EQ(output(), (std::vector<float>{0, 0})) << "the held kernel ran before its release";
  EXPECT_EQ(launched.wait_for(0s), std::future_status::timeout);

  std::ofstream(dir_ / "test_hold_a.release") << "\n";
  ASSERT_TRUE(launched.get().wait().ok());
  EXPECT_EQ(output(), (std::vector<float>{0, 2}));
}

// A held kernel whose run is stopped never runs: it says so in DIR/<key>.stopped and fails.
TEST_F(HoldingDeviceTest, AHeldKernelWhoseRunStopsEndsWithoutRunning) {
  std::atomic<bool> stop{false};
  auto launched = std::async(std::launch::async, [&] { return launch_relu("test_hold_b", &stop); });
  ASSERT_TRUE(appears(dir_ / "test_hold_b.held"));
  EXPECT_FALSE(fs::exists(dir_ / "test_hold_b.stopped"));
  stop = true;
  ASSERT_TRUE(appears(dir_ / "test_hold_b.stopped"));
  const absl::Status status = launched.get().wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(status.message(), "node 'test_hold_b': stopped while held, its run was cancelled");
  EXPECT_EQ(output(), (std::vector<float>{0, 0})) << "the stopped kernel ran";
}

TEST_F(HoldingDeviceTest, OtherNodesPassStraightThrough) {
  ASSERT_TRUE(launch_relu("relu_test_hold").wait().ok());  // "test_hold" must lead the name.
  EXPECT_EQ(output(), (std::vector<float>{0, 2}));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST(TestHoldAllowed, OnlyWithTheTestEnvironment) {
  ::unsetenv(kTestHoldEnv);
  EXPECT_TRUE(test_hold_allowed("").ok());
  const absl::Status refused = test_hold_allowed("/tmp/hold");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "--test-hold-dir is for tests only: set TGRACK_TEST_HOOKS=1 in the environment to use it");
  ::setenv(kTestHoldEnv, "yes", 1);
  EXPECT_FALSE(test_hold_allowed("/tmp/hold").ok());
  ::setenv(kTestHoldEnv, "1", 1);
  EXPECT_TRUE(test_hold_allowed("/tmp/hold").ok());
  ::unsetenv(kTestHoldEnv);
}

}  // namespace
}  // namespace tg
