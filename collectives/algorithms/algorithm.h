// What every algorithm shares: the group of ranks it runs over (a whole communicator or a
// subset, e.g. one rank per daemon), how a buffer splits into per-rank blocks, and the
// arguments of a reduction.
//
// Buffers: `out` holds `count` elements; `in` is the caller's input and equals `out` when in
// place. Every algorithm reads `in` and writes only `out`, so out of place costs no copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collectives/reduce.h"
#include "collectives/transport/context.h"

namespace tg::coll {

struct Group {
  Context* ctx = nullptr;
  std::vector<uint32_t> ranks;  // Global ranks, in group order.
  uint32_t me = 0;              // This rank's index in `ranks`.

  uint32_t size() const { return static_cast<uint32_t>(ranks.size()); }
  uint32_t global(uint32_t index) const { return ranks[index]; }
  // The whole communicator.
  static Group all(Context& ctx);
};

// `count` elements split into `parts` contiguous blocks whose sizes differ by at most one,
// the larger ones first.
struct Blocks {
  size_t count;
  size_t parts;
  size_t offset(size_t i) const { return i * (count / parts) + std::min(i, count % parts); }
  size_t length(size_t i) const { return count / parts + (i < count % parts ? 1 : 0); }
  size_t end(size_t i) const { return offset(i) + length(i); }
};

struct ReduceArgs {
  std::byte* out = nullptr;
  const std::byte* in = nullptr;
  size_t count = 0;
  const Reducer* reducer = nullptr;
  uint32_t world = 1;  // Divisor of AVG: the communicator's size, not the group's.

  size_t es() const { return reducer->elem_size; }
  void finalize(std::byte* data, size_t n) const {
    if (reducer->finalize) reducer->finalize(data, n, world);
  }
};

}  // namespace tg::coll
