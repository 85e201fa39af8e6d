#include "client/tgctl/pool_view.h"

#include <chrono>
#include <cstdio>

#include <absl/strings/ascii.h>

#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

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

std::string node_status(const tgrack::v1::NodeInfo& node) {
  std::string status = state_name(node.state());
  if (node.draining()) {
    status += ",DRAINING (" + node.cordon_reason() + ")";
  } else if (node.cordoned()) {
    status += ",CORDONED (" + node.cordon_reason() + ")";
  }
  return status;
}

bool node_usable(const tgrack::v1::NodeInfo& node) {
  return node.state() == tgrack::v1::NODE_STATE_UP && !node.cordoned() && !node.draining();
}

bool device_usable(const tgrack::v1::NodeInfo& node, const tgrack::v1::DeviceInfo& device) {
  return node_usable(node) && device.health() != tgrack::v1::HEALTH_UNHEALTHY;
}

absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> list_nodes(const std::string& controller,
                                                             bool all) {
  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(controller));
  tgrack::v1::ListNodesRequest request;
  request.set_all(all);
  tgrack::v1::ListNodesReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  if (absl::Status status = from_grpc(stub->ListNodes(context.get(), request, &reply));
      !status.ok()) {
    return status;
  }
  return std::vector<tgrack::v1::NodeInfo>(reply.nodes().begin(), reply.nodes().end());
}

nlohmann::json device_json(const tgrack::v1::NodeInfo& node, const tgrack::v1::DeviceInfo& device) {
  return {
      {"id", device.ref().node() + "/" + std::to_string(device.ref().index())},
      {"node_id", device.ref().node()},
      {"index", device.ref().index()},
      {"kind", kind_name(device.kind())},
      {"name", device.name()},
      {"memory_bytes", device.memory_bytes()},
      {"memory_used_bytes", device.memory_used_bytes()},
      {"peak_flops_per_second", device.peak_flops()},
      {"memory_bandwidth_bytes_per_second", device.memory_bandwidth()},
      {"health", health_name(device.health())},
      {"health_reason", device.health_reason()},
      {"hive_id", device.hive_id()},
      {"node_state", absl::AsciiStrToLower(state_name(node.state()))},
      {"cordoned", node.cordoned()},
      {"draining", node.draining()},
      {"usable", device_usable(node, device)},
  };
}

nlohmann::json node_json(const tgrack::v1::NodeInfo& node) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& device : node.devices()) devices.push_back(device_json(node, device));
  return {
      {"id", node.name()},
      {"address", node.address()},
      {"data_address", node.data_address()},
      {"rack", node.rack()},
      {"state", absl::AsciiStrToLower(state_name(node.state()))},
      {"cordoned", node.cordoned()},
      {"draining", node.draining()},
      {"cordon_reason", node.cordon_reason()},
      {"usable", node_usable(node)},
      {"pid", node.pid()},
      {"version", node.version()},
      {"seconds_since_heartbeat", node.seconds_since_heartbeat()},
      {"devices", devices},
  };
}

}  // namespace tg::tgctl
