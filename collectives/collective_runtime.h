// The daemon side of collectives: owns the data-plane listener, joins this daemon's ranks
// of communicators the controller sets up, and runs collectives on them the way nccl-tests
// does — fresh device buffers per rank, known values when checking, warm-ups, a timed run of
// back-to-back operations, then verification — one thread per local rank.
//
// Thread-safe: RPC handlers call it concurrently. Runs on one communicator are serialized;
// different communicators run independently.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
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

  // Starts the data-plane listener on listen_host:port (0 = ephemeral).
  absl::Status start(const std::string& listen_host, int port);
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

 private:
  struct Joined;

  const std::string node_name_;
  const std::vector<Device*> devices_;
  const CommOptions options_;
  tcp::Listener listener_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Joined>> comms_;  // Guarded by mu_.
};

}  // namespace tg::coll
