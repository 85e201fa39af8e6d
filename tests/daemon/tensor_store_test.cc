// TensorStore: ids, sessions, leases, fetch, and tensors lost to a device reset.
#include "daemon/tensor_store.h"

#include <gtest/gtest.h>

#include "devices/cpu/cpu_device.h"

namespace tg {
namespace {

constexpr uint64_t MiB = uint64_t{1} << 20;
const TensorType kF32x4{tgrack::v1::DTYPE_F32, {4}};

class TensorStoreTest : public ::testing::Test {
 protected:
  CpuDevice d0{"cpu0", 16 * MiB, 1};
  CpuDevice d1{"cpu1", 16 * MiB, 1};
  TensorStore store{"node-a", {&d0, &d1}};

  // Stores [v, v+1, v+2, v+3] on `device` under `id`.
  void put(const std::string& id, CpuDevice& device, uint32_t index, float v,
           const std::string& session) {
    auto buffer = device.allocate(16);
    ASSERT_TRUE(buffer.ok());
    HostTensor t(kF32x4);
    for (int i = 0; i < 4; ++i) t.values<float>()[i] = v + i;
    ASSERT_TRUE(device.upload(*buffer, 0, t.data(), 16).wait().ok());
    ASSERT_TRUE(store.put(id, index, *buffer, kF32x4, session).ok());
  }
};

TEST_F(TensorStoreTest, FetchListAndBytesPerSession) {
  put("w", d0, 0, 1, "s1");
  put("g", d1, 1, 10, "s2");
  auto w = store.fetch("w");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->values<float>()[3], 4);
  EXPECT_EQ(store.fetch("g")->values<float>()[0], 10);
  ASSERT_EQ(store.list().size(), 2u);
  EXPECT_EQ(store.list()[0]->id, "g");
  EXPECT_EQ(store.list()[0]->device_index, 1u);
  EXPECT_EQ(store.bytes_by_session(), (std::map<std::string, uint64_t>{{"s1", 16}, {"s2", 16}}));
  auto missing = store.get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "node node-a holds no tensor 'nope'");
}

TEST_F(TensorStoreTest, FreeByIdAndBySessionReleasesDeviceMemory) {
  put("a", d0, 0, 1, "s1");
  put("b", d0, 0, 1, "s1");
  put("c", d0, 0, 1, "s2");
  EXPECT_EQ(d0.memory_used(), 48u);
  EXPECT_EQ(store.free({"a", "unknown"}, ""), 1u);
  EXPECT_EQ(d0.memory_used(), 32u);
  EXPECT_EQ(store.free({}, "s1"), 1u);
  EXPECT_EQ(store.free({"c"}, "s1"), 1u);
  EXPECT_EQ(d0.memory_used(), 0u);
  EXPECT_TRUE(store.list().empty());
}

TEST_F(TensorStoreTest, ReplacedTensorLivesWhileARunHoldsIt) {
  put("w", d0, 0, 1, "s");
  auto lease = store.get("w");
  ASSERT_TRUE(lease.ok());
  put("w", d0, 0, 100, "s");
  EXPECT_EQ(d0.memory_used(), 32u);  // The old one is still held.
  EXPECT_EQ(store.fetch("w")->values<float>()[0], 100);
  lease = absl::NotFoundError("dropped");
  EXPECT_EQ(d0.memory_used(), 16u);
}

TEST_F(TensorStoreTest, ResetDeviceLosesItsTensorsOnly) {
  put("w", d0, 0, 1, "s");
  put("g", d1, 1, 1, "s");
  store.drop_device(0);
  ASSERT_TRUE(d0.reset().ok());
  auto w = store.fetch("w");
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(), "tensor 'w' was lost: device node-a/0 was reset");
  EXPECT_TRUE(store.fetch("g").ok());
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.free({}, "s"), 1u);  // Only g was still held; w's record goes too.
  EXPECT_EQ(store.get("w").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TensorStoreTest, UnknownDeviceIsRefused) {
  auto buffer = d0.allocate(16);
  ASSERT_TRUE(buffer.ok());
  absl::Status s = store.put("x", 5, *buffer, kF32x4, "s");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  d0.release(*buffer);
}

}  // namespace
}  // namespace tg
