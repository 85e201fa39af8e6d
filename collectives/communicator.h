// One rank's membership in a communicator: its transport Context, the topology and the
// collectives. Created once (connecting to every peer, bounded by the spec's timeout); then
// each collective only moves data, under the same timeout, on the calling thread.
//
// Buffers are host memory (cpu devices' host_address, or staging for GPUs). `out` holds
// `count` elements; `in` equals `out` for in place. After a failure the communicator is
// poisoned: every later call fails at once with the first error. One thread drives a rank;
// keep_alive_if_idle() may be called from any other.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "collectives/algorithms/direct.h"
#include "collectives/cost_model.h"
#include "collectives/flight_recorder.h"
#include "devices/topology/link_policy.h"
#include "collectives/transport/context.h"
#include "collectives/transport/local/hub.h"
#include "collectives/transport/tcp/connect.h"
#include "collectives/transport/tcp/listener.h"
#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

constexpr std::chrono::milliseconds kDefaultTimeout{10000};
constexpr std::chrono::milliseconds kDefaultStallAfter{2000};
constexpr std::chrono::milliseconds kDefaultKeepaliveInterval{500};

// A rank that has waited for one peer past CommOptions::stall_after, and what the peer's
// keep-alives say of it (silent, behind, waiting for another rank: liveness.h).
struct StallReport {
  std::string comm_id;
  uint32_t rank = 0;
  std::string device;       // "node/index" of the waiting rank.
  uint32_t peer = 0;
  std::string peer_device;  // "node/index" of the peer waited for.
  std::string peer_address;
  std::string transport;
  uint64_t sequence = 0;
  std::string operation;    // "all_reduce #3 (ring)".
  PeerVerdict verdict;      // The peer's state, its sequence number and whom it waits for.
};

struct CommOptions {
  tcp::TcpOptions tcp;
  // Per-link parameters of the cost model.
  LinkCost local{2e-6, 1 / 6e9};
  LinkCost remote{15e-6, 1 / 2.5e9};
  // Links between this daemon's devices (by device index); when every rank is on this
  // daemon the cost model reads them (link_costs.h). Null = local/remote above.
  std::shared_ptr<const LinkPolicy> links;
  // Measure local and remote over the transport when the communicator is created
  // (calibration.h); they then replace the values above, except `local` under `links`.
  bool calibrate = true;
  // Failure detection in two tiers: a wait for one peer longer than `stall_after` is
  // reported (log, flight recorder, `on_stall`) and goes on; an operation longer than
  // `dead_after` fails, blaming the peer. A spec's timeout_ms, when set, replaces dead_after.
  std::chrono::milliseconds stall_after = kDefaultStallAfter;
  std::chrono::milliseconds dead_after = kDefaultTimeout;
  // While a rank waits, it sends each peer a keep-alive this often (0 = never), carrying its
  // operation sequence number and the peer it waits for; a stall report says from them
  // whether the awaited peer is silent or alive and where. Shorter than stall_after.
  std::chrono::milliseconds keepalive_interval = kDefaultKeepaliveInterval;
  std::function<void(const StallReport&)> on_stall;  // Called on the rank's thread.
  size_t flight_records = FlightRecorder::kDefaultCapacity;
};

// One peer link of a rank, with its running totals.
struct PeerLink {
  uint32_t peer = 0;
  std::string transport;
  std::string address;
  LinkCounters counters;
};

// Aligned to a cache line, like every per-rank object a rank writes on each call: the ranks of
// one daemon sit side by side on the heap and must not share lines.
class alignas(64) Communicator {
 public:
  // Joins `rank` of `spec`. Peers on other daemons are reached through `listener` over tcp
  // (or the transport the spec names); peers with this rank's data address share `hub`,
  // which may be null when there are none.
  static absl::StatusOr<std::unique_ptr<Communicator>> create(
      const tgrack::v1::CommunicatorSpec& spec, uint32_t rank, tcp::Listener* listener,
      std::shared_ptr<local::LocalHub> hub, const CommOptions& options = {});
  ~Communicator();

