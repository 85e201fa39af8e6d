// Test hold: lets a test keep work running on a daemon for exactly as long as it wants, so
// tests of drains, resets, cancellation and dying daemons never depend on how long real
// work takes. For tests only; never active unless a test asks for it twice over:
//   - tgd runs with --test-hold-dir DIR, and
//   - its environment has TGRACK_TEST_HOOKS=1 (tgd refuses the flag otherwise).
// Then every device of the daemon is seen through a HoldingDevice. A kernel whose graph node
// is named "test_hold..." (planner suffixes such as "#1" or "/part" included) does not start
// until the test releases it: the device creates DIR/<key>.held, where <key> is the node name
// up to its first character other than a letter, digit, '_' or '-', then waits until
// DIR/<key>.release exists, at most kMaxTestHold (then it logs and runs the kernel). The run
// is in progress the whole time: its device is entered, its job registered. A held kernel
// whose run is stopped meanwhile (Kernel::stop) creates DIR/<key>.stopped and fails with
// CANCELLED without running, so tests see that a cancel reached the kernel. Every other
// kernel and every other call passes straight through.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <absl/status/status.h>

#include "devices/device.h"

namespace tg {

inline constexpr char kTestHoldPrefix[] = "test_hold";
inline constexpr char kTestHoldEnv[] = "TGRACK_TEST_HOOKS";
inline constexpr std::chrono::seconds kMaxTestHold{60};

// OK when `dir` is empty (no hold) or the environment enables test hooks; otherwise
// FAILED_PRECONDITION naming the flag and the variable.
absl::Status test_hold_allowed(const std::string& dir);

class HoldingDevice final : public Device {
 public:
  HoldingDevice(std::unique_ptr<Device> device, std::string dir)
      : device_(std::move(device)), dir_(std::move(dir)) {}

  const DeviceProperties& properties() const override { return device_->properties(); }
  uint64_t memory_used() const override { return device_->memory_used(); }
  absl::StatusOr<Buffer> allocate(uint64_t bytes) override { return device_->allocate(bytes); }
  void release(Buffer buffer) override { device_->release(buffer); }
  Event upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) override {
    return device_->upload(dst, dst_offset, src, bytes);
  }
  Event download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) override {
    return device_->download(dst, src, src_offset, bytes);
  }
  Event copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
             uint64_t bytes) override {
    return device_->copy(dst, dst_offset, src, src_offset, bytes);
  }
  // Holds a "test_hold..." node's kernel as the header says, then launches it.
  Event launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) override;
  std::byte* host_address(Buffer buffer) override { return device_->host_address(buffer); }
  DeviceHealth health() const override { return device_->health(); }
  absl::Status reset() override { return device_->reset(); }

 private:
  // False when the kernel's run was stopped while it was held.
  bool hold(const Kernel& kernel);

  const std::unique_ptr<Device> device_;
  const std::string dir_;
};

}  // namespace tg
