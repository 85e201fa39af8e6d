// Direct all-reduce for a communicator whose ranks all live in this process (one LocalHub
// holds every rank): no Ops, no messages. The cost model offers it as "mesh" (a one-process
// communicator's mesh runs this way). Reductions run in rank order 0..n-1.
//
// Small buffers (one shot, one synchronization): each rank copies its input to its hub
// board (one of two copies, alternating per call, so a slow peer still reading the previous
// call's copy is never overwritten), publishes it, and once every rank has, reduces all n
// copies into its own output.
// Larger buffers (two synchronizations): each rank publishes its buffers; once every rank
// has, rank j reduces block j straight from every rank's input and writes the result into
// every rank's output, a cache-sized chunk at a time; a second round of boards tells each
// rank that its output is complete and its input no longer read. In place is safe: block j
// of every buffer is read and written by rank j alone.
//
// Waits go
// through the rank's Context, so they end by the operation's deadline, on cancel, and when
// any local rank fails (the hub's failure poisons the Context with the usual message).
// Every rank of the communicator must call run() for the same calls. Not thread-safe: the
// rank's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <absl/status/status.h>

#include "collectives/algorithms/algorithm.h"
#include "collectives/transport/local/hub.h"

namespace tg::coll {

// Aligned to a cache line, as its ranks' objects sit side by side on the heap: epoch_, written
// on every call, must not share a line with what another rank's thread reads meanwhile (with
// 2 ranks that sharing tripled the time of a 1 KiB call).
class alignas(64) DirectAllReduce {
 public:
  // `hub` holds every rank of `ctx`'s communicator, all attached.
  DirectAllReduce(Context& ctx, std::shared_ptr<local::LocalHub> hub);

  absl::Status run(const ReduceArgs& args);

 private:
  // Publishes `field` = epoch_ on this rank's board, wakes sleeping peers, and waits until
  // every peer's `field` has reached epoch_.
  absl::Status sync(std::atomic<uint64_t> local::Board::*field);
  absl::Status one_shot(const ReduceArgs& args);
  absl::Status two_shot(const ReduceArgs& args);

  Context& ctx_;
  std::shared_ptr<local::LocalHub> hub_;
  std::vector<local::Board*> boards_;              // By rank.
  std::vector<std::shared_ptr<Doorbell>> bells_;   // By rank; null for this rank.
  std::vector<std::byte> chunk_;                   // Where an in-place rank >= 2 reduces.
  uint64_t epoch_ = 0;
};

}  // namespace tg::coll
