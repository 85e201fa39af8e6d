// Placement: which device runs a graph.
//
// Cordoned nodes count as unavailable (UNAVAILABLE naming the node and the cordon reason).
// An explicit device must exist, be on an UP node and be healthy; a requested node must be
// known and UP, and then its least-loaded healthy device is picked; with no request, the
// least-loaded healthy device of any UP node. "Least loaded" means fewest jobs running from
// this controller, then the smallest fraction of memory in use, then name order, so the
// choice is deterministic. Errors name what was asked for and why it cannot be used:
// NOT_FOUND for an unknown node or device index, UNAVAILABLE for a DOWN node or an
// unhealthy device, or when no device at all can take work. A pure function.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "tgrack/v1/common.pb.h"
#include "tgrack/v1/node.pb.h"

namespace tg {

struct PlacementChoice {
  std::string node;     // Node name.
  std::string address;  // Its NodeService host:port.
  uint32_t index = 0;   // Device index on that node.
};

// Jobs currently running on a device, by node name and index.
using JobsRunning = std::function<int(const std::string& node, uint32_t index)>;

absl::StatusOr<PlacementChoice> place(const std::vector<tgrack::v1::NodeInfo>& nodes,
                                      const tgrack::v1::Placement& request,
                                      const JobsRunning& jobs_running);

// `count` devices for one job of several ranks, from UP, uncordoned nodes' healthy devices.
// All inside one rack (NodeInfo.rack) when a rack has that many: the smallest such rack, so
// larger racks stay whole for larger jobs (then rack name order). Otherwise across racks, the
// racks with the most devices first and each rack's devices next to each other, so ranks in
// order cross each uplink once. Inside a rack: node name, then index. UNAVAILABLE saying how
// many devices are usable when fewer than `count`.
absl::StatusOr<std::vector<tgrack::v1::DeviceRef>> place_devices(
    const std::vector<tgrack::v1::NodeInfo>& nodes, uint32_t count);

// "node/index", the way tgctl and error messages name a device.
std::string device_name(const std::string& node, uint32_t index);

}  // namespace tg
