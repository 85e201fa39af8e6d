// Recursive halving-doubling all-reduce: log2(p) steps of reduce-scatter by halving, then
// log2(p) steps of all-gather by doubling, p the largest power of two <= n. For other sizes
// the first 2(n-p) ranks pair up first: each even one hands its whole input to its odd
// neighbour and gets the result back at the end. Latency grows with log n, not n.
#pragma once

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

absl::Status halving_doubling_all_reduce(const Group& g, const ReduceArgs& args);

}  // namespace tg::coll
