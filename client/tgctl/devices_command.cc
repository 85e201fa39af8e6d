// tgctl devices: every device of every node, with memory, speed, health and whether it can
// take new work (its node UP and neither cordoned nor draining, the device not unhealthy).
#include <iostream>

#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

absl::Status run_devices(const GlobalOptions& options) {
  auto nodes = list_nodes(options.controller);
  if (!nodes.ok()) return nodes.status();
  if (options.json) {
    nlohmann::json out = {{"devices", nlohmann::json::array()}};
    for (const auto& node : *nodes) {
      for (const auto& device : node.devices()) out["devices"].push_back(device_json(node, device));
    }
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"DEVICE", "KIND", "NAME", "NODE STATE", "MEMORY USED", "MEMORY", "PEAK", "HEALTH",
               "USABLE"});
  for (const auto& node : *nodes) {
    for (const auto& device : node.devices()) {
      std::string health = health_name(device.health());
      if (!device.health_reason().empty()) health += " (" + device.health_reason() + ")";
      table.add_row({device.ref().node() + "/" + std::to_string(device.ref().index()),
                     kind_name(device.kind()), device.name(), node_status(node),
                     format_bytes(device.memory_used_bytes()), format_bytes(device.memory_bytes()),
                     format_flops(device.peak_flops()), health,
                     device_usable(node, device) ? "yes" : "no"});
    }
  }
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_devices_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("devices", "List every device in the pool");
  command->callback([&options, &action] {
    action = [&options] { return run_devices(options); };
  });
}

}  // namespace tg::tgctl
