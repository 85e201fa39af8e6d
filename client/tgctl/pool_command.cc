// tgctl pool: totals over the pool. Usable devices, and the memory and FLOPS figures, count
// only devices that can take new work now (healthy, on an UP node that is neither cordoned
// nor draining); the node and device counts count everything listed.
#include <iostream>

#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

absl::Status run_pool(const GlobalOptions& options) {
  auto nodes = list_nodes(options.controller);
  if (!nodes.ok()) return nodes.status();
  int up = 0, down = 0, cordoned = 0, draining = 0, devices = 0, usable = 0;
  uint64_t memory = 0, used = 0;
  double flops = 0;
  for (const auto& node : *nodes) {
    node.state() == tgrack::v1::NODE_STATE_UP ? ++up : ++down;
    if (node.draining()) {
      ++draining;
    } else if (node.cordoned()) {
      ++cordoned;
    }
    for (const auto& device : node.devices()) {
      ++devices;
      if (!device_usable(node, device)) continue;
      ++usable;
      memory += device.memory_bytes();
      used += device.memory_used_bytes();
      flops += device.peak_flops();
    }
  }
  if (options.json) {
    nlohmann::json out = {
        {"up_node_count", up},
        {"down_node_count", down},
        {"cordoned_node_count", cordoned},
        {"draining_node_count", draining},
        {"device_count", devices},
        {"usable_device_count", usable},
        {"memory_bytes", memory},
        {"memory_used_bytes", used},
        {"peak_flops_per_second", flops},
    };
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"NODES UP", "NODES DOWN", "CORDONED", "DRAINING", "DEVICES", "USABLE",
               "MEMORY USED", "MEMORY", "PEAK"});
  table.add_row({std::to_string(up), std::to_string(down), std::to_string(cordoned),
                 std::to_string(draining), std::to_string(devices), std::to_string(usable),
                 format_bytes(used), format_bytes(memory), format_flops(flops)});
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_pool_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("pool", "Totals over the pool: nodes, devices, memory, FLOPS");
  command->callback([&options, &action] {
    action = [&options] { return run_pool(options); };
  });
}

}  // namespace tg::tgctl
