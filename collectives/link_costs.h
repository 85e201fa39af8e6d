// The cost model's view of ranks on one daemon's devices, from that daemon's link matrix
// (devices/topology/link_policy.h): which links the ranks share and what they cost, so the
// model fits the algorithm to the links. A full XGMI mesh gives every peer its own link
// (mesh/direct algorithms win); XGMI hives joined by slower links become groups for the
// hierarchical algorithm; PCIe or host-staged links suit rings.
#pragma once

#include <cstddef>
#include <span>

#include "collectives/cost_model.h"
#include "devices/topology/link_policy.h"

namespace tg::coll {

// Rank r lives on device devices[r] of `links` (distinct, < links.size()). Starts from `base`
// and sets world, node_of (one group per XGMI hive for a hierarchical shape, else all 0),
// local (the slowest pair inside a group, or between ring neighbours), remote (the slowest
// pair between groups), mesh_contention and link_shape.
Topology link_topology(const LinkPolicy& links, std::span<const size_t> devices,
                       Topology base = {});

// Ranks on several daemons: `base.node_of` groups them by daemon, rank r lives on device
// devices[r] of its daemon and daemon_links[base.node_of[r]] is that daemon's link matrix
// (nullptr or too small when unknown). Sets local, the cost of the intra-daemon steps of the
// hierarchical algorithm, to the slowest intra-daemon pair by each daemon's own matrix (a pair
// without link data costs base.local); world, node_of, remote and the rest stay as in
// `base`. Every rank that passes the same matrices gets the same Topology.
Topology daemon_link_topology(std::span<const LinkPolicy* const> daemon_links,
                              std::span<const size_t> devices, Topology base);

}  // namespace tg::coll
