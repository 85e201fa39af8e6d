// A Pair links this rank to one peer rank over one transport. Algorithms never see Pairs:
// they post Ops through the Context, which routes each Op to the Pair of its peer and drives
// every Pair's progress from the rank's own thread.
//
// Ops posted on one Pair in one direction complete in posting order and match the peer's
// Ops of the other direction one to one, in order, with equal sizes. A Pair is used by one
// thread (its rank's); the local transport's peers touch shared state under its own locks.
// Every Pair counts the bytes it moves and the errors it hits; counters() may be read from
// any thread. Transports that can carry keep-alives send them on request and note their
// peer's (liveness.h); the others keep the defaults, which send nothing and know nothing.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "collectives/transport/liveness.h"
#include "collectives/transport/op.h"

namespace tg::coll {

// Totals since the Pair was made: payload bytes to and from the peer, and failures.
struct LinkCounters {
  uint64_t sent_bytes = 0;
  uint64_t received_bytes = 0;
  uint64_t errors = 0;
};

class Pair {
 public:
  virtual ~Pair() = default;

  // Queues `op`; moves no bytes yet (progress does). `op` outlives its completion.
  virtual void post(Op* op) = 0;

  // Moves whatever bytes can move without blocking and completes finished Ops. Returns true
  // when anything moved. Errors name the peer rank, its address and the transport, e.g.
  // "peer rank 2 at 10.0.0.2:7070 over tcp: connection closed"; they poison the Pair.
  virtual absl::StatusOr<bool> progress() = 0;

  // Appends the descriptors poll() should watch for this Pair (its pending transfers, and
  // whatever reports the peer's death) and returns how many it appended.
  virtual size_t poll_fds(std::vector<pollfd>& fds) = 0;
  // Given the poll() results for the descriptors poll_fds appended: an error when they show
  // the peer failed or went away.
  virtual absl::Status check_events(const pollfd* fds, size_t count) = 0;

  // Tells the peer this rank gives up because of `culprit` (never blocks), then stops.
  virtual void abort(uint32_t culprit) = 0;
  // Closes the link. `orderly`: after the last operation, so the peer will not take the
  // close for a death; otherwise abruptly, as a crashed process would.
  virtual void close(bool orderly) = 0;

  // Tells the peer this rank is alive, waiting in operation `sequence` for rank `waiting_on`
  // (-1: no one). Never blocks; a keep-alive that does not fit the socket is dropped.
  virtual void send_keepalive(uint64_t /*sequence*/, int32_t /*waiting_on*/) {}
  // What the peer's keep-alives said, reading any that arrived without blocking. An error on
  // the link found while reading surfaces from the next progress().
  virtual PeerLiveness liveness() { return {}; }

  // After an error: the rank to blame, the peer itself unless it reported another rank's failure.
  virtual uint32_t failed_rank() const = 0;

  virtual const char* transport() const = 0;  // "tcp", "local", "ibverbs".
  virtual uint32_t peer() const = 0;
  virtual const std::string& peer_address() const = 0;  // host:port of the peer's data plane.

  LinkCounters counters() const {
    return {sent_.load(std::memory_order_relaxed), received_.load(std::memory_order_relaxed),
            errors_.load(std::memory_order_relaxed)};
  }

 protected:
  // Called by implementations as bytes move (relaxed atomics: a few ns per call).
  void count_sent(uint64_t bytes) { sent_.fetch_add(bytes, std::memory_order_relaxed); }
  void count_received(uint64_t bytes) { received_.fetch_add(bytes, std::memory_order_relaxed); }
  void count_error() { errors_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace tg::coll
