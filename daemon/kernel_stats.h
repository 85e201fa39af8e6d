// KernelStats: the kernel scoreboard of one daemon — per device and op, how many kernels ran,
// their total time and the bytes they touched — plus bytes copied per device. What
// `tgctl top` shows. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "tgrack/v1/node.pb.h"

namespace tg {

class KernelStats {
 public:
  void kernel_ran(uint32_t device, const std::string& op, double seconds, uint64_t bytes);
  void bytes_copied(uint32_t device, uint64_t bytes);
  // Seconds of kernels and copies on `device` since the last call (for the busy fraction).
  double take_busy_seconds(uint32_t device);
  void add_busy_seconds(uint32_t device, double seconds);

  // Every (device, op) row so far, sorted by device then op, and every device's copies.
  tgrack::v1::GetKernelStatsReply snapshot() const;

 private:
  struct Row {
    uint64_t count = 0;
    double seconds = 0;
    uint64_t bytes = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<uint32_t, std::string>, Row> rows_;
  std::map<uint32_t, uint64_t> copied_;
  std::map<uint32_t, double> busy_;
};

}  // namespace tg
