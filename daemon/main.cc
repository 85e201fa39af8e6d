// tgd: the per-host daemon. Parses flags, builds a Daemon, serves until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "daemon/daemon.h"
#include "devices/units.h"

int main(int argc, char** argv) {
  tg::DaemonConfig config;
  std::string device_memory = "512M";
  CLI::App app{"tgd: owns this host's devices and runs work on them for tgcontroller"};
  app.add_option("--controller", config.controller_address, "tgcontroller HOST:PORT")
      ->required();
  app.add_option("--listen", config.listen_address, "NodeService HOST:PORT (port 0 = any)")
      ->capture_default_str();
  app.add_option("--cpu-devices", config.cpu_devices, "Number of virtual cpu devices")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device-memory", device_memory, "Memory budget per cpu device (e.g. 512M, 2G)")
      ->capture_default_str();
  app.add_option("--worker-threads", config.worker_threads, "Worker threads per cpu device")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--state-dir", config.state_dir, "Directory for device locks")->required();
  app.add_option("--name", config.name, "Node name in the pool (default: the host name)");
  app.add_option("--port-file", config.port_file, "Write the bound HOST:PORT to this file");
  app.add_option("--data-listen", config.data_listen, "Collectives data plane HOST:PORT (port 0 = any)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto bytes = tg::parse_bytes(device_memory);
  if (!bytes.ok()) {
    std::fprintf(stderr, "tgd: --device-memory: %s\n", std::string(bytes.status().message()).c_str());
    return 2;
  }
  config.device_memory = *bytes;

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
