// Where a rank's thread runs. The ranks of one communicator that share a machine are bound
// one per CPU, as MPI launchers bind ranks to cores, when they fit. Unbound, a rank that
// sleeps for its peer's bytes is woken on the core of the peer whose send woke it (the
// scheduler favours the waker's cache), and both ranks then share one core while the other
// idles, until the balancer splits them: on a 2-core host a 2-rank loopback all-reduce ran at
// half speed in some runs and full speed in others. A new rank thread also starts on its
// creator's core. More ranks than CPUs stay unbound: they take turns anyway, and a bound
// rank could not move off a core that other work holds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

// `rank`'s place among the ranks of `spec` whose data address names the same host as its
// own (in rank order), and how many such ranks there are.
struct HostSlot {
  size_t index = 0;
  size_t count = 1;
};
HostSlot host_slot(const tgrack::v1::CommunicatorSpec& spec, uint32_t rank);

// Binds the calling thread to the slot.index-th CPU this process may run on when at least
// two ranks share the host and all of them fit those CPUs. Returns the CPU, or -1 when the
// thread stays unbound.
int bind_to_core(const HostSlot& slot);

}  // namespace tg::coll
