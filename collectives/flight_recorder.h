// A rank's flight recorder: the last `capacity` operations of one rank of a communicator —
// sequence number, collective, size, algorithm, start and end, the state, and while one
// runs, the peer it waits for, whether that wait is stalled and, when it is, the verdict on
// the peer that the link's keep-alives give (silent, behind, ...). A bounded ring: the oldest
// operation makes room for the newest.
//
// The rank's thread records (begin, waiting_on, stalled, end); any thread reads (ops, dump).
// Every call takes one uncontended lock: a few tens of ns per collective, none per byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>

#include "collectives/transport/liveness.h"
#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

class FlightRecorder {
 public:
  static constexpr size_t kDefaultCapacity = 64;
  explicit FlightRecorder(size_t capacity = kDefaultCapacity);

  void begin(uint64_t sequence, std::string_view collective, std::string_view algorithm,
             uint64_t bytes);
  // The running operation now waits for `peer` (-1: for no one). Repeating the same peer
  // keeps the time the wait began.
  void waiting_on(int32_t peer);
  // The running operation has waited for its peer past the stall threshold; `verdict` is
  // what the peer's keep-alives say, on the link of transport `link`. Called again, it
  // replaces the verdict.
  void stalled(const PeerVerdict& verdict = {}, std::string_view link = "");
  void end(const absl::Status& status);

  // Oldest first.
  std::vector<tgrack::v1::FlightOp> ops() const;
  // One line per operation, for logs: "#3 all_reduce 4096 B ring done 0.4 ms".
  std::string dump() const;

 private:
  struct Record {
    uint64_t sequence = 0;
    std::string collective;
    std::string algorithm;
    uint64_t bytes = 0;
    std::chrono::system_clock::time_point start, end, waiting_since;
    tgrack::v1::FlightOpState state = tgrack::v1::FLIGHT_OP_UNSPECIFIED;
    int32_t waiting_on = -1;
    bool stalled = false;
    PeerVerdict peer;  // While stalled.
    std::string link;
    std::string error;
  };
  static tgrack::v1::FlightOp to_proto(const Record& r);
  Record* current();  // mu_ held; the newest record while it runs, else null.

  mutable std::mutex mu_;
  std::vector<Record> ring_;  // Guarded by mu_.
  size_t next_ = 0;           // Guarded by mu_; slot of the next begin().
  size_t count_ = 0;          // Guarded by mu_; records held.
};

}  // namespace tg::coll
