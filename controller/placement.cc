#include "controller/placement.h"

#include <algorithm>
#include <cstdio>
#include <map>
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

absl::StatusOr<std::vector<tgrack::v1::DeviceRef>> place_devices(
    const std::vector<NodeInfo>& nodes, uint32_t count) {
  std::vector<const NodeInfo*> usable_nodes;
  for (const NodeInfo& node : nodes) {
    if (node.state() == tgrack::v1::NODE_STATE_UP && !node.cordoned()) {
      usable_nodes.push_back(&node);
    }
  }
  std::sort(usable_nodes.begin(), usable_nodes.end(),
            [](const NodeInfo* a, const NodeInfo* b) { return a->name() < b->name(); });
  std::map<std::string, std::vector<tgrack::v1::DeviceRef>> by_rack;
  size_t usable = 0;
  for (const NodeInfo* node : usable_nodes) {
    for (int i = 0; i < node->devices_size(); ++i) {
      if (!healthy(node->devices(i))) continue;
      tgrack::v1::DeviceRef ref;
      ref.set_node(node->name());
      ref.set_index(static_cast<uint32_t>(i));
      by_rack[node->rack()].push_back(std::move(ref));
      ++usable;
    }
  }
  if (usable < count) {
    return absl::UnavailableError("cannot place " + std::to_string(count) + " device(s): " +
                                  std::to_string(usable) +
                                  " healthy device(s) on UP, uncordoned nodes");
  }
  std::vector<const std::vector<tgrack::v1::DeviceRef>*> racks;
  for (const auto& [rack, devices] : by_rack) racks.push_back(&devices);
  // Smallest rack that fits first; then, for a job that spans racks, the largest racks.
  std::stable_sort(racks.begin(), racks.end(), [count](const auto* a, const auto* b) {
    const bool a_fits = a->size() >= count, b_fits = b->size() >= count;
    if (a_fits != b_fits) return a_fits;
    return a_fits ? a->size() < b->size() : a->size() > b->size();
  });
  std::vector<tgrack::v1::DeviceRef> chosen;
  for (const auto* devices : racks) {
    for (const auto& ref : *devices) {
      if (chosen.size() == count) return chosen;
      chosen.push_back(ref);
    }
  }
  return chosen;
}

}  // namespace tg
