// tgctl topology: every node's link matrix in the manner of `nvidia-smi topo -m` (the class
// each pair of its devices uses, hives, the collective shape), then how nodes reach each
// other: only over the network.
#include <iostream>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "devices/topology/topology_proto.h"
#include "devices/topology/topology_report.h"

namespace tg::tgctl {
namespace {

absl::Status run_topology(const GlobalOptions& options, bool json) {
  auto nodes = Client(options.controller, std::chrono::seconds(10)).nodes();
  if (!nodes.ok()) return nodes.status();
  nlohmann::json out = {{"nodes", nlohmann::json::array()}};
  for (const auto& node : *nodes) {
    auto policy = topology_from_proto(node);
    if (!policy.ok()) return policy.status();
    const std::string source = node.topology().source().empty() ? "not reported"
                                                                : node.topology().source();
    if (json) {
      nlohmann::json entry = nlohmann::json::parse(format_topology_json(*policy));
      entry["name"] = node.name();
      entry["state"] = state_name(node.state());
      entry["source"] = source;
      entry["data_address"] = node.data_address();
      entry["rack"] = node.rack();
      out["nodes"].push_back(std::move(entry));
      continue;
    }
    std::cout << "Node " << node.name() << " ("
              << (node.rack().empty() ? "" : "rack " + node.rack() + ", ") << state_name(node.state()) << ", "
              << node.devices_size() << " devices, links from " << source << ")\n\n";
    if (policy->size() == 0) {
      std::cout << "  no devices\n\n";
    } else {
      std::cout << format_topology_matrix(*policy) << "\n";
    }
  }
  if (json) {
    out["between_nodes"] = {{"class", "network"},
                            {"reason", "devices on different nodes reach each other only over "
                                       "the data plane (tcp, or RDMA where a NIC allows)"}};
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << "Between nodes: NET (data plane: tcp, or RDMA where a NIC allows; between racks "
               "over the rack uplinks)\n";
  for (const auto& node : *nodes) {
    std::cout << "  " << node.name() << "  " << node.data_address()
              << (node.rack().empty() ? "" : "  rack " + node.rack()) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void add_topology_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command =
      app.add_subcommand("topology", "Print how each node's devices are linked (XGMI, PCIe, host)");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of matrices");
  command->callback([&options, &action, json] {
    action = [&options, json] { return run_topology(options, *json); };
  });
}

}  // namespace tg::tgctl
