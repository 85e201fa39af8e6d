#include "devices/cpu/cpu_device.h"

#include <chrono>
#include <numeric>
#include <thread>

#include <gtest/gtest.h>

namespace tg {
namespace {

using std::chrono::milliseconds;
constexpr uint64_t MiB = uint64_t{1} << 20;

TEST(CpuDevice, ReportsProperties) {
  CpuDevice device("cpu3", 512 * MiB, 2, "hive-a");
  EXPECT_EQ(device.properties().name, "cpu3");
  EXPECT_EQ(device.properties().kind, tgrack::v1::DEVICE_KIND_CPU);
  EXPECT_EQ(device.properties().memory_bytes, 512 * MiB);
  EXPECT_GT(device.properties().peak_flops, 0);
  EXPECT_GT(device.properties().memory_bandwidth, 0);
  EXPECT_EQ(device.properties().hive_id, "hive-a");
  EXPECT_TRUE(device.health().healthy);
}

TEST(CpuDevice, AllocationBeyondBudgetNamesDeviceRequestAndFree) {
  CpuDevice device("cpu1", 512 * MiB, 1);
  auto a = device.allocate(500 * MiB);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(device.memory_used(), 500 * MiB);
  auto b = device.allocate(1024 * MiB);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(b.status().message(),
            "device cpu1: cannot allocate 1.0 GiB: 12.0 MiB of 512.0 MiB free");
  EXPECT_EQ(device.allocate(13 * MiB).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(device.allocate(12 * MiB).ok());
  device.release(*a);
  EXPECT_EQ(device.memory_used(), 12 * MiB);
  EXPECT_TRUE(device.allocate(500 * MiB).ok());
}

TEST(CpuDevice, CopiesRunInOrderAndRoundTrip) {
  CpuDevice device("cpu0", 64 * MiB, 1);
  auto a = device.allocate(4000);
  auto b = device.allocate(4000);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> src(1000), dst(1000, -1);
  std::iota(src.begin(), src.end(), 0);
  device.upload(*a, 0, src.data(), 4000);
  device.copy(*b, 0, *a, 2000, 2000);  // Second half of a -> first half of b.
  device.copy(*b, 2000, *a, 0, 2000);
  Event done = device.download(dst.data(), *b, 0, 4000);
  ASSERT_TRUE(done.wait_for(milliseconds(10000)).ok());
  EXPECT_EQ(dst[0], 500);
  EXPECT_EQ(dst[499], 999);
  EXPECT_EQ(dst[500], 0);
  EXPECT_EQ(dst[999], 499);
  EXPECT_EQ(std::memcmp(device.host_address(*a), src.data(), 4000), 0);
}

TEST(CpuDevice, OutOfRangeAndUnknownBuffersFailWithoutQueueing) {
  CpuDevice device("cpu0", MiB, 1);
  auto a = device.allocate(16);
  ASSERT_TRUE(a.ok());
  char bytes[32] = {};
  EXPECT_EQ(device.upload(*a, 8, bytes, 16).wait().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(device.download(bytes, Buffer{999, 16}, 0, 16).wait().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(device.host_address(Buffer{999, 16}), nullptr);
  EXPECT_TRUE(device.upload(*a, 0, bytes, 16).wait().ok());
}

TEST(CpuDevice, ReleasedBuffersAreGoneAndDoubleReleaseIsHarmless) {
  CpuDevice device("cpu0", MiB, 1);
  auto a = device.allocate(1000);
  auto b = device.allocate(24);
  ASSERT_TRUE(a.ok() && b.ok());
  device.release(*a);
  device.release(*a);
  EXPECT_EQ(device.memory_used(), 24u);
  EXPECT_EQ(device.host_address(*a), nullptr);
  char bytes[8] = {};
  EXPECT_EQ(device.upload(*a, 0, bytes, 8).wait().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(device.upload(*b, 0, bytes, 8).wait().ok());
}

TEST(CpuDevice, ZeroByteBuffersWork) {
  CpuDevice device("cpu0", 0, 1);
  auto a = device.allocate(0);
  ASSERT_TRUE(a.ok());
  EXPECT_NE(a->id, 0u);
  EXPECT_NE(device.host_address(*a), nullptr);
  EXPECT_TRUE(device.upload(*a, 0, nullptr, 0).wait().ok());
  EXPECT_EQ(device.allocate(1).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(CpuDevice, ResetDropsEveryAllocation) {
  CpuDevice device("cpu0", MiB, 1);
  auto a = device.allocate(MiB / 2);
  auto b = device.allocate(MiB / 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(device.allocate(1).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(device.reset().ok());
  EXPECT_EQ(device.memory_used(), 0u);
  EXPECT_EQ(device.host_address(*a), nullptr);
  EXPECT_TRUE(device.allocate(MiB).ok());
}

TEST(CpuDevice, WorkOnAnIdleDeviceIsDoneWhenTheCallReturns) {
  CpuDevice device("cpu0", MiB, 1);
  auto buffer = device.allocate(4);
  ASSERT_TRUE(buffer.ok());
  const int value = 7;
  Event upload = device.upload(*buffer, 0, &value, sizeof(value));
  EXPECT_TRUE(upload.ready());  // Ran on this thread: no hand-off to the worker.
  int back = 0;
  Event download = device.download(&back, *buffer, 0, sizeof(back));
  EXPECT_TRUE(download.ready());
  EXPECT_EQ(back, 7);
  device.release(*buffer);
}

TEST(CpuDevice, ManyThreadsShareOneDevice) {
  CpuDevice device("cpu0", 64 * MiB, 2);
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto buffer = device.allocate(1024);
        if (!buffer.ok()) {
          ++failures;
          continue;
        }
        std::vector<uint8_t> in(1024, static_cast<uint8_t>(t * 50 + i)), out(1024, 0);
        device.upload(*buffer, 0, in.data(), 1024);
        if (!device.download(out.data(), *buffer, 0, 1024).wait_for(milliseconds(10000)).ok() ||
            in != out)
          ++failures;
        device.release(*buffer);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(device.memory_used(), 0u);
}

}  // namespace
}  // namespace tg
