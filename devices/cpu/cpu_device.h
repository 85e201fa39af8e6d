// The cpu backend: a virtual device backed by host memory and threads. Each CpuDevice has
// its own memory budget (allocations beyond it fail with RESOURCE_EXHAUSTED) and its own
// in-order queue; copies and kernels run one at a time, in order, and complete through
// Events. A task queued while the device is idle runs at once on the caller's thread (its
// Event is complete on return); otherwise the device's worker thread runs it. Large elementwise and movement kernels are split across the
// device's worker threads. Thread-safe. Buffers are host allocations behind opaque ids, so
// host_address() gives transports direct access.
//
// Budget accounting is logical: release() returns a buffer's bytes to the budget at once,
// while the memory itself is freed when the queue reaches the release.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "devices/cpu/thread_pool.h"
#include "devices/device.h"

namespace tg {

class CpuDevice : public Device {
 public:
  // `worker_threads` (>= 1): threads a kernel may use; the queue itself stays in order.
  CpuDevice(std::string name, uint64_t memory_bytes, int worker_threads, std::string hive_id = "");
  // Waits for queued work, then frees everything.
  ~CpuDevice() override;
  CpuDevice(const CpuDevice&) = delete;
  CpuDevice& operator=(const CpuDevice&) = delete;

  const DeviceProperties& properties() const override { return properties_; }
  uint64_t memory_used() const override;

  absl::StatusOr<Buffer> allocate(uint64_t bytes) override;
  void release(Buffer buffer) override;

  Event upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) override;
  Event download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) override;
  Event copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
             uint64_t bytes) override;
  // The kernel's node must stay valid until the event completes.
  Event launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) override;

  std::byte* host_address(Buffer buffer) override;

  DeviceHealth health() const override { return {}; }
  // Callers must not queue work while a reset is in progress.
  absl::Status reset() override;

 private:
  using Task = std::function<absl::Status()>;
  struct Allocation {
    std::unique_ptr<std::byte[]> memory;
    uint64_t bytes = 0;
    bool released = false;  // Freed once the queue reaches the release; unusable already.
  };

  // The memory of a live buffer when [offset, offset + bytes) lies inside it; an error
  // naming `what` otherwise. Requires mu_.
  absl::StatusOr<std::byte*> range(Buffer buffer, uint64_t offset, uint64_t bytes,
                                   absl::string_view what) const;
  // Queues `task`, or runs it on the calling thread when the queue is empty and idle.
  Event enqueue(Task task);
  // Runs `task` (one at a time: the caller holds busy_); exceptions become statuses.
  absl::Status run(const Task& task);
  void serve();

  const DeviceProperties properties_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<Task, EventCompleter>> queue_;
  bool stopping_ = false;
  bool busy_ = false;  // A task is running, on the worker or on a caller's thread.
  uint64_t next_id_ = 1;
  uint64_t used_ = 0;
  std::unordered_map<uint64_t, Allocation> buffers_;
  cpu::ThreadPool pool_;  // Used only by the thread running the current task.
  std::thread worker_;
};

}  // namespace tg
