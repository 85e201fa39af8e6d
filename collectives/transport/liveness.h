// What a rank knows of a peer while it waits for it: the keep-alives the peer sends on their
// link while it waits in an operation of its own (its operation sequence number and the rank
// it waits for), and the verdict a stalled wait draws from them:
//   silent  - nothing heard for the stall time: process stopped, host gone or link down;
//   behind  - alive, but still in an earlier operation than this rank;
//   waiting - alive in the same operation, waiting for a third rank;
//   alive   - heard lately, in this operation or a later one, waiting for this rank or no one;
//   unknown - the link carries no keep-alives.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tg::coll {

// The rank a keep-alive says its sender waits for when the sender is in no operation: it
// finished operation `sequence` and has not begun the next (its daemon keeps an idle rank's
// links alive, collective_runtime.h). Such a peer is never silent, only behind.
inline constexpr int32_t kIdleBetweenOperations = -2;

// A Pair's record of its peer's keep-alives.
struct PeerLiveness {
  bool supported = false;                        // The transport carries keep-alives.
  std::chrono::steady_clock::time_point heard{};  // The last one; the epoch = none yet.
  uint64_t sequence = 0;                         // The peer's operation then.
  int32_t waiting_on = -1;  // The rank the peer waited for then; -1 none, kIdleBetweenOperations.
};

enum class PeerState { kUnknown, kSilent, kBehind, kWaiting, kAlive };

// A stalled wait's verdict on the peer it waits for.
struct PeerVerdict {
  PeerState state = PeerState::kUnknown;
  uint64_t sequence = 0;    // The peer's operation in its last keep-alive; 0 = none heard.
  int32_t waiting_on = -1;  // The rank the peer waited for then.
  std::chrono::milliseconds silent_for{0};  // Since the last keep-alive (or the wait began).
  std::chrono::system_clock::time_point heard{};  // Wall time of the last keep-alive.
};

// `own_rank`, `own_sequence`: the waiting rank and its operation; `waiting_since`: when its wait began, the
// time silence is counted from when nothing was ever heard.
PeerVerdict judge_peer(const PeerLiveness& liveness, uint32_t own_rank, uint64_t own_sequence,
                       std::chrono::steady_clock::time_point waiting_since,
                       std::chrono::milliseconds stall_after,
                       std::chrono::steady_clock::time_point now);

// "silent", "behind", "waiting", "alive", "unknown".
const char* peer_state_name(PeerState state);

// One clause for logs and errors, e.g. "it is alive but behind: at its operation #3 while
// this rank is at #4" or "it is silent: nothing heard for 2.0 s (last at its operation #3)".
std::string describe_verdict(const PeerVerdict& verdict, uint64_t own_sequence);

}  // namespace tg::coll
