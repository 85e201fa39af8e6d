// tgctl comms: the communicators the controller made, their state and newest operation.
// tgctl comms trace ID: every rank's flight records and which rank holds the others up.
#include <iostream>

#include "client/client.h"
#include "client/tgctl/command.h"
#include "client/tgctl/comms_view.h"

namespace tg::tgctl {
namespace {

absl::Status run_comms(const GlobalOptions& options) {
  auto comms = Client(options.controller, std::chrono::seconds(10)).communicators();
  if (!comms.ok()) return comms.status();
  if (options.json) {
    std::cout << comms_json(*comms).dump(2) << "\n";
  } else {
    comms_table(*comms).print(std::cout);
  }
  return absl::OkStatus();
}

absl::Status run_trace(const GlobalOptions& options, const std::string& comm_id) {
  auto trace = Client(options.controller, std::chrono::seconds(10)).trace_communicator(comm_id);
  if (!trace.ok()) {
    return absl::Status(trace.status().code(), "comms trace " + comm_id + ": " + std::string(trace.status().message()));
  }
  if (options.json) {
    std::cout << trace_json(*trace).dump(2) << "\n";
  } else {
    print_trace(*trace, std::cout);
  }
  return absl::OkStatus();
}

}  // namespace

void add_comms_command(CLI::App& app, const GlobalOptions& options, Action& action) {
  CLI::App* comms = app.add_subcommand("comms", "List communicators: ranks, devices, state, last operation");
  comms->callback([&options, &action] {
    if (action) return;  // `comms trace` set its own.
    action = [&options] { return run_comms(options); };
  });
  CLI::App* trace = comms->add_subcommand(
      "trace", "A communicator's flight records: which rank is behind, on which link");
  auto comm_id = std::make_shared<std::string>();
  trace->add_option("ID", *comm_id, "Communicator id, as tgctl comms shows it")->required();
  trace->callback([&options, &action, comm_id] {
    action = [&options, comm_id] { return run_trace(options, *comm_id); };
  });
}

}  // namespace tg::tgctl
