// tgd: the per-host daemon. Parses flags, builds a Daemon, serves until SIGINT or SIGTERM.
#include <algorithm>
#include <csignal>
#include <cstdio>

#include <tuple>

#include <CLI/CLI.hpp>
#include <absl/time/time.h>
#include <spdlog/spdlog.h>

#include "daemon/daemon.h"
#include "daemon/daemon_addresses.h"
#include "devices/units.h"
#include "net/flag_checks.h"
#include "net/component_flags.h"
#include "net/rpc.h"

int main(int argc, char** argv) {
  tg::DaemonConfig config;
  std::string device_memory = "512M";
  CLI::App app{"tgd: owns this host's devices and runs work on them for tgcontroller"};
  tg::flags::add_version(app, "tgd", TGRACK_VERSION);
  app.add_option("--controller", config.controller_address, "tgcontroller HOST:PORT")
      ->required()
      ->check(tg::flags::host_port(tg::flags::kConnect));
  app.add_option("--listen", config.listen_address, "NodeService HOST:PORT (port 0 = any)")
      ->capture_default_str()
      ->check(tg::flags::host_port(tg::flags::kServe));
  app.add_option("--cpu-devices", config.cpu_devices, "Number of virtual cpu devices")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device-memory", device_memory,
                 "Memory budget per cpu device (e.g. 512M, 2G; at least 1M)")
      ->capture_default_str()
      ->check(tg::flags::byte_size(uint64_t{1} << 20));
  app.add_option("--worker-threads", config.worker_threads, "Worker threads per cpu device")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--state-dir", config.state_dir, "Directory for device locks")->required();
  app.add_option("--name", config.name, "Node name in the pool (default: the host name)");
  app.add_option("--port-file", config.port_file, "Write the bound HOST:PORT to this file");
  app.add_option("--advertise", config.advertise,
                 "Host (name or address) other hosts dial for this daemon's ports (default: the "
                 "--listen host; for 0.0.0.0 the local address routed toward the controller)");
  app.add_option("--data-listen", config.data_listen,
                 "Collectives data plane HOST:PORT (port 0 = any; default: the --listen host, "
                 "any port)")
      ->check(tg::flags::host_port(tg::flags::kServe));
  app.add_option("--max-data-connections", config.max_data_connections,
                 "Connections the data plane holds at once while they handshake or wait for "
                 "their rank; more are closed at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--data-tls", config.data_tls,
               "Encrypt the collectives' data connections this daemon makes or accepts (TLS 1.3 "
               "keyed by the communicator's secret)");
  app.add_option("--rack", config.rack,
                 "Rack this host stands in: hosts of one rack share a switch, racks are joined "
                 "by slower uplinks (placement and collectives use it)");
  app.add_option("--metrics", config.metrics_address,
                 "Serve Prometheus /metrics on HOST:PORT (port 0 = any)")
      ->check(tg::flags::host_port(tg::flags::kServe));
  app.add_option("--metrics-port-file", config.metrics_port_file,
                 "Write the bound metrics HOST:PORT to this file");
  app.add_option("--hive", config.hive_id, "Hive id of every cpu device (reset together)");
  std::string probe_timeout = "10s", probe_interval = "60s";
  app.add_option("--health-probe", config.health_probe,
                 "Shell command checking the devices; failure marks them Unhealthy");
  app.add_option("--health-probe-timeout", probe_timeout, "Kill the probe after this long")
      ->capture_default_str();
  app.add_option("--health-probe-interval", probe_interval, "Run the probe this often")
      ->capture_default_str();
  std::string stall_after = "2s", dead_after = "10s", keepalive_interval = "500ms";
  app.add_option("--collective-stall-after", stall_after,
                 "Report a collective rank that waits this long for one peer (log, trace, metric)")
      ->capture_default_str();
  auto* keepalive_flag =
      app.add_option("--collective-keepalive-interval", keepalive_interval,
                     "While a collective rank waits, tell its peers this often that it is alive and "
                     "which operation it is in (default: 500ms, or a quarter of "
                     "--collective-stall-after when that is shorter)")
          ->capture_default_str();
  app.add_option("--collective-dead-after", dead_after,
                 "Fail a collective operation that takes this long, blaming the peer it waits for "
                 "(communicators made with their own timeout use that)")
      ->capture_default_str();
  app.add_option("--backend", config.backend,
                 "Devices: hip (AMD GPUs), cpu (virtual), auto (hip when a GPU is present)")
      ->capture_default_str()
      ->check(CLI::IsMember({"hip", "cpu", "auto"}));
  app.add_option("--lock-dir", config.lock_dir, "Directory for device locks (default STATE_DIR/locks)");
  app.add_option("--hip-plugin", config.hip_plugin,
                 "HIP backend plugin (default: $TGRACK_HIP_PLUGIN, else libtgrack-hip.so where "
                 "tgrack installs it)");
  app.add_option("--kfd-root", config.kfd_root, "KFD topology sysfs root (hip)")
      ->capture_default_str();
  app.add_option("--topology", config.topology_file,
                 "cpu devices' link matrix and hives (JSON); default: host-staged between all");
  app.add_option("--test-hold-dir", config.test_hold_dir,
                 "Tests only, refused unless TGRACK_TEST_HOOKS=1: kernels of nodes named "
                 "test_hold* wait for a release file in this directory (daemon/test_hold.h)");
  tg::net::ComponentFlags transport;
  transport.add(app);
  if (auto exit_status = tg::flags::parse(app, argc, argv)) return *exit_status;

  for (auto [text, target, flag] :
       {std::tuple{&probe_timeout, &config.health_probe_timeout, "--health-probe-timeout"},
        std::tuple{&probe_interval, &config.health_probe_interval, "--health-probe-interval"},
        std::tuple{&stall_after, &config.collective_stall_after, "--collective-stall-after"},
        std::tuple{&dead_after, &config.collective_dead_after, "--collective-dead-after"},
        std::tuple{&keepalive_interval, &config.collective_keepalive_interval,
                   "--collective-keepalive-interval"}}) {
    absl::Duration duration;
    if (!absl::ParseDuration(*text, &duration) || duration <= absl::ZeroDuration()) {
      std::fprintf(stderr, "tgd: %s: '%s' is not a positive duration (e.g. 500ms, 10s)\n", flag,
                   text->c_str());
      return 2;
    }
    *target = absl::ToChronoMilliseconds(duration);
  }

  if (config.collective_stall_after >= config.collective_dead_after) {
    std::fprintf(stderr, "tgd: --collective-stall-after (%s) must be shorter than --collective-dead-after (%s)\n",
                 stall_after.c_str(), dead_after.c_str());
    return 2;
  }
  if (keepalive_flag->count() == 0) {
    // A peer is judged silent after stall-after without a keep-alive: leave room for several.
    config.collective_keepalive_interval =
        std::clamp(config.collective_stall_after / 4, std::chrono::milliseconds(1),
                   config.collective_keepalive_interval);
  } else if (config.collective_keepalive_interval >= config.collective_stall_after) {
    std::fprintf(stderr,
                 "tgd: --collective-keepalive-interval (%s) must be shorter than --collective-stall-after (%s)\n",
                 keepalive_interval.c_str(), stall_after.c_str());
    return 2;
  }

  auto bytes = tg::parse_bytes(device_memory);
  if (!bytes.ok()) {
    std::fprintf(stderr, "tgd: --device-memory: %s\n", std::string(bytes.status().message()).c_str());
    return 2;
  }
  config.device_memory = *bytes;
  if (auto addresses = tg::daemon_addresses(config); !addresses.ok()) {
    std::fprintf(stderr, "tgd: %s\n", std::string(addresses.status().message()).c_str());
    return 2;
  }

  if (absl::Status status = transport.apply(); !status.ok()) {
    std::fprintf(stderr, "tgd: %s\n", std::string(status.message()).c_str());
    return tg::flags::kExitUsage;
  }

  // Block the stop signals in every thread; main waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto daemon = tg::Daemon::create(config);
  if (!daemon.ok()) {
    spdlog::error("{}", std::string(daemon.status().message()));
    return 1;
  }
  if (absl::Status status = (*daemon)->start(); !status.ok()) {
    spdlog::error("{}", std::string(status.message()));
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("signal {}: stopping", signal);
  (*daemon)->stop();
  return 0;
}
