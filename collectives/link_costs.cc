#include "collectives/link_costs.h"

#include <algorithm>
#include <vector>

namespace tg::coll {
namespace {

LinkCost cost_of(const AlphaBeta& estimate) {
  return LinkCost{estimate.latency, estimate.bandwidth > 0 ? 1 / estimate.bandwidth : 0};
}

// The slower of two costs for a message of typical size (1 MiB).
LinkCost slower(const LinkCost& a, const LinkCost& b) {
  constexpr double kBytes = 1 << 20;
  return a.time(kBytes) >= b.time(kBytes) ? a : b;
}

}  // namespace

Topology link_topology(const LinkPolicy& links, std::span<const size_t> devices, Topology base) {
  Topology t = std::move(base);
  const size_t n = devices.size();
  t.world = static_cast<uint32_t>(n);
  t.node_of.assign(n, 0);
  if (n < 2) return t;
  const MeshAnalysis analysis = links.analyze(devices);
  t.link_shape = collective_shape_name(analysis.shape);
  if (analysis.shape == CollectiveShape::kHierarchical) {
    for (size_t group = 0; group < analysis.xgmi_groups.size(); ++group) {
      for (size_t device : analysis.xgmi_groups[group]) {
        const size_t rank = std::find(devices.begin(), devices.end(), device) - devices.begin();
        t.node_of[rank] = static_cast<uint32_t>(group);
      }
    }
  }
  std::vector<LinkCost> inside, between;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const bool neighbours = j == i + 1 || (i == 0 && j == n - 1);
      if (analysis.shape == CollectiveShape::kRing && !neighbours) continue;
      const LinkCost cost = cost_of(links.estimate(devices[i], devices[j]));
      (t.node_of[i] == t.node_of[j] ? inside : between).push_back(cost);
    }
  }
  if (!inside.empty()) {
    t.local = inside[0];
    for (const LinkCost& c : inside) t.local = slower(t.local, c);
  }
  if (!between.empty()) {
    t.remote = between[0];
    for (const LinkCost& c : between) t.remote = slower(t.remote, c);
  }
  // Over a full XGMI mesh each of the n-1 concurrent flows has its own link; elsewhere the
  // flows of one rank share its link.
  t.mesh_contention = analysis.full_xgmi_mesh ? 1.0 / static_cast<double>(n - 1) : 1.0;
  return t;
}

Topology daemon_link_topology(std::span<const LinkPolicy* const> daemon_links,
                              std::span<const size_t> devices, Topology base) {
  Topology t = std::move(base);
  const size_t n = devices.size();
  if (t.node_of.size() != n) return t;
  std::vector<LinkCost> inside;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const uint32_t node = t.node_of[i];
      if (t.node_of[j] != node) continue;
      const LinkPolicy* links = node < daemon_links.size() ? daemon_links[node] : nullptr;
      const bool known = links != nullptr && devices[i] < links->size() &&
                         devices[j] < links->size() && devices[i] != devices[j];
      inside.push_back(known ? cost_of(links->estimate(devices[i], devices[j])) : t.local);
    }
  }
  if (!inside.empty()) {
    LinkCost local = inside[0];
    for (const LinkCost& c : inside) local = slower(local, c);
    t.local = local;
  }
  return t;
}

}  // namespace tg::coll
