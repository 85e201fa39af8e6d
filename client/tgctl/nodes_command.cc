// tgctl nodes: every node the controller knows, UP or DOWN.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"

namespace tg::tgctl {
namespace {

absl::Status run_nodes(const GlobalOptions& options, bool json) {
  auto nodes = Client(options.controller, std::chrono::seconds(10)).nodes();
  if (!nodes.ok()) return nodes.status();
  if (json) {
    nlohmann::json out = {{"nodes", nlohmann::json::array()}};
    for (const auto& node : *nodes) out["nodes"].push_back(node_json(node));
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"NODE", "RACK", "STATE", "ADDRESS", "DEVICES", "MEMORY", "PID", "LAST HEARTBEAT"});
  for (const auto& node : *nodes) {
    uint64_t memory = 0;
    for (const auto& device : node.devices()) memory += device.memory_bytes();
    char since[32];
    std::snprintf(since, sizeof(since), "%.1fs ago", node.seconds_since_heartbeat());
    std::string state = state_name(node.state());
    if (node.cordoned()) state += ",CORDONED (" + node.cordon_reason() + ")";
    table.add_row({node.name(), node.rack().empty() ? "-" : node.rack(), state, node.address(),
                   std::to_string(node.devices_size()), format_bytes(memory),
                   std::to_string(node.pid()), since});
  }
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_nodes_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("nodes", "List the nodes (daemons) in the pool");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of a table");
  command->callback([&options, &action, json] {
    action = [&options, json] { return run_nodes(options, *json); };
  });
}

}  // namespace tg::tgctl
