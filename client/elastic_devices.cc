#include "client/elastic_devices.h"

#include <algorithm>

namespace tg {

namespace v1 = tgrack::v1;

std::optional<std::string> failed_node(const absl::Status& run_error) {
  if (run_error.code() != absl::StatusCode::kUnavailable) return std::nullopt;
  const std::string message(run_error.message());
  const std::string kPrefix = "node '";
  const size_t start = message.find(kPrefix);
  if (start == std::string::npos) return std::nullopt;
  const size_t name = start + kPrefix.size();
  const size_t end = message.find('\'', name);
  if (end == std::string::npos || end == name) return std::nullopt;
  return message.substr(name, end - name);
}

std::vector<v1::DeviceRef> usable_devices(const std::vector<v1::NodeInfo>& nodes,
                                          const std::map<std::string, uint32_t>& lost,
                                          int max_devices) {
  std::vector<v1::DeviceRef> devices;
  for (const v1::NodeInfo& node : nodes) {
    if (node.state() != v1::NODE_STATE_UP || node.cordoned()) continue;
    if (auto it = lost.find(node.name()); it != lost.end() && it->second == node.pid()) continue;
    for (const v1::DeviceInfo& device : node.devices()) {
      if (device.health() == v1::HEALTH_UNHEALTHY) continue;
      if (max_devices > 0 && static_cast<int>(devices.size()) == max_devices) return devices;
      devices.push_back(device.ref());
    }
  }
  return devices;
}

absl::StatusOr<std::vector<v1::DeviceRef>> ElasticDevices::usable() {
  auto nodes = client_.nodes();
  if (!nodes.ok()) return nodes.status();
  std::vector<v1::DeviceRef> devices = usable_devices(*nodes, lost_, max_devices_);
  listed_pids_.clear();
  for (const v1::NodeInfo& node : *nodes) listed_pids_[node.name()] = node.pid();
  rejoined_.clear();
  for (auto it = lost_.begin(); it != lost_.end();) {
    const bool back = std::any_of(devices.begin(), devices.end(), [&](const v1::DeviceRef& d) {
      return d.node() == it->first;
    });
    if (back) {
      rejoined_.push_back(it->first);
      it = lost_.erase(it);
    } else {
      ++it;
    }
  }
  return devices;
}

void ElasticDevices::lose(const std::string& node) {
  auto it = listed_pids_.find(node);
  lost_[node] = it != listed_pids_.end() ? it->second : 0;
}

}  // namespace tg
