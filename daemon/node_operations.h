// NodeOperations: what a node does as a whole for its NodeService, beyond the parts the
// handlers call directly (node_service.h): describe itself, join and run collectives
// (recorded in its metrics), and reset devices warm. Daemon implements it (daemon.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "tgrack/v1/collectives.pb.h"
#include "tgrack/v1/node.pb.h"

namespace tg {

class NodeOperations {
 public:
  virtual ~NodeOperations() = default;

  // This node as it is now: addresses, pid, version and every device's live state.
  virtual tgrack::v1::NodeInfo node_info() const = 0;
  virtual absl::Status join_collective(const tgrack::v1::JoinCommunicatorRequest& request) = 0;
  virtual absl::StatusOr<tgrack::v1::RunCollectiveReply> run_collective(
      const tgrack::v1::RunCollectiveRequest& request) = 0;
  // Warm reset of local devices together (Daemon::reset_devices).
  virtual absl::Status reset_devices(const std::vector<uint32_t>& indices,
                                     std::chrono::milliseconds drain_timeout,
                                     const std::string& reason) = 0;
};

}  // namespace tg
