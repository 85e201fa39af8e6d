// tgctl sessions: client sessions with their lease, remote tensors, plans and memory.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/job_view.h"

namespace tg::tgctl {
namespace {

absl::Status run_sessions(const GlobalOptions& options, bool json) {
  auto sessions = Client(options.controller, std::chrono::seconds(10)).sessions();
  if (!sessions.ok()) return sessions.status();
  if (json) {
    std::cout << sessions_json(*sessions).dump(2) << "\n";
  } else {
    sessions_table(*sessions).print(std::cout);
  }
  return absl::OkStatus();
}

}  // namespace

void add_sessions_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* command = app.add_subcommand(
      "sessions", "List client sessions: lease left, remote tensors, plans, memory per device");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of a table");
  command->callback([&options, &action, json] {
    action = [&options, json] { return run_sessions(options, *json); };
  });
}

}  // namespace tg::tgctl
