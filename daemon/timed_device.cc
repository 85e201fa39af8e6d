#include "daemon/timed_device.h"

#include <cctype>
#include <chrono>

#include "tgrack/v1/graph.pb.h"

namespace tg {
namespace {

using Clock = std::chrono::steady_clock;

// "OP_MATMUL" -> "matmul", the way metrics and tgctl top name ops.
std::string op_label(const Kernel& kernel) {
  if (kernel.node == nullptr) return "unknown";
  std::string name = tgrack::v1::OpKind_Name(kernel.node->op());
  if (name.rfind("OP_", 0) == 0) name = name.substr(3);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Event TimedDevice::timed_copy(uint64_t bytes, const std::function<Event()>& queue) {
  const Clock::time_point start = Clock::now();
  Event event = queue();
  absl::Status status = event.wait();
  if (status.ok()) on_copy_(bytes, seconds_since(start));
  return event;
}

Event TimedDevice::upload(Buffer dst, uint64_t dst_offset, const void* src, uint64_t bytes) {
  return timed_copy(bytes, [&] { return device_.upload(dst, dst_offset, src, bytes); });
}

Event TimedDevice::download(void* dst, Buffer src, uint64_t src_offset, uint64_t bytes) {
  return timed_copy(bytes, [&] { return device_.download(dst, src, src_offset, bytes); });
}

Event TimedDevice::copy(Buffer dst, uint64_t dst_offset, Buffer src, uint64_t src_offset,
                        uint64_t bytes) {
  return timed_copy(bytes,
                    [&] { return device_.copy(dst, dst_offset, src, src_offset, bytes); });
}

Event TimedDevice::launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) {
  const Clock::time_point start = Clock::now();
  Event event = device_.launch(kernel, inputs, output);
  absl::Status status = event.wait();
  if (status.ok()) {
    uint64_t bytes = output.bytes;
    for (const Buffer& input : inputs) bytes += input.bytes;
    on_kernel_(op_label(kernel), seconds_since(start), bytes);
  }
  return event;
}

}  // namespace tg
