// Ranks grouped by rack. Hosts of one rack share a switch; traffic between racks crosses the
// rack uplinks, the bottleneck. When every rank of a communicator names its rack and they
// name at least two, the cost model's groups are racks rather than daemons: its local links
// are those inside a rack, its remote links the uplinks, and hierarchical all-reduce runs
// with one leader per rack.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tgrack/v1/collectives.pb.h"

namespace tg::coll {

// group[rank] = the lowest rank of that rank's rack; nullopt when a rank names no rack or
// all name the same one.
std::optional<std::vector<uint32_t>> rack_groups(const tgrack::v1::CommunicatorSpec& spec);

}  // namespace tg::coll
