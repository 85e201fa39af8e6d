#include "collectives/transport/liveness.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

namespace tg::coll {

PeerVerdict judge_peer(const PeerLiveness& liveness, uint32_t own_rank, uint64_t own_sequence,
                       std::chrono::steady_clock::time_point waiting_since,
                       std::chrono::milliseconds stall_after,
                       std::chrono::steady_clock::time_point now) {
  PeerVerdict v;
  if (!liveness.supported) return v;
  const bool heard = liveness.heard != std::chrono::steady_clock::time_point{};
  const auto last = heard ? liveness.heard : waiting_since;
  v.silent_for = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  if (heard) {
    v.sequence = liveness.sequence;
    v.waiting_on = liveness.waiting_on;
    v.heard = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(now - liveness.heard);
  }
  if (!heard || v.silent_for >= stall_after) {
    v.state = PeerState::kSilent;
  } else if (liveness.sequence < own_sequence) {
    v.state = PeerState::kBehind;
  } else if (liveness.sequence == own_sequence && liveness.waiting_on >= 0 &&
             static_cast<uint32_t>(liveness.waiting_on) != own_rank) {
    v.state = PeerState::kWaiting;
  } else {
    v.state = PeerState::kAlive;
  }
  return v;
}

const char* peer_state_name(PeerState state) {
  switch (state) {
    case PeerState::kSilent: return "silent";
    case PeerState::kBehind: return "behind";
    case PeerState::kWaiting: return "waiting";
    case PeerState::kAlive: return "alive";
    default: return "unknown";
  }
}

namespace {

// Where the peer's last keep-alive placed it: "at its operation #3, waiting for rank 1",
// "between operations, after its #3".
std::string whereabouts(const PeerVerdict& v) {
  if (v.waiting_on == kIdleBetweenOperations) {
    return v.sequence > 0 ? absl::StrCat("between operations, after its #", v.sequence)
                          : std::string("before its first operation");
  }
  return absl::StrCat("at its operation #", v.sequence,
                      v.waiting_on >= 0 ? absl::StrCat(", waiting for rank ", v.waiting_on) : std::string());
}

}  // namespace

std::string describe_verdict(const PeerVerdict& v, uint64_t own_sequence) {
  const std::string waits =
      v.waiting_on >= 0 ? absl::StrCat(", waiting for rank ", v.waiting_on) : std::string();
  const bool heard = v.heard != std::chrono::system_clock::time_point{};
  switch (v.state) {
    case PeerState::kSilent:
      return absl::StrFormat("it is silent: nothing heard for %.1f s (%s)", v.silent_for.count() / 1000.0,
                             heard ? absl::StrCat("last ", whereabouts(v)) : std::string("no keep-alive yet"));
    case PeerState::kBehind:
      return absl::StrCat("it is alive but behind: ", whereabouts(v), " while this rank is at #", own_sequence);
    case PeerState::kWaiting:
      return absl::StrCat("it is alive in the same operation #", v.sequence, waits);
    case PeerState::kAlive:
      return absl::StrCat("it is alive at its operation #", v.sequence, waits);
    default:
      return "the link carries no keep-alives";
  }
}

}  // namespace tg::coll
