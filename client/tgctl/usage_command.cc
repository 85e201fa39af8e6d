// tgctl usage: the ledger summed — jobs, FLOPs, device-seconds, bytes moved and peak memory
// per tenant (a tenant sees its own; an admin every tenant's, or one with --tenant), since a
// time ago (--since 24h), and optionally per device kind or per day (UTC).
#include <iostream>

#include <nlohmann/json.hpp>

#include <absl/time/clock.h>
#include <absl/time/time.h>

#include "client/tgctl/command.h"
#include "client/tgctl/table.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

struct UsageArgs {
  std::string tenant;
  std::string since;  // A duration ago; "" = all time.
  std::string by;     // "", "device-kind" or "day".
};

absl::Status run_usage(const GlobalOptions& options, const UsageArgs& args) {
  tgrack::v1::GetUsageRequest request;
  request.set_tenant(args.tenant);
  request.set_by(args.by);
  if (!args.since.empty()) {
    absl::Duration ago;
    if (!absl::ParseDuration(args.since, &ago) || ago < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("--since: '" + args.since +
                                        "' is not a duration (e.g. 24h, 90m)");
    }
    request.set_since_unix_seconds(absl::ToDoubleSeconds(absl::Now() - ago - absl::UnixEpoch()));
  }
  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(options.controller));
  tgrack::v1::GetUsageReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  if (absl::Status s = from_grpc(stub->GetUsage(context.get(), request, &reply)); !s.ok()) {
    return s;
  }
  if (options.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const tgrack::v1::UsageRow& row : reply.rows()) {
      rows.push_back({{"tenant_id", row.tenant()},
                      {"key", row.key()},
                      {"job_count", row.job_count()},
                      {"flop_count", row.usage().flops()},
                      {"device_seconds", row.usage().device_seconds()},
                      {"moved_bytes", row.usage().bytes_moved()},
                      {"peak_memory_bytes", row.usage().peak_memory_bytes()}});
    }
    std::cout << nlohmann::json({{"by", args.by}, {"usage", rows}}).dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"TENANT", args.by.empty() ? "" : args.by == "day" ? "DAY" : "KIND", "JOBS",
               "FLOPS", "DEVICE-SECONDS", "BYTES-MOVED", "PEAK-MEMORY"});
  for (const tgrack::v1::UsageRow& row : reply.rows()) {
    table.add_row({row.tenant(), row.key(), std::to_string(row.job_count()),
                   std::to_string(row.usage().flops()),
                   std::to_string(row.usage().device_seconds()),
                   std::to_string(row.usage().bytes_moved()),
                   std::to_string(row.usage().peak_memory_bytes())});
  }
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_usage_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* usage = app.add_subcommand("usage", "What tenants used, from the controller's ledger");
  auto args = std::make_shared<UsageArgs>();
  usage->add_option("--tenant", args->tenant, "Only this tenant (an admin's choice)");
  usage->add_option("--since", args->since, "Jobs finished within this long ago (e.g. 24h)");
  usage->add_option("--by", args->by, "Also split by device-kind or day")
      ->check(CLI::IsMember({"device-kind", "day"}));
  usage->callback([&options, &action, args] {
    action = [&options, args] { return run_usage(options, *args); };
  });
}

}  // namespace tg::tgctl
