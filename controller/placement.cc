#include "controller/placement.h"

#include <cstdio>
#include <optional>
#include <tuple>

namespace tg {
namespace {

using tgrack::v1::NodeInfo;

bool healthy(const tgrack::v1::DeviceInfo& device) {
  return device.health() != tgrack::v1::HEALTH_UNHEALTHY;
}

absl::StatusOr<const NodeInfo*> find_up_node(const std::vector<NodeInfo>& nodes,
                                             const std::string& name) {
  std::string known;
  for (const NodeInfo& node : nodes) {
    if (node.name() == name) {
      if (node.state() == tgrack::v1::NODE_STATE_DOWN) {
        char silent[32];
        std::snprintf(silent, sizeof(silent), "%.1f", node.seconds_since_heartbeat());
        return absl::UnavailableError("node '" + name + "' is DOWN (no heartbeat for " + silent +
                                      " s)");
      }
      if (node.cordoned()) {
        return absl::UnavailableError("node '" + name + "' is cordoned: " + node.cordon_reason());
      }
      return &node;
    }
    known += (known.empty() ? "" : ", ") + node.name();
  }
  return absl::NotFoundError("unknown node '" + name + "' (known: " +
                             (known.empty() ? "none" : known) + ")");
}

// Picks the least-loaded healthy device among `nodes`; nullopt when there is none.
std::optional<PlacementChoice> least_loaded(const std::vector<const NodeInfo*>& nodes,
                                            const JobsRunning& jobs_running) {
  std::optional<PlacementChoice> best;
  std::tuple<int, double> best_load;
  for (const NodeInfo* node : nodes) {
    for (int i = 0; i < node->devices_size(); ++i) {
      const tgrack::v1::DeviceInfo& device = node->devices(i);
      if (!healthy(device)) continue;
      const uint32_t index = static_cast<uint32_t>(i);
      const double used = device.memory_bytes() == 0
                              ? 0.0
                              : static_cast<double>(device.memory_used_bytes()) / device.memory_bytes();
      const std::tuple<int, double> load{jobs_running(node->name(), index), used};
      if (!best || load < best_load) {
        best = PlacementChoice{node->name(), node->address(), index};
        best_load = load;
      }
    }
  }
  return best;
}

}  // namespace

std::string device_name(const std::string& node, uint32_t index) {
  return node + "/" + std::to_string(index);
}

absl::StatusOr<PlacementChoice> place(const std::vector<NodeInfo>& nodes,
                                      const tgrack::v1::Placement& request,
                                      const JobsRunning& jobs_running) {
  if (!request.device().node().empty()) {
    const std::string& name = request.device().node();
    const uint32_t index = request.device().index();
    auto node = find_up_node(nodes, name);
    if (!node.ok()) return node.status();
    const int count = (*node)->devices_size();
    if (index >= static_cast<uint32_t>(count)) {
      return absl::NotFoundError("unknown device " + device_name(name, index) + ": node '" + name +
                                 "' has " + std::to_string(count) + " device(s)");
    }
    const tgrack::v1::DeviceInfo& device = (*node)->devices(static_cast<int>(index));
    if (!healthy(device)) {
      return absl::UnavailableError("device " + device_name(name, index) +
                                    " is unhealthy: " + device.health_reason());
    }
    return PlacementChoice{name, (*node)->address(), index};
  }

  if (!request.node().empty()) {
    auto node = find_up_node(nodes, request.node());
    if (!node.ok()) return node.status();
    auto choice = least_loaded({*node}, jobs_running);
    if (!choice) {
      return absl::UnavailableError("node '" + request.node() + "' has no healthy device");
    }
    return *choice;
  }

  std::vector<const NodeInfo*> up;
  for (const NodeInfo& node : nodes) {
    if (node.state() != tgrack::v1::NODE_STATE_DOWN && !node.cordoned()) up.push_back(&node);
  }
  auto choice = least_loaded(up, jobs_running);
  if (!choice) {
    return absl::UnavailableError("no healthy device on an UP node (" +
                                  std::to_string(nodes.size()) + " node(s) known, " +
                                  std::to_string(up.size()) + " UP and not cordoned)");
  }
  return *choice;
}

}  // namespace tg
