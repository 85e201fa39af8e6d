// ControllerServer: a whole tgcontroller — membership, the plan runner, sessions, the grant
// key, the state store (tenants, tokens, audit log, ledger, job history) and the gRPC server —
// wired together apart from main, so tests can run a controller in-process. With a state
// directory the grant key is STATE_DIR/grant-key.pem and the store STATE_DIR/state.db (both
// made on first start), so grants, tenants and the ledger outlive a restart; without one the
// key is made afresh and the store lives in memory.
//
// Admin bootstrap: when the store holds no admin token, the controller makes tenant "admin"
// with one and writes it (mode 0600) to the bootstrap token file: --bootstrap-admin-token-file,
// else STATE_DIR/admin-token; with neither it logs the token once.
//
// start() binds the listen address (port 0 = ephemeral), writes the bound address to the
// port file when one is given and serves until stop() or destruction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include "controller/audit_log.h"
#include "controller/controller_metrics.h"
#include "controller/ledger.h"
#include "controller/state_store.h"
#include "controller/tenants.h"
#include "collectives/coordinator.h"
#include "controller/controller_service.h"
#include "controller/job_registry.h"
#include "controller/membership.h"
#include "controller/node_stubs.h"
#include "controller/plan_runner.h"
#include "controller/sessions.h"
#include "net/grant.h"

namespace tg {

struct ControllerConfig {
  std::string listen_address = "127.0.0.1:7070";
  // Host written to --port-file and logs for the bound ports; "" = the --listen host, or for
  // a wildcard one the first non-loopback interface address (net/advertised_address.h).
  std::string advertise;
  std::string port_file;                                  // "" = none.
  std::chrono::milliseconds down_after{3000};             // Silence before a node is DOWN.
  // A node DOWN this long leaves the default node listing (ListNodes without `all`).
  std::chrono::milliseconds forget_down_after{std::chrono::hours(1)};
  std::chrono::milliseconds heartbeat_interval{1000};     // Told to daemons.
  std::chrono::milliseconds job_timeout{60000};           // Deadline of one run on a daemon.
  std::chrono::milliseconds grant_lifetime{600000};       // Of the grants Place hands out.
  std::string state_dir;                // Holds the grant key and state.db; "" = none.
  std::string bootstrap_admin_token_file;  // Where a first admin token goes; "" = see above.
  std::string metrics_address;      // Prometheus /metrics HOST:PORT (port 0 = any); "" = none.
  std::string metrics_port_file;    // Where the bound metrics HOST:PORT goes; "" = none.
};

class ControllerServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControllerServer>> start(const ControllerConfig& config);
  ~ControllerServer();
  ControllerServer(const ControllerServer&) = delete;
  ControllerServer& operator=(const ControllerServer&) = delete;

  // The bound host:port.
  const std::string& address() const { return address_; }
  // The ControllerService handlers, for callers in the same process.
  ControllerServiceImpl& service() { return service_; }
  void stop();

 private:
  ControllerServer(const ControllerConfig& config, GrantSigner signer,
                   std::unique_ptr<StateStore> store, std::unique_ptr<Tenants> tenants);
  // Records a finished job in the ledger (logged when the store fails).
  void record_finished(const tgrack::v1::JobInfo& job, const std::string& reported_by);
  // Refreshes the nodes/devices-by-state gauges every second until stop().
  void sample_loop();

  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Tenants> tenants_;
  AuditLog audit_;
  Ledger ledger_;
  ControllerMetrics metrics_;
  Membership membership_;
  NodeStubs stubs_;
  JobRegistry registry_;
  coll::CollectiveCoordinator collectives_;
  const GrantSigner signer_;
  PlanRunner plans_;
  Sessions sessions_;
  ControllerServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::mutex sample_mutex_;
  std::condition_variable sample_wake_;
  bool stopping_ = false;
  std::thread sampler_;
};

}  // namespace tg
