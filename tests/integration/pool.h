// Pool: a controller and daemons as real processes on loopback, for integration tests.
// Ports are ephemeral and read from port files; everything is killed and reaped when the
// Pool is destroyed. Heartbeats are fast (kHeartbeat), and a node is DOWN after kDownAfter
// of silence: ten heartbeats, so a daemon slowed by a loaded machine never looks DOWN, while
// tests of failure detection still finish in seconds (they wait on the state, never on time).
// Processes speak mutual TLS with the binary's test certificates (test_security.h), and so
// does the test process itself (its make_channel and Client) and what it starts; a Pool with
// `insecure` set before it starts runs everything in plain text instead. The test process
// and what it starts call the controller with the admin token the controller made on its
// first start (STATE_DIR/admin-token); tests of tenants make their own Clients with tenant
// tokens.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "client/client.h"
#include "process.h"

namespace tg::testing {

inline constexpr std::chrono::milliseconds kHeartbeat = 200ms;
inline constexpr std::chrono::milliseconds kDownAfter = 2000ms;
inline constexpr int kDevicesPerDaemon = 2;
inline constexpr uint64_t kDeviceMemory = 64 << 20;  // --device-memory 64M

class Pool {
 public:
  Pool() = default;
  ~Pool();  // Kills daemons, then the controller.

  // Starts the controller on `listen` (default: an ephemeral loopback port), killing the one
  // running; its state directory (grant key) is state_dir("controller") whatever its start.
  absl::Status start_controller(const std::string& listen = "127.0.0.1:0");
  // Starts daemon `name` with its own state directory (state/<name>).
  absl::Status start_daemon(const std::string& name);
  // Starts the controller and daemons node-a and node-b, and waits until both are UP.
  absl::Status start_default();

  // True when the controller lists node `name` in `state`.
  bool node_is(const std::string& name, tgrack::v1::NodeState state);
  bool wait_for_node(const std::string& name, tgrack::v1::NodeState state,
                     std::chrono::milliseconds timeout = 30s);

  // Daemon `name`, when started after this, holds every kernel of a node named "test_hold..."
  // until the test releases it (daemon/test_hold.h): work that stays running until then.
  void hold_kernels_on(const std::string& name);
  // Waits until a kernel of node `key` (its name without planner suffixes) is held on `name`.
  bool wait_held(const std::string& name, const std::string& key,
                 std::chrono::milliseconds timeout = 30s);
  // Lets held kernels of node `key` on daemon `name` run, now and from now on.
  void release(const std::string& name, const std::string& key);
  // Waits until a held kernel of node `key` on `name` was stopped by its run's cancellation.
  bool wait_stopped(const std::string& name, const std::string& key,
                    std::chrono::milliseconds timeout);

  // Starts a daemon process without waiting for it (for tests that expect it to fail).
  std::unique_ptr<Process> spawn_daemon(const std::string& name, const std::string& state_dir);

  Process& controller() { return *controller_; }
  Process& daemon(const std::string& name) { return *daemons_.at(name); }
  void kill_daemon(const std::string& name) { daemons_.at(name)->kill(9); }
  const std::string& controller_address() const { return controller_address_; }
  std::string daemon_address(const std::string& name) const { return daemon_addresses_.at(name); }
  std::string state_dir(const std::string& name) const { return dir_.file("state-" + name); }
  // The admin token the controller made on its first start, which this process shows.
  const std::string& admin_token() const { return admin_token_; }
  std::string admin_token_file() const { return state_dir("controller") + "/admin-token"; }
  // The controller's grant signing key (PEM), for tests that sign grants themselves.
  std::string grant_key_file() const { return state_dir("controller") + "/grant-key.pem"; }
  Client& client() { return *client_; }

  // Extra flags for processes started after they are set.
  std::vector<std::string> controller_args;
  std::map<std::string, std::vector<std::string>> daemon_args;  // By node name.
  // Plain text (--insecure) for processes started after it is set, and this process.
  bool insecure = false;
  // TLS flags of a node in place of its own certificate's (e.g. another node's), by node name.
  std::map<std::string, std::vector<std::string>> daemon_tls_args;
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> controller_;
  std::string controller_address_;
  std::string admin_token_;
  std::map<std::string, std::unique_ptr<Process>> daemons_;
  std::map<std::string, std::string> daemon_addresses_;
  std::map<std::string, std::string> hold_dirs_;  // By node name, for hold_kernels_on.
  std::unique_ptr<Client> client_;
  int spawned_ = 0;
};

}  // namespace tg::testing
