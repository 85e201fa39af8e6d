// KernelStats: the kernel scoreboard of one daemon — per device, tenant and op, how many
// kernels ran, their total time and the bytes they touched — plus bytes copied per device
// and tenant. What `tgctl top` shows, through the controller, which keeps each tenant to its
// own rows. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "tgrack/v1/node.pb.h"

namespace tg {

class KernelStats {
 public:
  // For work of `tenant` on `device`.
  void kernel_ran(uint32_t device, const std::string& tenant, const std::string& op,
                  double seconds, uint64_t bytes);
  void bytes_copied(uint32_t device, const std::string& tenant, uint64_t bytes);
  // Seconds of kernels and copies on `device` since the last call (for the busy fraction).
  double take_busy_seconds(uint32_t device);
  void add_busy_seconds(uint32_t device, double seconds);

  // Every (device, tenant, op) row so far in that order, and every device's copies per
  // tenant.
  tgrack::v1::GetKernelStatsReply snapshot() const;

 private:
  struct Row {
    uint64_t count = 0;
    double seconds = 0;
    uint64_t bytes = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<uint32_t, std::string, std::string>, Row> rows_;  // Device, tenant, op.
  std::map<std::pair<uint32_t, std::string>, uint64_t> copied_;         // Device, tenant.
  std::map<uint32_t, double> busy_;
};

}  // namespace tg
