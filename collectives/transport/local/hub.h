// What the ranks of one communicator that live in one process share: a channel per ordered
// pair of ranks and each rank's doorbell. A LocalHub is created once per communicator per
// process and handed to every local rank; it outlives them through shared ownership.
//
// A channel matches the sender's posted Ops with the receiver's in order; the receiver's
// thread moves (or reduces) the bytes straight from the sender's memory into its own, then
// completes both Ops and rings the sender's doorbell. Thread-safe.
//
// Each rank also has a Board where it publishes its buffers and how far it got, for
// collectives that read peers' memory without Ops (algorithms/direct.h), and its latest
// keep-alive (liveness.h), which its local peers read instead of receiving it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "collectives/transport/doorbell.h"
#include "collectives/transport/liveness.h"
#include "collectives/transport/op.h"

namespace tg::coll::local {

struct Channel {
  std::mutex mu;
  std::deque<Op*> sends;  // Posted by the sending rank.
  std::deque<Op*> recvs;  // Posted by the receiving rank.
};

// One rank's published state. Only its rank writes it; peers read `in`/`out` (and what they
// point at) after seeing `posted` reach the epoch they wait for (acquire).
struct alignas(64) Board {
  std::atomic<uint64_t> posted{0};    // Epoch whose buffers `in`/`out` (or staged) hold.
  std::atomic<uint64_t> finished{0};  // Last epoch this rank has finished writing peers' outputs for.
  const std::byte* in = nullptr;
  std::byte* out = nullptr;
  // Copies of small inputs, by epoch parity; resized by the owner only two epochs later.
  std::vector<std::byte> staged[2];
  // The owner's latest keep-alive (`supported` set once it sent one).
  std::mutex keepalive_mu;
  PeerLiveness keepalive;  // Guarded by keepalive_mu.
};

class LocalHub {
 public:
  explicit LocalHub(std::vector<uint32_t> ranks);  // The communicator's ranks in this process.

  const std::vector<uint32_t>& ranks() const { return ranks_; }
  Channel& channel(uint32_t from, uint32_t to);

  // Registers `rank`'s doorbell and waits until every local rank has; DEADLINE_EXCEEDED
  // naming the missing ranks otherwise.
  absl::Status attach(uint32_t rank, std::shared_ptr<Doorbell> doorbell,
                      std::chrono::steady_clock::time_point deadline);
  std::shared_ptr<Doorbell> doorbell(uint32_t rank);
  // `rank`'s board; `rank` must be one of ranks().
  Board& board(uint32_t rank);

  // The first failure any local rank reports; wakes every local rank.
  void fail(uint32_t culprit, uint32_t reporter);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  uint32_t culprit() const { return culprit_; }
  uint32_t reporter() const { return reporter_; }

 private:
  std::vector<uint32_t> ranks_;
  std::map<std::pair<uint32_t, uint32_t>, Channel> channels_;
  std::map<uint32_t, Board> boards_;  // Made in the constructor, never resized.
  std::mutex mu_;
  std::condition_variable attached_cv_;
  std::map<uint32_t, std::shared_ptr<Doorbell>> doorbells_;  // Guarded by mu_.
  std::atomic<bool> failed_{false};
  uint32_t culprit_ = 0;   // Written once before failed_ is set.
  uint32_t reporter_ = 0;
};

}  // namespace tg::coll::local
