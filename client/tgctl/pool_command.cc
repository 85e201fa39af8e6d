// tgctl pool: totals over the pool. Devices, memory and FLOPS count only devices that can
// take work now (healthy, on an UP node); the "all" figures count everything known.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

absl::Status run_pool(const GlobalOptions& options, bool json) {
  auto nodes = Client(options.controller, std::chrono::seconds(10)).nodes();
  if (!nodes.ok()) return nodes.status();
  int up = 0, down = 0, devices = 0, usable = 0;
  uint64_t memory = 0, used = 0;
  double flops = 0;
  for (const auto& node : *nodes) {
    const bool node_up = node.state() == tgrack::v1::NODE_STATE_UP;
    node_up ? ++up : ++down;
    for (const auto& device : node.devices()) {
      ++devices;
      if (!node_up || device.health() == tgrack::v1::HEALTH_UNHEALTHY) continue;
      ++usable;
      memory += device.memory_bytes();
      used += device.memory_used_bytes();
      flops += device.peak_flops();
    }
  }
  if (json) {
    nlohmann::json out = {
        {"nodes_up", up},           {"nodes_down", down},
        {"devices", devices},       {"devices_usable", usable},
        {"memory_bytes", memory},   {"memory_used_bytes", used},
        {"peak_flops", flops},
    };
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"NODES UP", "NODES DOWN", "DEVICES", "USABLE", "MEMORY USED", "MEMORY", "PEAK"});
  table.add_row({std::to_string(up), std::to_string(down), std::to_string(devices),
                 std::to_string(usable), format_bytes(used), format_bytes(memory),
                 format_flops(flops)});
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_pool_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("pool", "Totals over the pool: nodes, devices, memory, FLOPS");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of a table");
  command->callback([&options, &action, json] {
    action = [&options, json] { return run_pool(options, *json); };
  });
}

}  // namespace tg::tgctl
