#include "daemon/kernel_stats.h"

namespace tg {

void KernelStats::kernel_ran(uint32_t device, const std::string& tenant, const std::string& op,
                             double seconds, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  Row& row = rows_[{device, tenant, op}];
  ++row.count;
  row.seconds += seconds;
  row.bytes += bytes;
  busy_[device] += seconds;
}

void KernelStats::bytes_copied(uint32_t device, const std::string& tenant, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  copied_[{device, tenant}] += bytes;
}

void KernelStats::add_busy_seconds(uint32_t device, double seconds) {
  std::lock_guard lock(mutex_);
  busy_[device] += seconds;
}

double KernelStats::take_busy_seconds(uint32_t device) {
  std::lock_guard lock(mutex_);
  auto it = busy_.find(device);
  if (it == busy_.end()) return 0;
  return std::exchange(it->second, 0.0);
}

tgrack::v1::GetKernelStatsReply KernelStats::snapshot() const {
  std::lock_guard lock(mutex_);
  tgrack::v1::GetKernelStatsReply reply;
  for (const auto& [key, row] : rows_) {
    tgrack::v1::KernelStat* stat = reply.add_kernels();
    const auto& [device, tenant, op] = key;
    stat->set_device_index(device);
    stat->set_tenant(tenant);
    stat->set_op(op);
    stat->set_count(row.count);
    stat->set_total_seconds(row.seconds);
    stat->set_bytes(row.bytes);
  }
  for (const auto& [key, bytes] : copied_) {
    tgrack::v1::DeviceCopies* copies = reply.add_copies();
    copies->set_device_index(key.first);
    copies->set_tenant(key.second);
    copies->set_bytes(bytes);
  }
  return reply;
}

}  // namespace tg
