#include "devices/cpu/cpu_device.h"

#include <cstring>
#include <new>

#include <absl/strings/str_cat.h>

#include "devices/cpu/kernels.h"
#include "devices/units.h"

namespace tg {

namespace {

// Rough per-thread figures for a current x86 core: 32 f32 FLOP/cycle (two 8-wide FMA) at
// 2.5 GHz, and a share of DRAM bandwidth.
constexpr double kFlopsPerThread = 32 * 2.5e9;
constexpr double kBandwidthPerThread = 8e9;

}  // namespace

CpuDevice::CpuDevice(std::string name, uint64_t memory_bytes, int worker_threads,
                     std::string hive_id)
    : properties_{.name = std::move(name),
                  .kind = tgrack::v1::DEVICE_KIND_CPU,
                  .memory_bytes = memory_bytes,
                  .peak_flops = kFlopsPerThread * std::max(worker_threads, 1),
                  .memory_bandwidth = kBandwidthPerThread * std::max(worker_threads, 1),
                  .hive_id = std::move(hive_id)},
      pool_(std::max(worker_threads, 1)),
      worker_([this] { serve(); }) {}

CpuDevice::~CpuDevice() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

uint64_t CpuDevice::memory_used() const {
  std::lock_guard lock(mu_);
  return used_;
}

absl::StatusOr<Buffer> CpuDevice::allocate(uint64_t bytes) {
  std::lock_guard lock(mu_);
  const uint64_t free = properties_.memory_bytes - used_;
  if (bytes > free) {
    return absl::ResourceExhaustedError(
        absl::StrCat("device ", properties_.name, ": cannot allocate ", format_bytes(bytes), ": ",
                     format_bytes(free), " of ", format_bytes(properties_.memory_bytes), " free"));
  }
  Allocation allocation;
  allocation.bytes = bytes;
  // Zeroed: memory another tenant's tensor held must not reach the next one.
  allocation.memory.reset(new (std::nothrow) std::byte[std::max<uint64_t>(bytes, 1)]());
  if (!allocation.memory) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "device ", properties_.name, ": host allocation of ", format_bytes(bytes), " failed"));
  }
  const uint64_t id = next_id_++;
  buffers_.emplace(id, std::move(allocation));
  used_ += bytes;
  return Buffer{id, bytes};
}

void CpuDevice::release(Buffer buffer) {
  {
    std::lock_guard lock(mu_);
    auto it = buffers_.find(buffer.id);
    if (it == buffers_.end() || it->second.released) return;
    it->second.released = true;
    used_ -= it->second.bytes;
  }
  // Queued work that still reads the buffer runs before this.
  enqueue([this, id = buffer.id] {
    std::lock_guard lock(mu_);
    buffers_.erase(id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::byte*> CpuDevice::range(Buffer buffer, uint64_t offset, uint64_t bytes,
                                            absl::string_view what) const {
  auto it = buffers_.find(buffer.id);
  if (it == buffers_.end() || it->second.released) {
    return absl::InvalidArgumentError(
        absl::StrCat("device ", properties_.name, ": ", what, ": no buffer with id ", buffer.id));
  }
  if (offset > it->second.bytes || bytes > it->second.bytes - offset) {
    return absl::OutOfRangeError(absl::StrCat("device ", properties_.name, ": ", what, ": bytes [",
                                              offset, ", ", offset + bytes, ") outside buffer of ",
                                              it->second.bytes, " bytes"));
  }
  return it->second.memory.get() + offset;
}

Event CpuDevice::upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) {
  std::unique_lock lock(mu_);
  auto to = range(dst, dst_offset, bytes, "upload");
  lock.unlock();
  if (!to.ok()) return Event::done(to.status());
  return enqueue([to = *to, src, bytes] {
    if (bytes > 0) std::memcpy(to, src, bytes);
    return absl::OkStatus();
  });
}

Event CpuDevice::download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) {
  std::unique_lock lock(mu_);
  auto from = range(src, src_offset, bytes, "download");
  lock.unlock();
  if (!from.ok()) return Event::done(from.status());
  return enqueue([dst, from = *from, bytes] {
    if (bytes > 0) std::memcpy(dst, from, bytes);
    return absl::OkStatus();
  });
}

Event CpuDevice::copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
                      uint64_t bytes) {
  std::unique_lock lock(mu_);
  auto to = range(dst, dst_offset, bytes, "copy");
  auto from = range(src, src_offset, bytes, "copy");
  lock.unlock();
  if (!to.ok()) return Event::done(to.status());
  if (!from.ok()) return Event::done(from.status());
  return enqueue([to = *to, from = *from, bytes] {
    if (bytes > 0) std::memmove(to, from, bytes);
    return absl::OkStatus();
  });
}

Event CpuDevice::launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) {
  if (inputs.size() != kernel.inputs.size()) {
    return Event::done(absl::InvalidArgumentError(
        absl::StrCat("device ", properties_.name, ": kernel has ", kernel.inputs.size(),
                     " input types but ", inputs.size(), " buffers")));
  }
  std::vector<const std::byte*> in;
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto p = range(inputs[i], 0, kernel.inputs[i].bytes(), "launch input");
    if (!p.ok()) return Event::done(p.status());
    in.push_back(*p);
  }
  auto out = range(output, 0, kernel.output.bytes(), "launch output");
  lock.unlock();
  if (!out.ok()) return Event::done(out.status());
  return enqueue([this, kernel, in = std::move(in), out = *out] {
    if (kernel.stop_requested()) {  // Cancelled while it waited in the queue.
      return absl::CancelledError(absl::StrCat("node '", kernel.node->name(),
                                               "': not run, its run was cancelled"));
    }
    return cpu::run_kernel(kernel, in, out, &pool_);
  });
}

std::byte* CpuDevice::host_address(Buffer buffer) {
  std::lock_guard lock(mu_);
  auto it = buffers_.find(buffer.id);
  return it == buffers_.end() || it->second.released ? nullptr : it->second.memory.get();
}

absl::Status CpuDevice::reset() {
  absl::Status drained = enqueue([] { return absl::OkStatus(); }).wait();
  std::lock_guard lock(mu_);
  buffers_.clear();
  used_ = 0;
  return drained;
}

Event CpuDevice::enqueue(Task task) {
  std::unique_lock lock(mu_);
  if (queue_.empty() && !busy_) {
    // Nothing queued or running: run it here, sparing two thread hand-offs per task.
    busy_ = true;
    lock.unlock();
    absl::Status status = run(task);
    lock.lock();
    busy_ = false;
    const bool queued = !queue_.empty();
    lock.unlock();
    if (queued) wake_.notify_one();
    return Event::done(std::move(status));
  }
  auto [event, completer] = Event::pending();
  queue_.emplace_back(std::move(task), std::move(completer));
  lock.unlock();
  wake_.notify_one();
  return event;
}

absl::Status CpuDevice::run(const Task& task) {
  try {
    return task();
  } catch (const std::exception& e) {  // e.g. bad_alloc in a kernel's scratch space.
    return absl::ResourceExhaustedError(absl::StrCat("device ", properties_.name, ": ", e.what()));
  }
}

void CpuDevice::serve() {
  while (true) {
    std::unique_lock lock(mu_);
    wake_.wait(lock, [&] { return (stopping_ && !busy_) || (!queue_.empty() && !busy_); });
    if (queue_.empty()) return;  // Stopping and drained.
    auto [task, completer] = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    absl::Status status = run(task);
    lock.lock();
    busy_ = false;
    lock.unlock();
    completer.complete(std::move(status));
  }
}

}  // namespace tg
