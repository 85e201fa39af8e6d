// tgctl top: the kernel scoreboard of every UP node — per device, tenant and op, kernels run,
// their total and mean time and the bytes they touched, plus bytes copied per device — as the
// controller gathers it from the daemons (GetPoolKernelStats): a tenant sees its own jobs'
// rows, an admin every tenant's. Refreshes every --interval until interrupted; --once prints
// one view; --json prints one JSON document per view.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "client/tgctl/command.h"
#include "client/tgctl/table.h"
#include "devices/units.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

using NodeStats = tgrack::v1::NodeKernelStats;

absl::StatusOr<std::vector<NodeStats>> collect(const GlobalOptions& options) {
  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(options.controller));
  tgrack::v1::GetPoolKernelStatsReply reply;
  auto context = context_with_deadline(std::chrono::seconds(30));
  if (absl::Status s = from_grpc(stub->GetPoolKernelStats(
          context.get(), tgrack::v1::GetPoolKernelStatsRequest(), &reply));
      !s.ok()) {
    return s;
  }
  return std::vector<NodeStats>(reply.nodes().begin(), reply.nodes().end());
}

nlohmann::json to_json(const std::vector<NodeStats>& nodes) {
  nlohmann::json kernels = nlohmann::json::array(), copies = nlohmann::json::array(),
                 errors = nlohmann::json::array();
  for (const NodeStats& node : nodes) {
    if (!node.error().empty()) {
      errors.push_back({{"node_id", node.node()}, {"error", node.error()}});
    }
    for (const auto& k : node.stats().kernels()) {
      kernels.push_back({{"device_id", node.node() + "/" + std::to_string(k.device_index())},
                         {"tenant", k.tenant()},
                         {"op", k.op()},
                         {"run_count", k.count()},
                         {"total_seconds", k.total_seconds()},
                         {"touched_bytes", k.bytes()}});
    }
    for (const auto& c : node.stats().copies()) {
      copies.push_back({{"device_id", node.node() + "/" + std::to_string(c.device_index())},
                        {"tenant", c.tenant()},
                        {"copied_bytes", c.bytes()}});
    }
  }
  return {{"kernels", kernels}, {"copies", copies}, {"errors", errors}};
}

void print_table(const std::vector<NodeStats>& nodes) {
  Table table({"DEVICE", "TENANT", "OP", "COUNT", "TOTAL", "MEAN", "BYTES"});
  for (const NodeStats& node : nodes) {
    for (const auto& k : node.stats().kernels()) {
      char total[32], mean[32];
      std::snprintf(total, sizeof(total), "%.3f ms", k.total_seconds() * 1e3);
      std::snprintf(mean, sizeof(mean), "%.3f ms",
                    k.count() == 0 ? 0.0 : k.total_seconds() * 1e3 / static_cast<double>(k.count()));
      table.add_row({node.node() + "/" + std::to_string(k.device_index()), k.tenant(), k.op(),
                     std::to_string(k.count()), total, mean, format_bytes(k.bytes())});
    }
    for (const auto& c : node.stats().copies()) {
      table.add_row({node.node() + "/" + std::to_string(c.device_index()), c.tenant(), "(copies)",
                     "", "", "", format_bytes(c.bytes())});
    }
    if (!node.error().empty()) table.add_row({node.node(), "(unreachable: " + node.error() + ")"});
  }
  table.print(std::cout);
}

absl::Status run_top(const GlobalOptions& options, bool once, double interval) {
  const bool json = options.json;
  for (;;) {
    auto nodes = collect(options);
    if (!nodes.ok()) return nodes.status();
    if (json) {
      std::cout << to_json(*nodes).dump(2) << "\n";
    } else {
      if (!once) std::cout << "\033[H\033[2J";
      print_table(*nodes);
    }
    std::cout.flush();
    if (once) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
}

}  // namespace

void add_top_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand("top", "Kernel scoreboard per device, refreshing");
  struct Args {
    bool once = false;
    double interval = 2;
  };
  auto args = std::make_shared<Args>();
  command->add_flag("--once", args->once, "Print one view and exit");
  command->add_option("--interval", args->interval, "Seconds between views (0.1 to 3600)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  command->callback([&options, &action, args] {
    action = [&options, args] { return run_top(options, args->once, args->interval); };
  });
}

}  // namespace tg::tgctl
