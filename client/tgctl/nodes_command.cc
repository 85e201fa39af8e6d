// tgctl nodes: the nodes the controller lists, UP or DOWN, cordoned or draining (with --all,
// also those DOWN for longer than the controller's --forget-down-after).
// tgctl nodes remove NODE: forget a DOWN node.
#include <iostream>

#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "client/tgctl/table.h"
#include "devices/units.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

absl::Status run_nodes(const GlobalOptions& options, bool all) {
  auto nodes = list_nodes(options.controller, all);
  if (!nodes.ok()) return nodes.status();
  if (options.json) {
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
    table.add_row({node.name(), node.rack().empty() ? "-" : node.rack(), node_status(node), node.address(),
                   std::to_string(node.devices_size()), format_bytes(memory),
                   std::to_string(node.pid()), since});
  }
  table.print(std::cout);
  return absl::OkStatus();
}

absl::Status run_remove(const GlobalOptions& options, const std::string& node) {
  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(options.controller));
  tgrack::v1::RemoveNodeRequest request;
  request.set_node(node);
  tgrack::v1::RemoveNodeReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  absl::Status status = from_grpc(stub->RemoveNode(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (options.json) {
    std::cout << nlohmann::json({{"id", node}, {"removed", true}}).dump(2) << "\n";
  } else {
    std::cout << "node " << node << " removed\n";
  }
  return absl::OkStatus();
}

}  // namespace

void add_nodes_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("nodes", "List the nodes (daemons) in the pool");
  auto all = std::make_shared<bool>(false);
  command->add_flag("--all", *all, "Also nodes DOWN for longer than the controller forgets");
  CLI::App* remove = command->add_subcommand("remove", "Forget a DOWN node");
  auto node = std::make_shared<std::string>();
  remove->add_option("NODE", *node, "Node name")->required();
  remove->callback([&options, &action, node] {
    action = [&options, node] { return run_remove(options, *node); };
  });
  command->callback([&options, &action, all, remove] {
    if (remove->parsed()) return;  // Its own callback ran first and chose the action.
    action = [&options, all] { return run_nodes(options, *all); };
  });
}

}  // namespace tg::tgctl
