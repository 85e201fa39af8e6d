// Measures the cost model's link parameters over a new communicator's own transport, so the
// algorithm choice rests on what the links do rather than on configured guesses. Rank 0
// ping-pongs small and 1 MiB messages with its first peer on its own daemon (local) and its
// first peer on another daemon (remote), fits latency (alpha) and inverse bandwidth (beta) to
// the fastest round trips, and broadcasts the result: every rank then holds the same numbers
// and every rank's cost model makes the same choice. Then every rank passes small messages
// round a ring for a few steps: the time of such a step, with every rank busy at once, is the
// latency of a step of the all-rank schedules (ring, pipelined hierarchical), which exceeds a
// link's alpha where the ranks share fewer cores than they are.
//
// Cost: a few round trips per link class and 2n ring steps, a few milliseconds on loopback; every wait is
// bounded by the Context's timeout. A transport failure is returned (the communicator is
// broken); a measurement that makes no sense (a non-positive fit) leaves that class at the
// configured values, which the summary says.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "collectives/cost_model.h"
#include "collectives/transport/context.h"

namespace tg::coll {

struct Calibration {
  LinkCost local;
  LinkCost remote;
  double step_alpha_s = 0;  // One ring step with every rank at once; 0 = not measured.
  std::string summary;  // "measured: remote 21.0us + 2.10 GB/s; local from config (...)"
};

// Collective over every rank of `ctx`; node_of[rank] groups ranks by daemon (or by rack).
// `local` and `remote` (from config) stand for classes not measured or measured
// nonsensically. With `daemon_of` (groups are racks), the local peer measured is one on
// another daemon of rank 0's rack when there is one: the slowest link inside the group.
absl::StatusOr<Calibration> calibrate(Context& ctx, const std::vector<uint32_t>& node_of,
                                      const LinkCost& local, const LinkCost& remote,
                                      const std::vector<uint32_t>& daemon_of = {});

}  // namespace tg::coll
