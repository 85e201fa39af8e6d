// What tgctl shows of the pool: names for states and kinds, human units, and the JSON form
// of nodes and devices that `--json` prints (stable keys, plain numbers, lower-case states).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tgrack/v1/node.pb.h"

namespace tg::tgctl {

std::string state_name(tgrack::v1::NodeState state);   // "UP", "DOWN", "?"
std::string health_name(tgrack::v1::Health health);    // "healthy", "unhealthy", "?"
std::string kind_name(tgrack::v1::DeviceKind kind);    // "cpu", "hip", "?"
std::string format_flops(double flops);                // "1.2 TFLOP/s"

nlohmann::json device_json(const tgrack::v1::DeviceInfo& device);
nlohmann::json node_json(const tgrack::v1::NodeInfo& node);  // With its devices.

}  // namespace tg::tgctl
