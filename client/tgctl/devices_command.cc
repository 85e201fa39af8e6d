// tgctl devices: every device of every node, with memory, speed and health.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

absl::Status run_devices(const GlobalOptions& options, bool json) {
  auto nodes = Client(options.controller, std::chrono::seconds(10)).nodes();
  if (!nodes.ok()) return nodes.status();
  if (json) {
    nlohmann::json out = {{"devices", nlohmann::json::array()}};
    for (const auto& node : *nodes) {
      for (const auto& device : node.devices()) {
        nlohmann::json entry = device_json(device);
        entry["node_state"] = state_name(node.state());
        out["devices"].push_back(std::move(entry));
      }
    }
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"DEVICE", "KIND", "NAME", "NODE STATE", "MEMORY USED", "MEMORY", "PEAK", "HEALTH"});
  for (const auto& node : *nodes) {
    for (const auto& device : node.devices()) {
      std::string health = health_name(device.health());
      if (!device.health_reason().empty()) health += " (" + device.health_reason() + ")";
      table.add_row({device.ref().node() + "/" + std::to_string(device.ref().index()),
                     kind_name(device.kind()), device.name(), state_name(node.state()),
                     format_bytes(device.memory_used_bytes()), format_bytes(device.memory_bytes()),
                     format_flops(device.peak_flops()), health});
    }
  }
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_devices_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("devices", "List every device in the pool");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of a table");
  command->callback([&options, &action, json] {
    action = [&options, json] { return run_devices(options, *json); };
  });
}

}  // namespace tg::tgctl
