// The Context is one rank's end of a communicator's transport: a Pair per peer and the
// progress engine that drives them all from the rank's own thread (no hand-offs on the data
// path). Algorithms post Ops and wait on them; every wait ends by the deadline of the
// current operation, set by begin().
//
// Failure: the first error (a peer dying, a timeout) poisons the Context. Its message names
// this rank, the collective and its sequence number, the peer rank, its address and the
// transport. A poisoned Context tells its peers which rank failed, never blocks doing so, and
// refuses later operations at once with the original error.
//
// Not thread-safe: one rank thread uses it; poisoned() may be read and cancel() called from
// any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <functional>

#include <absl/functional/function_ref.h>
#include <absl/status/status.h>

#include "collectives/flight_recorder.h"
#include "collectives/transport/doorbell.h"
#include "collectives/transport/op.h"
#include "collectives/transport/pair.h"

namespace tg::coll {

// Aligned to a cache line: see Communicator.
class alignas(64) Context {
 public:
  Context(uint32_t rank, uint32_t size, std::chrono::milliseconds timeout);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  uint32_t rank() const { return rank_; }
  uint32_t size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Installs the link to `peer`; done while the communicator is created.
  void set_pair(uint32_t peer, std::unique_ptr<Pair> pair);
  Pair* pair(uint32_t peer) const { return pairs_[peer].get(); }
  // Each rank's device as "node/index", indexed by rank: a failure blamed on a rank names
  // its node and device. Set while the communicator is created.
  void set_rank_devices(std::vector<std::string> devices) { rank_devices_ = std::move(devices); }
  // What waits report: the peer a sleeping wait is for goes to `recorder`; a wait longer
  // than `stall_after` (0 = never) marks the operation stalled there, with the verdict on
  // the peer its keep-alives give (liveness.h), and calls `on_stall` with the peer and that
  // verdict, once per wait, on the rank's thread. The deadline (timeout) still ends it.
  // While a wait sleeps, every `keepalive_interval` (0 = never) it sends each peer a
  // keep-alive with this rank's sequence number and the peer it waits for; after the stall
  // the recorder's verdict is refreshed as often. Set once, before the first operation.
  struct WaitWatch {
    FlightRecorder* recorder = nullptr;
    std::chrono::milliseconds stall_after{0};
    std::chrono::milliseconds keepalive_interval{0};
    std::function<void(uint32_t peer, const PeerVerdict& verdict)> on_stall;
  };
  void set_watch(WaitWatch watch) { watch_ = std::move(watch); }
  // "node/index" of `rank`'s device, "" when not told.
  std::string rank_device(uint32_t rank) const {
    return rank < rank_devices_.size() ? rank_devices_[rank] : std::string();
  }
  // The operation errors name now: "all_reduce #3 (ring)".
  std::string operation() const { return label(); }
  // Transport names in use, e.g. "tcp+local".
  std::string transports() const;

  // The calling thread has a core that no other rank of this communicator shares
  // (core_binding.h): waits then busy-poll their sockets for up to kOwnCoreSpin at any size
  // before sleeping, as a sleeping rank is woken only after its peer's send, a scheduler
  // round trip later. Set by the rank's own thread around the work it drives.
  void set_own_core(bool own) { own_core_ = own; }

  // How other threads wake this rank (local transport, cancel()).
  const std::shared_ptr<Doorbell>& doorbell() const { return doorbell_; }

  // Starts the next operation: sets its deadline (now + timeout) and the label that errors
  // carry. Returns the poisoning error when the Context is poisoned. `counted` = false keeps
  // the sequence number (internal work such as calibration, not a collective callers see).
  absl::Status begin(const std::string& collective, const std::string& algorithm,
                     bool counted = true);
  uint64_t sequence() const { return sequence_; }

  // Posting never blocks. Zero-byte Ops complete at once and are not sent: both sides of a
  // transfer skip them alike. Memory stays valid and untouched until the Op is done.
  void send(Op& op, uint32_t peer, const void* data, size_t bytes);
  void recv(Op& op, uint32_t peer, void* data, size_t bytes);
  // dst = a op incoming, combined as bytes arrive; `a` may be `dst`.
  void recv_reduce(Op& op, uint32_t peer, void* dst, const void* a, size_t bytes,
                   const Reducer& reducer);

  // Drives every Pair until `op` completes, the deadline passes or a peer fails.
  absl::Status wait(Op& op);
  absl::Status wait_all(std::vector<Op>& ops);
  // The same for any condition other ranks of this process make true (then ringing this
  // rank's doorbell): drives every Pair until `ready()` holds. On timeout the error blames
  // peer rank `late()`. Waits for `bytes` above a few hundred KiB sleep without spinning,
  // unless the rank has its own core (set_own_core).
  absl::Status wait_until(absl::FunctionRef<bool()> ready, absl::FunctionRef<uint32_t()> late,
                          size_t bytes);

  // Poisons the Context with `cause` blaming `culprit`, tells peers, never blocks.
  void abort(absl::Status cause, uint32_t culprit);
  // From any thread: makes the rank's current or next wait fail with `cause` (blaming this
  // rank, telling its peers) and wakes it. The rank thread does the poisoning itself.
  void cancel(absl::Status cause);
  absl::Status poisoned() const;
  // Orderly goodbye to every peer after the last operation.
  void close();
  // Drops every link abruptly, as a crashed process would (for failure tests).
  void drop();
  // Between operations: tells every peer this rank is alive and idle after its last
  // operation (kIdleBetweenOperations), and reads what they sent meanwhile. Never blocks.
  void keep_alive_between_operations();

 private:
  // `waiting`: the peer this rank was waiting for, or -1.
  absl::Status fail(absl::Status pair_error, uint32_t culprit, int64_t waiting = -1);
  absl::Status progress_all(int64_t waiting);
  absl::Status take_cancel();
  void send_keepalives(int32_t waiting_on);
  // The verdict on `peer`, whom a wait that began at `since` has waited for until `now`.
  PeerVerdict judge(uint32_t peer, std::chrono::steady_clock::time_point since,
                    std::chrono::steady_clock::time_point now);
  // What errors call the current operation: "all_reduce #3 (ring)", or "setup" before any.
  std::string label() const;

  const uint32_t rank_;
  const uint32_t size_;
  const std::chrono::milliseconds timeout_;
  std::vector<std::unique_ptr<Pair>> pairs_;
  std::shared_ptr<Doorbell> doorbell_;
  std::vector<pollfd> pollfds_;
  std::vector<size_t> counts_;  // Descriptors each Pair added to pollfds_.

  std::vector<std::string> rank_devices_;
  WaitWatch watch_;
  uint64_t sequence_ = 0;
  std::string collective_;  // The current operation, for label().
  std::string algorithm_;
  bool counted_ = false;
  bool own_core_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point next_keepalive_{};

  mutable std::mutex mu_;
  absl::Status poisoned_;  // Guarded by mu_.
  absl::Status cancel_;    // Guarded by mu_; set by cancel().
  std::atomic<bool> cancelled_{false};
  bool closed_ = false;
};

}  // namespace tg::coll
