// tgctl sessions: client sessions with their lease, remote tensors, plans and memory.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/job_view.h"

namespace tg::tgctl {
namespace {

absl::Status run_sessions(const GlobalOptions& options) {
  auto sessions = Client(options.controller, std::chrono::seconds(10)).sessions();
  if (!sessions.ok()) return sessions.status();
  if (options.json) {
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
  command->callback([&options, &action] {
    action = [&options] { return run_sessions(options); };
  });
}

}  // namespace tg::tgctl
