// How tgctl commands plug in. Each command group lives in its own file and exposes one
// add_*_command function, called from tgctl's main (one line per group). The function adds a
// CLI11 subcommand whose callback stores the command's Action; main runs that Action after
// parsing and turns a non-OK Status into one line on stderr and exit code 1.
// Global options (--controller, --json, ...) belong to the top-level app and are accepted
// anywhere on the command line; every command honours --json, printing one JSON document
// that follows docs/cli-json.md.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <absl/status/status.h>

namespace tg::tgctl {

// Options every command sees; filled by the time an Action runs.
struct GlobalOptions {
  std::string controller = "127.0.0.1:7070";  // --controller or TGRACK_CONTROLLER.
  bool json = false;                          // --json: one JSON document on stdout.
};

using Action = std::function<absl::Status()>;

void add_nodes_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_devices_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_pool_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_bench_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_topology_command(CLI::App& app, const GlobalOptions& options, Action& action);
// cordon, uncordon, drain, reset.
void add_ops_commands(CLI::App& app, const GlobalOptions& options, Action& action);
void add_top_command(CLI::App& app, const GlobalOptions& options, Action& action);
// jobs, cancel.
void add_jobs_commands(CLI::App& app, const GlobalOptions& options, Action& action);
void add_sessions_command(CLI::App& app, const GlobalOptions& options, Action& action);
// comms, comms trace: communicators and their flight records.
void add_comms_command(CLI::App& app, const GlobalOptions& options, Action& action);
// certs init: a pool's CA and certificates.
void add_certs_command(CLI::App& app, const GlobalOptions& options, Action& action);
// tenants create, list, quota, rotate, revoke (admin).
void add_tenants_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_audit_command(CLI::App& app, const GlobalOptions& options, Action& action);
void add_usage_command(CLI::App& app, const GlobalOptions& options, Action& action);

}  // namespace tg::tgctl
