// The link a communicator's creator asked for (CreateCommunicatorRequest.require_link),
// checked before any daemon is asked to join: every pair of the ranks' devices must be linked
// at least that well. Two devices of one node are judged by the link matrix that node
// reported (devices/topology); devices on different nodes have only the network, which meets
// no device link class. Never falls back.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "tgrack/v1/common.pb.h"
#include "tgrack/v1/node.pb.h"

namespace tg::coll {

// OK when `required` is empty or every pair meets it. INVALID_ARGUMENT for a class other than
// xgmi, pcie or host; FAILED_PRECONDITION naming the first pair that falls short and what
// was found. `nodes` holds every node a device names, by name.
absl::Status check_required_link(const std::vector<tgrack::v1::DeviceRef>& devices,
                                 const std::map<std::string, tgrack::v1::NodeInfo>& nodes,
                                 const std::string& required);

}  // namespace tg::coll