  uint32_t rank() const { return ctx_->rank(); }
  uint32_t size() const { return ctx_->size(); }
  const std::string& id() const { return id_; }
  std::string transports() const { return ctx_->transports(); }
  const Topology& topology() const { return topo_; }

  // The algorithm the cost model picks (or `forced`, validated) and why.
  absl::StatusOr<Choice> choose(tgrack::v1::CollectiveKind kind, uint64_t bytes,
                                const std::string& forced = "") const;

  absl::Status all_reduce(std::byte* out, const std::byte* in, size_t count, tgrack::v1::DType dtype,
                          tgrack::v1::ReduceOp op, const std::string& algorithm = "");
  // Afterwards block rank() of `out` (sizes as in algorithm.h's Blocks) holds the result;
  // the rest of `out` is scratch.
  absl::Status reduce_scatter(std::byte* out, const std::byte* in, size_t count,
                              tgrack::v1::DType dtype, tgrack::v1::ReduceOp op,
                              const std::string& algorithm = "");
  // `in` holds this rank's block; afterwards `out` (count elements) holds every block.
  absl::Status all_gather(std::byte* out, const std::byte* in, size_t count, tgrack::v1::DType dtype,
                          const std::string& algorithm = "");
  absl::Status broadcast(std::byte* data, size_t count, tgrack::v1::DType dtype, uint32_t root,
                         const std::string& algorithm = "");
  absl::Status barrier();

  // Poisons the communicator and tells every peer, without blocking.
  void abort(const std::string& why);
  // From any thread: the rank's current or next collective fails with ABORTED naming `why`
  // (its peers learn that this rank gave up), and the communicator is poisoned.
  void cancel(const std::string& why);
  // Every peer link and its counters. Thread-safe.
  std::vector<PeerLink> links() const;
  // Drops every link as a crashed process would (tests).
  void drop();
  // From any thread: when no collective runs on this rank, tells its peers it is alive and
  // idle (Context::keep_alive_between_operations), so one waiting for it past the stall time
  // learns it is behind rather than silent. Returns at once when a collective runs.
  void keep_alive_if_idle();
  // The calling thread, which drives this rank, has a core to itself (Context::set_own_core).
  void set_own_core(bool own) { ctx_->set_own_core(own); }
  absl::Status poisoned() const { return ctx_->poisoned(); }
  // This rank's last operations. Thread-safe.
  const FlightRecorder& recorder() const { return *recorder_; }

 private:
  Communicator() = default;
  absl::Status start(tgrack::v1::CollectiveKind kind, const char* name, uint64_t bytes,
                     const std::string& forced, std::string* algorithm);
  // Records the end of the operation start() began; a failure writes this rank's flight
  // records to the log.
  absl::Status finish(absl::Status status);
  void report_stall(uint32_t peer, const PeerVerdict& verdict);

  // Held by whoever drives ctx_: the rank's collectives, or keep_alive_if_idle().
  std::mutex driving_;
  std::shared_ptr<FlightRecorder> recorder_;
  std::function<void(const StallReport&)> on_stall_;
  std::chrono::milliseconds stall_after_{0};
  std::string id_;
  std::unique_ptr<Context> ctx_;
  // Set when every rank lives in this process: its mesh all-reduce reads peers' memory.
  std::unique_ptr<DirectAllReduce> direct_;
  Topology topo_;
  std::vector<std::byte> scratch_;
  // The last choice made without `forced`, reused while kind and size repeat.
  struct Cached {
    tgrack::v1::CollectiveKind kind;
    uint64_t bytes;
    std::string algorithm;
  };
  std::optional<Cached> last_;
};

// The RDMA device remote pairs may use, or why there is none (no device, or built without
// libibverbs). Probed once per process.
absl::StatusOr<std::string> rdma_available();

// Name used in errors and tables: "all_reduce", "reduce_scatter", "all_gather", "broadcast", "barrier".
const char* collective_name(tgrack::v1::CollectiveKind kind);

}  // namespace tg::coll
