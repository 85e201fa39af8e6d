// Elastic data parallelism: which devices a program spreads its next step over, and which
// node a failed step lost.
//
// A program that trains over the pool plans each step on usable() devices. When a step fails
// because a daemon died, failed_node() names the node from the run's error (the controller
// names the root cause's node, job_failure.h); lose() then leaves that node out of usable()
// until it is back: listed UP, not cordoned, by a daemon process other than the one lost (a
// restarted daemon has a new pid). Between failures the program need not ask: the devices of
// its last plan stay valid until a step fails.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "client/client.h"

namespace tg {

// The node a failed run names as lost: the error is UNAVAILABLE (a daemon unreachable, a node
// DOWN or gone from the pool) and its message names the node as "node 'NAME'". nullopt for
// any other error, so a program does not mistake a bad graph for a lost node.
std::optional<std::string> failed_node(const absl::Status& run_error);

// The devices of `nodes` a step may use: healthy devices of nodes UP and not cordoned, except
// the nodes in `lost` (node -> pid of its daemon that died) while they are still listed with
// that pid; at most `max_devices` (0 = all), in the listing's order.
std::vector<tgrack::v1::DeviceRef> usable_devices(const std::vector<tgrack::v1::NodeInfo>& nodes,
                                                  const std::map<std::string, uint32_t>& lost,
                                                  int max_devices = 0);

// The device set of a data-parallel program across failures. Not thread-safe.
class ElasticDevices {
 public:
  explicit ElasticDevices(Client client, int max_devices = 0)
      : client_(std::move(client)), max_devices_(max_devices) {}

  // Lists the nodes and returns usable_devices() of them. A lost node found back (UP with a
  // new daemon) is no longer lost and is named by rejoined() until the next call.
  absl::StatusOr<std::vector<tgrack::v1::DeviceRef>> usable();
  // Leaves `node` out until its daemon is replaced: the daemon that died is the one listed at
  // the last usable(), which planned the step that failed.
  void lose(const std::string& node);

  bool degraded() const { return !lost_.empty(); }
  const std::vector<std::string>& rejoined() const { return rejoined_; }

 private:
  Client client_;
  int max_devices_;
  std::map<std::string, uint32_t> listed_pids_;  // At the last usable().
  std::map<std::string, uint32_t> lost_;         // Node -> pid of the daemon that died.
  std::vector<std::string> rejoined_;
};

}  // namespace tg
