// Hierarchical all-reduce for ranks spread over daemons: the ranks of each daemon reduce to
// their leader (the lowest rank there) over local links, the leaders all-reduce across
// daemons (ring, or halving-doubling for small buffers), and each leader hands the result
// back to its local ranks. Only one rank per daemon touches the network.
#pragma once

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

// `node_of[rank]` names each rank's daemon (ranks with equal values share one).
absl::Status hierarchical_all_reduce(const Group& g, const ReduceArgs& args,
                                     const std::vector<uint32_t>& node_of, bool small);

}  // namespace tg::coll
