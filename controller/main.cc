// tgcontroller: membership, the pool and graph submission. Serves until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "controller/controller_server.h"
#include "controller/duration.h"
#include "net/flag_checks.h"
#include "net/component_flags.h"
#include "net/rpc.h"

int main(int argc, char** argv) {
  tg::ControllerConfig config;
  std::string down_after = "3s", heartbeat_interval = "1s", job_timeout = "60s",
              forget_down_after = "60m", grant_lifetime = "10m";
  CLI::App app{"tgcontroller: knows every tgd and its devices, places and runs graphs"};
  tg::flags::add_version(app, "tgcontroller", TGRACK_VERSION);
  app.add_option("--listen", config.listen_address, "HOST:PORT to serve on (port 0 = any)")
      ->capture_default_str()
      ->check(tg::flags::host_port(tg::flags::kServe));
  app.add_option("--advertise", config.advertise,
                 "Host (name or address) shown for the bound ports in --port-file and logs "
                 "(default: the --listen host; for 0.0.0.0 the first non-loopback address)");
  app.add_option("--port-file", config.port_file, "Write the bound HOST:PORT to this file");
  app.add_option("--state-dir", config.state_dir,
                 "Directory for the grant signing key (grant-key.pem) and the state store "
                 "(state.db: tenants, tokens, audit log, ledger, job history), made on first "
                 "start; without one a fresh key is made at every start and state lives in memory");
  app.add_option("--bootstrap-admin-token-file", config.bootstrap_admin_token_file,
                 "Where the admin token made on first start goes (mode 0600); default "
                 "STATE_DIR/admin-token, or the log without --state-dir");
  app.add_option("--grant-lifetime", grant_lifetime,
                 "How long a grant from Place, or a remote tensor's read grant, lets a client "
                 "use daemons directly")
      ->capture_default_str();
  app.add_option("--down-after", down_after, "A node silent this long is DOWN")
      ->capture_default_str();
  app.add_option("--forget-down-after", forget_down_after,
                 "A node DOWN this long leaves the default node listing (tgctl nodes --all "
                 "still shows it)")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", heartbeat_interval, "How often daemons heartbeat")
      ->capture_default_str();
  app.add_option("--job-timeout", job_timeout, "Deadline for one graph on a daemon")
      ->capture_default_str();
  app.add_option("--metrics", config.metrics_address,
                 "Serve Prometheus /metrics on HOST:PORT (port 0 = any)")
      ->check(tg::flags::host_port(tg::flags::kServe));
  app.add_option("--metrics-port-file", config.metrics_port_file,
                 "Write the bound metrics HOST:PORT to this file");
  tg::net::ComponentFlags transport;
  transport.add(app);
  if (auto exit_status = tg::flags::parse(app, argc, argv)) return *exit_status;

  for (auto [text, target, flag] :
       {std::tuple{&down_after, &config.down_after, "--down-after"},
        std::tuple{&heartbeat_interval, &config.heartbeat_interval, "--heartbeat-interval"},
        std::tuple{&job_timeout, &config.job_timeout, "--job-timeout"},
        std::tuple{&forget_down_after, &config.forget_down_after, "--forget-down-after"},
        std::tuple{&grant_lifetime, &config.grant_lifetime, "--grant-lifetime"}}) {
    auto parsed = tg::parse_duration(*text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "tgcontroller: %s: %s\n", flag,
                   std::string(parsed.status().message()).c_str());
      return 2;
    }
    if (parsed->count() <= 0) {
      std::fprintf(stderr, "tgcontroller: %s: '%s' is not a positive duration (e.g. 500ms, 3s)\n",
                   flag, text->c_str());
      return 2;
    }
    *target = *parsed;
  }

  if (absl::Status status = transport.apply(); !status.ok()) {
    std::fprintf(stderr, "tgcontroller: %s\n", std::string(status.message()).c_str());
    return tg::flags::kExitUsage;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = tg::ControllerServer::start(config);
  if (!server.ok()) {
    spdlog::error("{}", std::string(server.status().message()));
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: stopping", signal);
  (*server)->stop();
  return 0;
}
