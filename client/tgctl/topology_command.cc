// tgctl topology: every node's link matrix in the manner of `nvidia-smi topo -m` (the class
// each pair of its devices uses, hives, the collective shape), then how nodes reach each
// other: only over the network.
#include <iostream>

#include <absl/strings/ascii.h>
#include <nlohmann/json.hpp>

#include "client/tgctl/command.h"
#include "client/tgctl/pool_view.h"
#include "devices/topology/topology_proto.h"
#include "devices/topology/topology_report.h"

namespace tg::tgctl {
namespace {

// The link report of `node` (format_topology_json) in tgctl's JSON convention: devices and
// pairs name devices by id ("node-a/0"), times and rates carry their units in the key.
nlohmann::json node_topology_json(const tgrack::v1::NodeInfo& node, const LinkPolicy& policy,
                                  const std::string& source) {
  const nlohmann::json report = nlohmann::json::parse(format_topology_json(policy));
  auto device_id = [&node](const nlohmann::json& index) {
    return node.name() + "/" + std::to_string(index.get<int>());
  };
  nlohmann::json devices = nlohmann::json::array(), pairs = nlohmann::json::array();
  for (nlohmann::json device : report["devices"]) {
    device["id"] = device_id(device["index"]);
    devices.push_back(std::move(device));
  }
  for (const nlohmann::json& pair : report["pairs"]) {
    pairs.push_back({{"device_ids", {device_id(pair["a"]), device_id(pair["b"])}},
                     {"class", pair["class"]},
                     {"latency_seconds", pair["latency_s"]},
                     {"bandwidth_bytes_per_second", pair["bandwidth_bytes_per_s"]},
                     {"reason", pair["reason"]}});
  }
  return {{"id", node.name()},
          {"state", absl::AsciiStrToLower(state_name(node.state()))},
          {"rack", node.rack()},
          {"source", source},
          {"data_address", node.data_address()},
          {"devices", devices},
          {"pairs", pairs},
          {"collective_shape", report["collective_shape"]},
          {"full_xgmi_mesh", report["full_xgmi_mesh"]},
          {"reason", report["reason"]}};
}

absl::Status run_topology(const GlobalOptions& options) {
  const bool json = options.json;
  auto nodes = list_nodes(options.controller);
  if (!nodes.ok()) return nodes.status();
  nlohmann::json out = {{"nodes", nlohmann::json::array()}};
  for (const auto& node : *nodes) {
    auto policy = topology_from_proto(node);
    if (!policy.ok()) return policy.status();
    const std::string source = node.topology().source().empty() ? "not reported"
                                                                : node.topology().source();
    if (json) {
      out["nodes"].push_back(node_topology_json(node, *policy, source));
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
  command->callback([&options, &action] {
    action = [&options] { return run_topology(options); };
  });
}

}  // namespace tg::tgctl
