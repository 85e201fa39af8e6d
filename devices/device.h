// The Device interface every backend implements, shaped for GPUs: device memory is reached
// only through opaque Buffers, and work (copies, kernels) is queued in order on the device's
// queue and completes asynchronously, signalled by an Event. A Device is owned by exactly one
// daemon (see device_lock.h) and is thread-safe: any thread may queue work or allocate.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "devices/event.h"
#include "devices/tensor.h"
#include "tgrack/v1/common.pb.h"
#include "tgrack/v1/graph.pb.h"

namespace tg {

struct DeviceProperties {
  std::string name;                 // e.g. "cpu0", "AMD Instinct MI300X"
  tgrack::v1::DeviceKind kind = tgrack::v1::DEVICE_KIND_UNSPECIFIED;
  uint64_t memory_bytes = 0;        // Memory budget / capacity.
  double peak_flops = 0;            // Estimated peak f32 FLOP/s.
  double memory_bandwidth = 0;      // Estimated bytes/s.
  std::string hive_id;              // Devices with one hive id reset together; "" = none.
};

struct DeviceHealth {
  bool healthy = true;
  std::string reason;               // Why not healthy.
};

// Device memory. Owned by whoever allocated it, returned with Device::release.
struct Buffer {
  uint64_t id = 0;                  // 0 = no buffer.
  uint64_t bytes = 0;
};

// One op to run on a device: the graph node (op and attributes) and its resolved types.
// `stop`, when set, becomes true once the kernel's run is cancelled: a device may then skip
// the kernel or cut it short at a chunk boundary, failing its event with CANCELLED (the
// output is then undefined).
struct Kernel {
  const tgrack::v1::Node* node = nullptr;
  std::vector<TensorType> inputs;
  TensorType output;
  const std::atomic<bool>* stop = nullptr;

  bool stop_requested() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
};

class Device {
 public:
  virtual ~Device() = default;

  virtual const DeviceProperties& properties() const = 0;
  virtual uint64_t memory_used() const = 0;

  // RESOURCE_EXHAUSTED naming the device, the request and what is free when over budget.
  virtual absl::StatusOr<Buffer> allocate(uint64_t bytes) = 0;
  // Frees after all work queued so far that touches the buffer has completed.
  virtual void release(Buffer buffer) = 0;

  // Queued copies. Host memory passed in must stay valid until the event completes.
  virtual Event upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) = 0;
  virtual Event download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) = 0;
  virtual Event copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
                     uint64_t bytes) = 0;

  // Queues `kernel` reading `inputs` (in the node's input order) and writing `output`.
  virtual Event launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) = 0;

  // Host address of device memory where the host can reach it directly (cpu devices), so
  // transports can move bytes without staging; nullptr where it cannot (GPUs).
  virtual std::byte* host_address(Buffer buffer) = 0;

  virtual DeviceHealth health() const = 0;
  // Waits for queued work, drops every allocation and returns the device to a clean state.
  virtual absl::Status reset() = 0;
};

}  // namespace tg
