// Log-latency all-reduce over p participants, p the largest power of two <= n. Buffers up to
// kRecursiveDoublingMaxBytes take recursive doubling: log2(p) steps in which partners swap
// their whole partial results and both combine them, the lower participant's first, so
// both hold identical bytes. Larger ones take recursive halving-doubling: log2(p) steps of
// reduce-scatter by halving, then log2(p) steps of all-gather by doubling, moving 2(p-1)/p of
// the buffer instead of log2(p) times it. For other sizes the first 2(n-p) ranks pair up
// first: each even one hands its whole input to its odd neighbour and gets the result back
// at the end. Latency grows with log n, not n.
#pragma once

#include <cstddef>

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"

namespace tg::coll {

// Where half the steps beat moving less data, on every link the cost model knows: a step
// costs more than sending this much.
inline constexpr size_t kRecursiveDoublingMaxBytes = 16 << 10;

absl::Status halving_doubling_all_reduce(const Group& g, const ReduceArgs& args);

}  // namespace tg::coll
