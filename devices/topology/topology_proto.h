// A node's link matrix on the wire (tgrack.v1.NodeTopology) and back. The daemon reports the
// pair classes its LinkPolicy chose when it registers; the controller and tgctl rebuild a
// LinkPolicy per node from them, for link requirements, the collectives' cost model and the
// printed matrix. Devices on different nodes have no entry: only the network joins them.
#pragma once

#include <string>

#include <absl/status/statusor.h>

#include "devices/topology/link_policy.h"
#include "tgrack/v1/node.pb.h"

namespace tg {

// Every unordered pair a < b once, with the chosen class, the alpha-beta estimate and the
// reason (LinkPolicy::explain). `source` says where the matrix came from.
tgrack::v1::NodeTopology topology_to_proto(const LinkPolicy& policy, const std::string& source);

// The policy of `node`'s devices: device i is named "GPU<i>" (hip) or "cpu<i>" and keeps its
// hive id; pairs the topology does not list are host-staged. INVALID_ARGUMENT naming the node
// for a link whose device is out of range, joins a device to itself, or is listed twice.
absl::StatusOr<LinkPolicy> topology_from_proto(const tgrack::v1::NodeInfo& node);

tgrack::v1::LinkClass link_class_to_proto(LinkClass link_class);
LinkClass link_class_from_proto(tgrack::v1::LinkClass link_class);

}  // namespace tg
