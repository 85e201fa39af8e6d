// Mesh (direct) all-reduce: every rank exchanges with every rank at once, the fit for fully
// connected links. One-shot (small buffers): each rank sends its whole input to every peer
// and reduces all n inputs itself. Two-shot (large): a direct reduce-scatter (block j goes to
// rank j) then a direct all-gather. Reductions run in rank order 0..n-1 on every rank, so
// results are identical bytes everywhere.
#pragma once

#include <vector>

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

// `scratch` is reused between calls; it grows to n times the buffer (one-shot) or n blocks.
absl::Status mesh_all_reduce_one_shot(const Group& g, const ReduceArgs& args,
                                      std::vector<std::byte>& scratch);
// gather = false stops after the reduce-scatter half (block g.me of out holds the result).
absl::Status mesh_all_reduce_two_shot(const Group& g, const ReduceArgs& args,
                                      std::vector<std::byte>& scratch, bool gather = true);
// Direct all-gather: own block to every peer, every peer's block straight into `out`.
absl::Status mesh_all_gather(const Group& g, std::byte* out, const std::byte* in, size_t count,
                             size_t elem_size);

}  // namespace tg::coll
