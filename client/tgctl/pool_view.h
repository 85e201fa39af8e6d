// What tgctl shows of the pool: names for states and kinds, human units, whether a node or
// device can take new work, and the JSON form of nodes and devices that `--json` prints
// (docs/cli-json.md: "id" keys, lower-case states, *_bytes, *_seconds).
#pragma once

#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include "tgrack/v1/node.pb.h"

namespace tg::tgctl {

std::string state_name(tgrack::v1::NodeState state);   // "UP", "DOWN", "?"
std::string health_name(tgrack::v1::Health health);    // "healthy", "unhealthy", "?"
std::string kind_name(tgrack::v1::DeviceKind kind);    // "cpu", "hip", "?"
std::string format_flops(double flops);                // "1.2 TFLOP/s"

// "UP", "DOWN", "UP,CORDONED (reason)", "UP,DRAINING (reason)".
std::string node_status(const tgrack::v1::NodeInfo& node);
// New work may go to the node: UP and neither cordoned nor draining.
bool node_usable(const tgrack::v1::NodeInfo& node);
// New work may go to the device: its node is usable and the device is not unhealthy.
bool device_usable(const tgrack::v1::NodeInfo& node, const tgrack::v1::DeviceInfo& device);

// The nodes the controller lists (ListNodes), with those long DOWN when `all`.
absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> list_nodes(const std::string& controller,
                                                             bool all = false);

// A device with its node's state (node_state, cordoned, draining) and `usable`.
nlohmann::json device_json(const tgrack::v1::NodeInfo& node, const tgrack::v1::DeviceInfo& device);
nlohmann::json node_json(const tgrack::v1::NodeInfo& node);  // With its devices.

}  // namespace tg::tgctl
