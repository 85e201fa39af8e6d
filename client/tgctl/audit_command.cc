// tgctl audit: the controller's append-only log of admin actions (admin only), oldest first.
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "client/tgctl/command.h"
#include "client/tgctl/table.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::tgctl {
namespace {

std::string utc_text(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

absl::Status run_audit(const GlobalOptions& options, uint32_t limit) {
  auto stub = tgrack::v1::ControllerService::NewStub(make_channel(options.controller));
  tgrack::v1::ListAuditRequest request;
  request.set_limit(limit);
  tgrack::v1::ListAuditReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  if (absl::Status s = from_grpc(stub->ListAudit(context.get(), request, &reply)); !s.ok()) {
    return s;
  }
  if (options.json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const tgrack::v1::AuditEntry& e : reply.entries()) {
      entries.push_back({{"id", e.seq()},
                         {"unix_seconds", e.unix_seconds()},
                         {"actor", e.actor()},
                         {"action", e.action()},
                         {"target", e.target()},
                         {"detail", e.detail()},
                         {"outcome", e.outcome()}});
    }
    std::cout << nlohmann::json({{"entries", entries}}).dump(2) << "\n";
    return absl::OkStatus();
  }
  Table table({"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAIL", "OUTCOME"});
  for (const tgrack::v1::AuditEntry& e : reply.entries()) {
    table.add_row({std::to_string(e.seq()), utc_text(e.unix_seconds()), e.actor(), e.action(),
                   e.target(), e.detail(), e.outcome()});
  }
  table.print(std::cout);
  return absl::OkStatus();
}

}  // namespace

void add_audit_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* audit = app.add_subcommand(
      "audit", "Admin actions (tenants, tokens, cordon, drain, reset), oldest first (admin only)");
  auto limit = std::make_shared<uint32_t>(1000);
  audit->add_option("--limit", *limit, "The most recent N entries")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  audit->callback([&options, &action, limit] {
    action = [&options, limit] { return run_audit(options, *limit); };
  });
}

}  // namespace tg::tgctl
