#include "client/tgctl/pool_view.h"

#include <cstdio>

namespace tg::tgctl {

std::string state_name(tgrack::v1::NodeState state) {
  switch (state) {
    case tgrack::v1::NODE_STATE_UP: return "UP";
    case tgrack::v1::NODE_STATE_DOWN: return "DOWN";
    default: return "?";
  }
}

std::string health_name(tgrack::v1::Health health) {
  switch (health) {
    case tgrack::v1::HEALTH_HEALTHY: return "healthy";
    case tgrack::v1::HEALTH_UNHEALTHY: return "unhealthy";
    default: return "?";
  }
}

std::string kind_name(tgrack::v1::DeviceKind kind) {
  switch (kind) {
    case tgrack::v1::DEVICE_KIND_CPU: return "cpu";
    case tgrack::v1::DEVICE_KIND_HIP: return "hip";
    default: return "?";
  }
}

std::string format_flops(double flops) {
  const char* units[] = {"FLOP/s", "KFLOP/s", "MFLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s"};
  int unit = 0;
  while (flops >= 1000 && unit < 5) {
    flops /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", flops, units[unit]);
  return text;
}

nlohmann::json device_json(const tgrack::v1::DeviceInfo& device) {
  return {
      {"device", device.ref().node() + "/" + std::to_string(device.ref().index())},
      {"node", device.ref().node()},
      {"index", device.ref().index()},
      {"kind", kind_name(device.kind())},
      {"name", device.name()},
      {"memory_bytes", device.memory_bytes()},
      {"memory_used_bytes", device.memory_used_bytes()},
      {"peak_flops", device.peak_flops()},
      {"memory_bandwidth", device.memory_bandwidth()},
      {"health", health_name(device.health())},
      {"health_reason", device.health_reason()},
      {"hive_id", device.hive_id()},
  };
}

nlohmann::json node_json(const tgrack::v1::NodeInfo& node) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& device : node.devices()) devices.push_back(device_json(device));
  return {
      {"name", node.name()},
      {"address", node.address()},
      {"data_address", node.data_address()},
      {"rack", node.rack()},
      {"state", state_name(node.state())},
      {"pid", node.pid()},
      {"version", node.version()},
      {"seconds_since_heartbeat", node.seconds_since_heartbeat()},
      {"cordoned", node.cordoned()},
      {"cordon_reason", node.cordon_reason()},
      {"devices", devices},
  };
}

}  // namespace tg::tgctl
