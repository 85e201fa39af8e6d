// The daemon side of collectives: owns the data-plane listener, joins this daemon's ranks
// of communicators the controller sets up, and runs collectives on them the way nccl-tests
// does — fresh device buffers per rank, known values when checking, warm-ups, a timed run of
// back-to-back operations, then verification — one thread per local rank.
//
// Thread-safe: RPC handlers call it concurrently. Runs on one communicator are serialized;
// different communicators run independently. It counts what every link moves (link_stats)
// and clears devices of collectives for a reset (fence). Every keep-alive interval a thread
// of its own keeps the links of idle ranks alive (Communicator::keep_alive_if_idle), so a
// peer that waits for a rank whose client has not yet asked for the next collective hears
// that the rank is behind, not silent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "collectives/communicator.h"
#include "collectives/transport/tcp/listener.h"
#include "devices/device.h"
#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

class CollectiveRuntime {
 public:
  // `local_devices[i]` is device index i of node `node_name`; the devices outlive this.
  CollectiveRuntime(std::string node_name, std::vector<Device*> local_devices,
                    CommOptions options = {});
  ~CollectiveRuntime();

  // Starts the data-plane listener on listen_host:port (0 = ephemeral). Peers are told
  // advertised_host:port; "" = the bound address as is.
  absl::Status start(const std::string& listen_host, int port,
                     const std::string& advertised_host = "");
  // host:port peers dial; valid after start().
  std::string data_address() const;

  // Creates this daemon's ranks of the communicator (those whose device is on this node),
  // connecting to every peer within the spec's timeout. ALREADY_EXISTS for a known id.
  absl::Status join(const tgrack::v1::JoinCommunicatorRequest& request);
  // Runs the request on every local rank of the communicator; NOT_FOUND for an unknown id;
  // a transport failure fails the call (and poisons the communicator) within its timeout.
  absl::StatusOr<tgrack::v1::RunCollectiveReply> run(const tgrack::v1::RunCollectiveRequest& request);
  // Leaves the communicator; NOT_FOUND when unknown.
  absl::Status destroy(const std::string& comm_id);

  // The rank of local device `device_index` in `comm_id`, for a caller that drives it from
  // one thread (a graph fragment's ALL_REDUCE / ALL_GATHER). The handle stays valid after
  // destroy(). Not serialized with run(): a communicator serves one or the other at a time.
  // NOT_FOUND naming the communicator and the device when that device has no rank in it.
  absl::StatusOr<std::shared_ptr<Communicator>> communicator(const std::string& comm_id,
                                                             uint32_t device_index);

  // Running totals of one kind of link: a local device to a peer's device over a transport,
  // summed over every communicator since start (destroyed ones included), so they only grow.
  struct LinkStats {
    uint32_t device = 0;       // Local device index.
    std::string peer_device;   // "node/index" of the peer rank's device.
    std::string peer_address;  // The peer's data address.
    std::string transport;     // "tcp", "local", "ibverbs".
    LinkCounters counters;
  };
  std::vector<LinkStats> link_stats() const;
  // The flight records of this daemon's ranks of `comm_id`, or of every communicator for
  // "". NOT_FOUND naming the node for an unknown id.
  absl::StatusOr<tgrack::v1::GetFlightRecordsReply> flight_records(const std::string& comm_id) const;
  // What the data-plane listener refused and holds (tcp::ListenerCounters).
  tcp::ListenerCounters data_connections() const { return listener_.counters(); }
  // run() calls in progress or waiting on communicator `comm_id` (0 when unknown).
  int runs_in_progress(const std::string& comm_id) const;

  // Clears `devices` (indices on this node) of collectives, for a device reset. Until the
  // returned fence is destroyed, runs on communicators with a rank there fail at once with
  // UNAVAILABLE naming `why`. Runs in progress get until `deadline`; past it their
  // communicators are cancelled (the runs fail with ABORTED naming `why`, and their peers
  // learn of it), and the fence waits up to the communicators' timeout for those runs to
  // return. Never blocks past that.
  class Fence;
  std::unique_ptr<Fence> fence(const std::vector<uint32_t>& devices,
                               std::chrono::steady_clock::time_point deadline,
                               const std::string& why);

 private:
  struct Joined;
  using LinkKey = std::tuple<uint32_t, std::string, std::string, std::string>;

  // Adds `joined`'s link counters to `totals`.
  static void add_links(const Joined& joined, std::map<LinkKey, LinkCounters>& totals);
  bool on_fenced_device(const Joined& joined) const;  // mu_ held.
  void keep_idle_ranks_alive();  // The idle_keepalives_ thread, until stopping_.

  const std::string node_name_;
  const std::vector<Device*> devices_;
  const CommOptions options_;
  tcp::Listener listener_;
  std::string advertised_host_;  // Told to peers instead of the bound host; "" = bound.
  mutable std::mutex mu_;
  std::condition_variable runs_done_;
  std::map<std::string, std::shared_ptr<Joined>> comms_;  // Guarded by mu_.
  std::map<LinkKey, LinkCounters> retired_links_;         // Guarded by mu_; destroyed comms.
  std::multiset<uint32_t> fenced_;                        // Guarded by mu_.
  std::string fence_why_;                                 // Guarded by mu_.
  bool stopping_ = false;                                 // Guarded by mu_.
  std::condition_variable stop_;
  std::thread idle_keepalives_;  // Last: joined first, while what it reads remains.
};

class CollectiveRuntime::Fence {
 public:
  ~Fence();
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;
  // Communicators cancelled because their runs outlived the deadline.
  const std::vector<std::string>& cancelled() const { return cancelled_; }

 private:
  friend class CollectiveRuntime;
  Fence(CollectiveRuntime* runtime, std::vector<uint32_t> devices)
      : runtime_(runtime), devices_(std::move(devices)) {}
  CollectiveRuntime* runtime_;
  std::vector<uint32_t> devices_;
  std::vector<std::string> cancelled_;
};

}  // namespace tg::coll
