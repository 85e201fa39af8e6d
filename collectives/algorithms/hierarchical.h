// Hierarchical all-reduce for ranks in groups (node_of: daemons, or racks) whose links are
// fast inside a group and slow between groups.
//
// Leader form (small buffers, or groups of unequal size): the ranks of each group reduce to
// their leader (the lowest rank there), the leaders all-reduce across groups (halving-doubling
// when small, else ring), and each leader hands the result back. Few steps, but the leader's
// link carries the whole buffer once per other rank of its group.
//
// Pipelined form (M groups of L ranks each, M and L >= 2, larger buffers): the buffer splits
// into `chunks` chunks (the cost model's hierarchical_chunks(): more chunks shorten the
// pipeline's fill and drain, each costs a step's latency). Each chunk is reduce-scattered inside every group (ring,
// L-1 steps); shard i of it is all-reduced across the groups by the ranks at position i of
// each group (L concurrent rings, 2(M-1) steps), so 2(M-1)/M of the buffer crosses each
// group's uplink, against 2(n-1)/n for a flat ring; then it is all-gathered inside the group
// (L-1 steps). While chunk k crosses the groups, chunk k+1 is reduce-scattered and chunk k-1
// all-gathered, so the uplinks stay busy but for the first and last chunk's steps inside.
#pragma once

#include <cstddef>
#include <vector>

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

// Buffers up to this size take the leader form with halving-doubling across groups.
inline constexpr size_t kHierarchicalLeaderMaxBytes = 64 << 10;

// `node_of[rank]` names each rank's group (ranks with equal values share one); `chunks` >= 1,
// the same on every rank.
absl::Status hierarchical_all_reduce(const Group& g, const ReduceArgs& args,
                                     const std::vector<uint32_t>& node_of, size_t chunks);

}  // namespace tg::coll
