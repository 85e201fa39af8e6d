// Broadcast and barrier. Broadcast sends small buffers down a binomial tree (log n steps)
// and large ones down a chain in slices, each rank forwarding slice k while slice k+1
// arrives. The barrier is a dissemination barrier: ceil(log2 n) rounds of one byte.
#pragma once

#include <cstddef>

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

absl::Status tree_broadcast(const Group& g, std::byte* data, size_t bytes, uint32_t root);
absl::Status chain_broadcast(const Group& g, std::byte* data, size_t bytes, uint32_t root);
absl::Status barrier(const Group& g);

}  // namespace tg::coll
