// Measures the cost model's link parameters over a new communicator's own transport, so the
// algorithm choice rests on what the links do rather than on configured guesses. Rank 0
// ping-pongs small messages with its first peer on its own daemon (local) and its first peer
// on another daemon (remote), then sends that peer 1 MiB probes: right after one another
// (the link's burst allowance used up: the sustained rate) and after the link has idled (a
// shaped link passes its burst at once, so the probe arrives early by burst / rate). It fits
// latency (alpha), inverse sustained bandwidth (beta) and burst, and broadcasts the result:
// every rank then holds the same numbers and every rank's cost model makes the same choice.
// Then every rank passes small messages round a ring in runs of a ring all-reduce's 2(n-1)
// steps: the median run's time per step, with every rank busy at once, is the latency of a
// step of the all-rank schedules (ring, pipelined hierarchical), which exceeds a link's alpha
// where the ranks share fewer cores than they are.
//
// Cost: a few round trips and five 1 MiB probes per link class (about 6 MiB over the slower
// link's rate: 0.3 s at 200 Mbit/s), 10n ring steps; a few milliseconds on loopback; every
// wait is bounded by the Context's timeout. A transport failure is returned (the communicator is
// broken); a measurement that makes no sense (a non-positive fit) leaves that class at the
// configured values, which the summary says.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
// Bursts shorter than this fraction of the probe are within what scheduling moves a probe's
// time by, and count as none.
inline constexpr double kBurstNoiseFraction = 1.0 / 16;

// One link from the times calibrate() takes over it: `small`, the one-way time of
// `small_bytes`; `drained` and `rested`, the one-way times of `probe_bytes` on a drained and
// on a rested link. beta from small to drained, burst = what the rested probe did not wait
// for (clamped to [0, probe_bytes], 0 below kBurstNoiseFraction of it). nullopt when alpha or
// beta comes out non-positive.
std::optional<LinkCost> fit_link(double small, double drained, double rested, size_t small_bytes,
                                 size_t probe_bytes);

absl::StatusOr<Calibration> calibrate(Context& ctx, const std::vector<uint32_t>& node_of,
                                      const LinkCost& local, const LinkCost& remote,
                                      const std::vector<uint32_t>& daemon_of = {});

}  // namespace tg::coll
