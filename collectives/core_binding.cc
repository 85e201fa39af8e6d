#include "collectives/core_binding.h"

#include <pthread.h>
#include <sched.h>

#include <string>

#include "net/host_port.h"

namespace tg::coll {
namespace {

std::string host_of(const std::string& address) {
  absl::StatusOr<net::HostPort> parsed = net::parse_host_port(address);
  return parsed.ok() ? parsed->host : address;
}

}  // namespace

HostSlot host_slot(const tgrack::v1::CommunicatorSpec& spec, uint32_t rank) {
  if (rank >= static_cast<uint32_t>(spec.ranks_size())) return {};
  const std::string mine = host_of(spec.ranks(static_cast<int>(rank)).data_address());
  HostSlot slot{0, 0};
  for (int r = 0; r < spec.ranks_size(); ++r) {
    if (host_of(spec.ranks(r).data_address()) != mine) continue;
    if (static_cast<uint32_t>(r) < rank) ++slot.index;
    ++slot.count;
  }
  return slot;
}

int bind_to_core(const HostSlot& slot) {
  if (slot.count < 2 || slot.index >= slot.count) return -1;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return -1;
  if (static_cast<size_t>(CPU_COUNT(&allowed)) < slot.count) return -1;
  size_t seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || seen++ != slot.index) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0 ? cpu : -1;
  }
  return -1;
}

}  // namespace tg::coll
