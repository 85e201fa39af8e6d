#include "devices/hip/rocm_smi.h"

#include <gtest/gtest.h>

#include "devices/hip/hip_device.h"

namespace tg {
namespace {

TEST(RocmSmi, ReadsSensorsOfEveryGpu) {
  if (absl::Status s = hip_devices_present(); !s.ok()) {
    GTEST_SKIP() << s.message();
  }
  auto smi = RocmSmi::open();
  ASSERT_TRUE(smi.ok()) << smi.status();
  ASSERT_GT((*smi)->device_count(), 0u);
  for (uint32_t i = 0; i < (*smi)->device_count(); ++i) {
    auto used = (*smi)->vram_used_bytes(i);
    ASSERT_TRUE(used.ok()) << used.status();
    auto busy = (*smi)->busy_percent(i);
    if (busy.ok()) {
      EXPECT_LE(*busy, 100u);
    }
    auto temperature = (*smi)->temperature_celsius(i);
    if (temperature.ok()) {
      EXPECT_GT(*temperature, 0.0);
    }
  }
  EXPECT_EQ((*smi)->vram_used_bytes((*smi)->device_count()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(RocmSmi, XgmiStatusNames) {
  EXPECT_EQ(xgmi_error_status_name(XgmiErrorStatus::kNoErrors), "none");
  EXPECT_EQ(xgmi_error_status_name(XgmiErrorStatus::kMultipleErrors), "multiple errors");
}

}  // namespace
}  // namespace tg
