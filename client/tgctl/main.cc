// tgctl: the command line for a tgrack pool. Command groups register themselves from their
// own files (command.h); add a group with one add_*_command line below. Global options are
// added here and, through CLI11's fallthrough, work before or after the subcommand.
// Exit status: 0 done, 1 the command failed, 2 the command line makes no sense.
#include <cstdio>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "client/tgctl/command.h"
#include "net/bearer_token.h"
#include "net/flag_checks.h"
#include "net/transport_security.h"

int main(int argc, char** argv) {
  using namespace tg::tgctl;
  // Logs (the --insecure warning among them) go to stderr: stdout holds the command's output,
  // one JSON document with --json.
  spdlog::set_default_logger(spdlog::stderr_color_mt("tgctl"));
  GlobalOptions options;
  Action action;
  CLI::App app{"tgctl: inspect and use a tgrack pool"};
  tg::flags::add_version(app, "tgctl", TGRACK_VERSION);
  app.fallthrough();  // Subcommands (added below) pass global options up to this app.
  app.add_option("--controller", options.controller, "tgcontroller HOST:PORT")
      ->envname("TGRACK_CONTROLLER")
      ->capture_default_str()
      ->check(tg::flags::host_port(tg::flags::kConnect));
  app.add_flag("--json", options.json, "Print one JSON document (docs/cli-json.md)");
  tg::net::TlsFiles tls;
  tg::net::add_tls_flags(app, tls);
  std::string token, token_file;
  app.add_option("--token", token, "Bearer token to show the controller (env TGRACK_TOKEN)");
  app.add_option("--token-file", token_file,
                 "File holding the bearer token (env TGRACK_TOKEN_FILE)");
  app.require_subcommand(1);

  add_nodes_command(app, options, action);
  add_devices_command(app, options, action);
  add_pool_command(app, options, action);
  add_bench_command(app, options, action);
  add_topology_command(app, options, action);
  add_ops_commands(app, options, action);
  add_top_command(app, options, action);
  add_jobs_commands(app, options, action);
  add_sessions_command(app, options, action);
  add_certs_command(app, options, action);
  add_tenants_command(app, options, action);
  add_audit_command(app, options, action);
  add_usage_command(app, options, action);
  add_comms_command(app, options, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version.
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::vector<std::string> extra = app.remaining();
    if (!extra.empty() && extra.front().rfind('-', 0) != 0) {
      std::fprintf(stderr, "tgctl: unknown command '%s' (see tgctl --help)\n", extra.front().c_str());
    } else {
      std::fprintf(stderr, "tgctl: %s (see tgctl --help)\n", e.what());
    }
    return tg::flags::kExitUsage;
  }
  // The controller is verified against --tls-ca (or TGRACK_TLS_CA) and this process shows the
  // client certificate given, unless --insecure (or TGRACK_INSECURE=1) asks for plain text.
  auto security = tg::net::load_transport_security(tg::net::with_environment(tls));
  if (!security.ok()) {
    std::fprintf(stderr, "tgctl: %s\n", std::string(security.status().message()).c_str());
    return 2;
  }
  tg::net::set_transport_security(std::move(*security));
  if (!token.empty()) {
    tg::net::set_bearer_token(token);
  } else if (!token_file.empty()) {
    auto read = tg::net::read_token_file(token_file);
    if (!read.ok()) {
      std::fprintf(stderr, "tgctl: --token-file: %s\n", std::string(read.status().message()).c_str());
      return tg::flags::kExitUsage;
    }
    tg::net::set_bearer_token(*read);
  }
  absl::Status status = action ? action() : absl::InvalidArgumentError("no command given");
  if (!status.ok()) {
    std::fprintf(stderr, "tgctl: %s (%s, controller %s)\n", std::string(status.message()).c_str(),
                 absl::StatusCodeToString(status.code()).c_str(), options.controller.c_str());
    return tg::flags::kExitFailed;
  }
  return tg::flags::kExitOk;
}
