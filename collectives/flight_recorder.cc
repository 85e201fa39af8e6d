#include "collectives/flight_recorder.h"

#include <algorithm>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

namespace tg::coll {
namespace {

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

const char* state_name(tgrack::v1::FlightOpState state) {
  switch (state) {
    case tgrack::v1::FLIGHT_OP_RUNNING: return "running";
    case tgrack::v1::FLIGHT_OP_DONE: return "done";
    case tgrack::v1::FLIGHT_OP_FAILED: return "failed";
    default: return "unknown";
  }
}

}  // namespace

FlightRecorder::FlightRecorder(size_t capacity) : ring_(std::max<size_t>(capacity, 1)) {}

FlightRecorder::Record* FlightRecorder::current() {
  if (count_ == 0) return nullptr;
  Record& r = ring_[(next_ + ring_.size() - 1) % ring_.size()];
  return r.state == tgrack::v1::FLIGHT_OP_RUNNING ? &r : nullptr;
}

void FlightRecorder::begin(uint64_t sequence, std::string_view collective,
                           std::string_view algorithm, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Record& r = ring_[next_];
  next_ = (next_ + 1) % ring_.size();
  count_ = std::min(count_ + 1, ring_.size());
  r.sequence = sequence;
  r.collective.assign(collective);
  r.algorithm.assign(algorithm);
  r.bytes = bytes;
  r.start = std::chrono::system_clock::now();
  r.end = {};
  r.waiting_since = {};
  r.state = tgrack::v1::FLIGHT_OP_RUNNING;
  r.waiting_on = -1;
  r.stalled = false;
  r.peer = {};
  r.link.clear();
  r.error.clear();
}

void FlightRecorder::waiting_on(int32_t peer) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = current();
  if (r == nullptr || r->waiting_on == peer) return;
  r->waiting_on = peer;
  r->stalled = false;
  r->peer = {};
  r->waiting_since = peer < 0 ? std::chrono::system_clock::time_point{} : std::chrono::system_clock::now();
}

void FlightRecorder::stalled(const PeerVerdict& verdict, std::string_view link) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = current();
  if (r == nullptr) return;
  r->stalled = true;
  r->peer = verdict;
  r->link.assign(link);
}

void FlightRecorder::end(const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = current();
  if (r == nullptr) return;
  r->end = std::chrono::system_clock::now();
  if (status.ok()) {
    r->state = tgrack::v1::FLIGHT_OP_DONE;
    r->waiting_on = -1;
    r->stalled = false;
    r->peer = {};
    r->waiting_since = {};
  } else {
    // A failed operation keeps the peer it waited for: the trace names the link it died on.
    r->state = tgrack::v1::FLIGHT_OP_FAILED;
    r->error = std::string(status.message());
  }
}

tgrack::v1::FlightOp FlightRecorder::to_proto(const Record& r) {
  tgrack::v1::FlightOp op;
  op.set_sequence(r.sequence);
  op.set_collective(r.collective);
  op.set_bytes(r.bytes);
  op.set_algorithm(r.algorithm);
  op.set_start_unix_ms(unix_ms(r.start));
  op.set_end_unix_ms(unix_ms(r.end));
  op.set_state(r.state);
  op.set_waiting_on(r.waiting_on);
  op.set_stalled(r.stalled);
  op.set_waiting_since_unix_ms(unix_ms(r.waiting_since));
  if (r.stalled) {
    op.set_peer_state(peer_state_name(r.peer.state));
    op.set_peer_sequence(r.peer.sequence);
    op.set_peer_waiting_on(r.peer.waiting_on);
    op.set_peer_heard_unix_ms(unix_ms(r.peer.heard));
    op.set_peer_silent_ms(r.peer.silent_for.count());
    op.set_link(r.link);
  }
  op.set_error(r.error);
  return op;
}

std::vector<tgrack::v1::FlightOp> FlightRecorder::ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<tgrack::v1::FlightOp> out;
  out.reserve(count_);
  const size_t first = (next_ + ring_.size() - count_) % ring_.size();
  for (size_t i = 0; i < count_; ++i) out.push_back(to_proto(ring_[(first + i) % ring_.size()]));
  return out;
}

std::string FlightRecorder::dump() const {
  std::string out;
  const int64_t now = unix_ms(std::chrono::system_clock::now());
  for (const tgrack::v1::FlightOp& op : ops()) {
    const int64_t end = op.end_unix_ms() ? op.end_unix_ms() : now;
    absl::StrAppendFormat(&out, "  #%d %s %d B %s %s %.1f ms", op.sequence(), op.collective(),
                          op.bytes(), op.algorithm(), state_name(op.state()),
                          static_cast<double>(end - op.start_unix_ms()));
    if (op.waiting_on() >= 0) {
      absl::StrAppend(&out, op.state() == tgrack::v1::FLIGHT_OP_RUNNING ? ", waiting for" : ", was waiting for",
                      " rank ", op.waiting_on());
      if (op.stalled()) {
        absl::StrAppend(&out, " (stalled over ", op.link().empty() ? "?" : op.link());
        if (op.peer_state() != "unknown") absl::StrAppend(&out, ", peer ", op.peer_state());
        if (op.peer_sequence() > 0) absl::StrAppend(&out, " at its #", op.peer_sequence());
        out += ')';
      }
    }
    if (!op.error().empty()) absl::StrAppend(&out, ": ", op.error());
    out += '\n';
  }
  return out;
}

}  // namespace tg::coll
