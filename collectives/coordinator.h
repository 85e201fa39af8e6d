// The controller side of collectives: turns a CreateCommunicator into ranks (rank i =
// device i, or every healthy device of every UP node with a rack's devices next to each
// other), tells every involved daemon to join (in parallel, bounded by the timeout; a daemon
// that fails or never answers fails the creation and the others are told to leave), fans
// RunCollective out to those daemons and merges their replies, and tears communicators down. Bulk data never passes through here.
//
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "tgrack/v1/collectives.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::coll {

class CollectiveCoordinator {
 public:
  using NodeLister = std::function<std::vector<tgrack::v1::NodeInfo>()>;
  using StubFactory =
      std::function<std::unique_ptr<tgrack::v1::NodeService::StubInterface>(const std::string& address)>;

  // `nodes` gives the current membership; `stubs` reaches a daemon's NodeService (default:
  // a channel from make_channel).
  explicit CollectiveCoordinator(NodeLister nodes, StubFactory stubs = {});

  // Draws the communicator's data-plane secret and has every daemon of its ranks join it;
  // the spec returned leaves the secret out (it may reach a client).
  absl::StatusOr<tgrack::v1::CommunicatorSpec> create(const tgrack::v1::CreateCommunicatorRequest& request);
  // Runs on every daemon of the communicator; results sorted by rank. Fails with the first
  // daemon error, prefixed with its node name.
  absl::StatusOr<tgrack::v1::RunCollectiveReply> run(const tgrack::v1::RunCollectiveRequest& request);
  absl::Status destroy(const std::string& comm_id);

  // Flight records (flight_trace.h) of every communicator, or of one. A daemon that does not
  // answer within kRecordsDeadline counts as unreachable.
  std::vector<tgrack::v1::CommunicatorSummary> list();
  absl::StatusOr<tgrack::v1::TraceCommunicatorReply> trace(const std::string& comm_id);

  // Elastic communicators. shrink: the ranks not removed (by default, those whose daemon
  // does not answer) form a new communicator in their old order, then the old one is
  // destroyed on the daemons that answer; bounded by the creation timeout plus the end of a
  // run still failing there. grow: a new communicator of the old devices then `add`, and the
  // old one destroyed. The old id is forgotten once the new one exists.
  absl::StatusOr<tgrack::v1::ShrinkCommunicatorReply> shrink(
      const tgrack::v1::ShrinkCommunicatorRequest& request);
  absl::StatusOr<tgrack::v1::GrowCommunicatorReply> grow(const tgrack::v1::GrowCommunicatorRequest& request);

  static constexpr std::chrono::milliseconds kRecordsDeadline{2000};

 private:
  struct Comm {
    tgrack::v1::CommunicatorSpec spec;
    std::vector<std::string> node_addresses;  // NodeService addresses of involved daemons.
    std::vector<std::string> node_names;
  };

  absl::StatusOr<Comm> find(const std::string& comm_id);
  // GetFlightRecords("") of every daemon in `comm`, by node name.
  std::map<std::string, absl::StatusOr<tgrack::v1::GetFlightRecordsReply>> records(
      const std::vector<std::string>& addresses, const std::vector<std::string>& names);
  tgrack::v1::TraceCommunicatorReply trace_of(
      const Comm& comm,
      const std::map<std::string, absl::StatusOr<tgrack::v1::GetFlightRecordsReply>>& records);
  // Makes a communicator of `devices` like `old` and destroys `old` on the daemons in `leave`.
  absl::StatusOr<tgrack::v1::CommunicatorSpec> replace(const Comm& old,
                                                       const std::vector<tgrack::v1::DeviceRef>& devices,
                                                       const std::set<std::string>& skip_nodes);

  // Calls `fn(stub, i)` for every address in parallel; statuses in order.
  std::vector<absl::Status> fan_out(
      const std::vector<std::string>& addresses,
      const std::function<absl::Status(tgrack::v1::NodeService::StubInterface&, size_t)>& fn);

  NodeLister nodes_;
  StubFactory stubs_;
  std::mutex mu_;
  uint64_t next_id_ = 1;                 // Guarded by mu_.
  std::map<std::string, Comm> comms_;    // Guarded by mu_.
};

}  // namespace tg::coll
