#include "collectives/flight_trace.h"

#include <algorithm>
#include <map>
#include <set>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include "collectives/transport/liveness.h"

namespace tg::coll {
namespace {

using tgrack::v1::FlightOp;
using tgrack::v1::RankTrace;

const FlightOp* last_op(const RankTrace& rank) {
  return rank.ops().empty() ? nullptr : &rank.ops(rank.ops_size() - 1);
}

bool running(const FlightOp* op) { return op != nullptr && op->state() == tgrack::v1::FLIGHT_OP_RUNNING; }
bool failed(const FlightOp* op) { return op != nullptr && op->state() == tgrack::v1::FLIGHT_OP_FAILED; }
uint64_t sequence(const FlightOp* op) { return op == nullptr ? 0 : op->sequence(); }

std::string device_name(const tgrack::v1::DeviceRef& d) { return absl::StrCat(d.node(), "/", d.index()); }

std::string op_name(const FlightOp& op) { return absl::StrCat(op.collective(), " #", op.sequence()); }

// " (stalled: peer silent for 2.1 s over tcp)": what the waiting rank's keep-alives say.
std::string stall_text(const tgrack::v1::TraceLink& link) {
  if (!link.stalled()) return "";
  const std::string& state = link.peer_state();
  std::string peer;
  if (state == "silent") {
    peer = absl::StrFormat("peer silent for %.1f s", link.peer_silent_seconds());
  } else if (state == "behind" && link.peer_waiting_on() == kIdleBetweenOperations) {
    peer = link.peer_sequence() > 0 ? absl::StrCat("peer alive but idle, after its #", link.peer_sequence())
                                    : std::string("peer alive but idle, before its first operation");
  } else if (state == "behind") {
    peer = absl::StrCat("peer alive but behind, at its #", link.peer_sequence());
  } else if (state == "waiting") {
    peer = absl::StrCat("peer alive in #", link.peer_sequence(), ", waiting for rank ", link.peer_waiting_on());
  } else if (state == "alive") {
    peer = absl::StrCat("peer alive at its #", link.peer_sequence());
  }
  if (peer.empty()) return " (stalled)";
  return absl::StrCat(" (stalled: ", peer, link.link().empty() ? "" : " over ", link.link(), ")");
}

// Following the waits from `start`: the first rank that waits for no one, or on a cycle the
// one with the lowest sequence number in it.
int32_t end_of_waits(const tgrack::v1::TraceCommunicatorReply& trace, uint32_t start) {
  std::vector<uint32_t> path;
  std::set<uint32_t> seen;
  uint32_t at = start;
  while (seen.insert(at).second) {
    path.push_back(at);
    const RankTrace& rank = trace.ranks(at);
    const FlightOp* op = last_op(rank);
    if (!rank.answered() || !running(op) || op->waiting_on() < 0 ||
        op->waiting_on() >= trace.ranks_size()) {
      return static_cast<int32_t>(at);
    }
    at = static_cast<uint32_t>(op->waiting_on());
  }
  const auto cycle_begin = std::find(path.begin(), path.end(), at);
  return static_cast<int32_t>(*std::min_element(cycle_begin, path.end(), [&](uint32_t a, uint32_t b) {
    return sequence(last_op(trace.ranks(a))) < sequence(last_op(trace.ranks(b)));
  }));
}

std::string state_of(const tgrack::v1::TraceCommunicatorReply& trace) {
  bool unreachable = false, any_running = false, any_stalled = false, any_failed = false;
  for (const RankTrace& rank : trace.ranks()) {
    if (!rank.answered()) unreachable = true;
    const FlightOp* op = last_op(rank);
    any_running |= running(op);
    any_stalled |= running(op) && op->stalled();
    any_failed |= failed(op);
  }
  if (any_failed) return "failed";
  if (any_stalled) return "stalled";
  if (unreachable) return "unreachable";
  return any_running ? "running" : "idle";
}

}  // namespace

tgrack::v1::TraceCommunicatorReply trace_communicator(const tgrack::v1::CommunicatorSpec& spec,
                                                      const std::vector<NodeRecords>& nodes,
                                                      std::chrono::system_clock::time_point now) {
  tgrack::v1::TraceCommunicatorReply trace;
  trace.set_comm_id(spec.comm_id());
  trace.set_behind_rank(-1);
  std::map<std::string, const NodeRecords*> by_node;
  for (const NodeRecords& n : nodes) by_node[n.node] = &n;
  for (const auto& info : spec.ranks()) {
    RankTrace* rank = trace.add_ranks();
    rank->set_rank(info.rank());
    *rank->mutable_device() = info.device();
    auto it = by_node.find(info.device().node());
    if (it == by_node.end()) {
      rank->set_unreachable(absl::StrCat("node ", info.device().node(), " was not asked"));
      continue;
    }
    const auto& flight = it->second->flight;
    if (!flight.ok()) {
      rank->set_unreachable(std::string(flight.status().message()));
      continue;
    }
    for (const auto& r : flight->ranks()) {
      if (r.rank() != info.rank()) continue;
      rank->set_answered(true);
      *rank->mutable_ops() = r.ops();
    }
    if (!rank->answered()) {
      rank->set_unreachable(absl::StrCat("node ", info.device().node(), " holds no rank ", info.rank()));
    }
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::map<uint32_t, std::vector<const tgrack::v1::TraceLink*>> waiting_for;  // By awaited rank.
  for (const RankTrace& rank : trace.ranks()) {
    const FlightOp* op = last_op(rank);
    if (!rank.answered() || !running(op) || op->waiting_on() < 0 || op->waiting_on() >= spec.ranks_size()) continue;
    tgrack::v1::TraceLink* link = trace.add_waits();
    link->set_waiting_rank(rank.rank());
    link->set_peer_rank(static_cast<uint32_t>(op->waiting_on()));
    link->set_peer_node(spec.ranks(op->waiting_on()).device().node());
    link->set_sequence(op->sequence());
    link->set_stalled(op->stalled());
    if (op->stalled()) {
      link->set_peer_state(op->peer_state());
      link->set_peer_sequence(op->peer_sequence());
      link->set_peer_waiting_on(op->peer_waiting_on());
      link->set_peer_silent_seconds(op->peer_silent_ms() / 1000.0);
      link->set_link(op->link());
    }
    if (op->waiting_since_unix_ms() > 0) {
      link->set_waiting_seconds(std::max<int64_t>(0, now_ms - op->waiting_since_unix_ms()) / 1000.0);
    }
  }
  for (const auto& link : trace.waits()) waiting_for[link.peer_rank()].push_back(&link);
  trace.set_state(state_of(trace));

  // Who is behind: the end of the waits; without waits, the rank a failure blames; else a
  // rank whose daemon does not answer.
  int32_t behind = -1;
  std::string why;
  if (!trace.waits().empty()) {
    // Start from the most awaited rank: with one rank stopped, every chain ends there.
    uint32_t most = trace.waits(0).peer_rank();
    for (const auto& [peer, links] : waiting_for) {
      if (links.size() > waiting_for[most].size()) most = peer;
    }
    behind = end_of_waits(trace, trace.waits(0).waiting_rank());
    if (behind < 0 || waiting_for.count(static_cast<uint32_t>(behind)) == 0) behind = static_cast<int32_t>(most);
  } else {
    for (const RankTrace& rank : trace.ranks()) {
      const FlightOp* op = last_op(rank);
      if (rank.answered() && failed(op) && op->waiting_on() >= 0 && op->waiting_on() < spec.ranks_size()) {
        behind = op->waiting_on();
        why = absl::StrCat("rank ", rank.rank(), "'s ", op_name(*op), " failed waiting for it: ", op->error());
        break;
      }
    }
    if (behind < 0) {
      for (const RankTrace& rank : trace.ranks()) {
        if (!rank.answered()) {
          behind = static_cast<int32_t>(rank.rank());
          break;
        }
      }
    }
  }
  if (behind < 0) {
    trace.set_verdict(trace.state() == "idle" ? "no operation running; no rank is behind"
                                              : "no rank waits for another");
    return trace;
  }
  trace.set_behind_rank(behind);
  const RankTrace& late = trace.ranks(behind);
  *trace.mutable_behind_device() = late.device();
  std::string verdict = absl::StrCat("rank ", behind, " (", device_name(late.device()), " on node ",
                                     late.device().node(), ") is behind");
  if (!late.answered()) {
    absl::StrAppend(&verdict, ": its daemon does not answer (", late.unreachable(), ")");
  } else if (const FlightOp* op = last_op(late)) {
    absl::StrAppend(&verdict, ": its last operation is ", op_name(*op), " (",
                    running(op) ? "running" : failed(op) ? "failed" : "done", ")");
  }
  std::vector<std::string> links;
  for (const auto* link : waiting_for[static_cast<uint32_t>(behind)]) {
    links.push_back(absl::StrFormat("rank %d waits for it on link %d->%d in %s for %.1f s%s", link->waiting_rank(),
                                    link->waiting_rank(), link->peer_rank(),
                                    op_name(*last_op(trace.ranks(link->waiting_rank()))), link->waiting_seconds(),
                                    stall_text(*link)));
  }
  if (!links.empty()) absl::StrAppend(&verdict, "; ", absl::StrJoin(links, "; "));
  if (!why.empty()) absl::StrAppend(&verdict, "; ", why);
  trace.set_verdict(verdict);
  return trace;
}

tgrack::v1::CommunicatorSummary summarize(const tgrack::v1::CommunicatorSpec& spec,
                                          const tgrack::v1::TraceCommunicatorReply& trace) {
  tgrack::v1::CommunicatorSummary summary;
  summary.set_comm_id(spec.comm_id());
  for (const auto& info : spec.ranks()) *summary.add_devices() = info.device();
  summary.set_state(trace.state());
  const FlightOp* newest = nullptr;
  for (const RankTrace& rank : trace.ranks()) {
    const FlightOp* op = last_op(rank);
    if (op == nullptr) continue;
    if (newest == nullptr || op->sequence() > newest->sequence() ||
        (op->sequence() == newest->sequence() && op->state() != tgrack::v1::FLIGHT_OP_DONE)) {
      newest = op;
    }
  }
  if (newest != nullptr) *summary.mutable_last_op() = *newest;
  return summary;
}

}  // namespace tg::coll
