// Ring algorithms: each rank sends to its right neighbour and receives from its left.
// Reduce-scatter takes n-1 steps; at step s rank r sends block r-s-1 and reduces block r-s-2
// into its output as the bytes arrive (the transport streams the reduction through a small
// scratch, so combining overlaps the transfer). Each rank then owns block r, fully reduced
// by exactly one rank, so all-gather (n-1 steps, forwarding blocks verbatim) leaves
// identical bytes on every rank. Bandwidth optimal: 2(n-1)/n of the buffer crosses each link.
#pragma once

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

// Afterwards block g.me of args.out (Blocks{count, g.size()}) holds the reduction, finalized.
absl::Status ring_reduce_scatter(const Group& g, const ReduceArgs& args);
// Block g.me of `out` holds this rank's contribution (filled from `in` when in != block);
// afterwards `out` holds every block.
absl::Status ring_all_gather(const Group& g, std::byte* out, const std::byte* in, size_t count,
                             size_t elem_size);
absl::Status ring_all_reduce(const Group& g, const ReduceArgs& args);

}  // namespace tg::coll
