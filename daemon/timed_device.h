// TimedDevice: a Device seen through a stopwatch, for graphs the daemon runs.
//
// Forwards every call to the wrapped device, but waits for each queued copy and kernel to
// complete before returning its (completed) event, so each one is timed on its own: a
// kernel's time is the wall time from its launch to its completion. Reports every kernel and
// every copy to the callbacks, from the calling thread. Work queued on the same device by
// others while a kernel runs counts towards that kernel. The wrapped device must outlive
// this; thread-safe as the wrapped device is.
#pragma once

#include <functional>
#include <string>

#include "devices/device.h"

namespace tg {

class TimedDevice final : public Device {
 public:
  using OnKernel = std::function<void(const std::string& op, double seconds, uint64_t bytes)>;
  using OnCopy = std::function<void(uint64_t bytes, double seconds)>;

  TimedDevice(Device& device, OnKernel on_kernel, OnCopy on_copy)
      : device_(device), on_kernel_(std::move(on_kernel)), on_copy_(std::move(on_copy)) {}

  const DeviceProperties& properties() const override { return device_.properties(); }
  uint64_t memory_used() const override { return device_.memory_used(); }
  absl::StatusOr<Buffer> allocate(uint64_t bytes) override { return device_.allocate(bytes); }
  void release(Buffer buffer) override { device_.release(buffer); }

  Event upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) override;
  Event download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) override;
  Event copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
             uint64_t bytes) override;
  Event launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) override;

  std::byte* host_address(Buffer buffer) override { return device_.host_address(buffer); }
  DeviceHealth health() const override { return device_.health(); }
  absl::Status reset() override { return device_.reset(); }

 private:
  Event timed_copy(uint64_t bytes, const std::function<Event()>& queue);

  Device& device_;
  const OnKernel on_kernel_;
  const OnCopy on_copy_;
};

}  // namespace tg
