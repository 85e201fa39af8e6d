// The pool the bad-input catalogue (bad_input_test.cc) runs against: a controller and two
// daemons as real processes, with metrics served, and what a hostile peer reaches of them —
// gRPC stubs, metrics ports and the daemons' data ports — plus the checks
// every case ends with: every process alive and the pool still computing right.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "net/grant.h"
#include "pool.h"
#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {

// Who receives a hostile input: the controller, node-a, or node-b (whose data port node-a's
// ranks dial when a communicator spans both).
enum class Target { kController, kDaemon, kPeerDaemon };

class HostilePool {
 public:
  // Controller and daemons node-a and node-b, UP, with metrics on ephemeral ports.
  absl::Status start();

  tgrack::v1::ControllerService::Stub& controller() { return *controller_; }
  // The controller as the holder of `token` ("" = no token); the admin's is controller().
  std::unique_ptr<tgrack::v1::ControllerService::Stub> controller_as(const std::string& token) const;
  // node-a's NodeService.
  tgrack::v1::NodeService::Stub& daemon() { return *daemon_; }
  // The controller as node-a's daemon calls it (Register, Heartbeat).
  tgrack::v1::ControllerService::Stub& controller_as_node() { return *controller_as_node_; }
  int metrics_port(Target target) const;
  int data_port(Target target) const;  // A daemon's collectives data plane.
  // A grant for `devices` of `node` (and plan `plan_id`) lasting `lifetime` (negative: one
  // that has expired), signed with the controller's key.
  tgrack::v1::SignedGrant grant(const std::vector<uint32_t>& devices,
                                const std::string& plan_id = "",
                                std::chrono::seconds lifetime = std::chrono::minutes(5),
                                const std::string& node = "node-a") const;
  pid_t pid(Target target);

  // OK when every process runs; else names the dead ones with their last log lines.
  absl::Status all_alive();
  // A graph sharded over all four devices gives the right sum, and an all-reduce over a new
  // communicator of all four devices checks out; the first failure otherwise.
  absl::Status still_computes();
  // GET /metrics works on the controller and on node-a.
  absl::Status still_scrapes();

  // all_alive(), then still_computes(), then still_scrapes().
  absl::Status unharmed();

  // A communicator over the pool's four devices.
  absl::StatusOr<std::string> create_communicator();

 private:
  absl::Status start_processes();

  Pool pool_;
  absl::Status started_ = absl::FailedPreconditionError("the pool was not started");
  std::unique_ptr<tgrack::v1::ControllerService::Stub> controller_;
  std::unique_ptr<tgrack::v1::NodeService::Stub> daemon_;
  std::unique_ptr<tgrack::v1::ControllerService::Stub> controller_as_node_;
  int controller_metrics_ = 0, daemon_metrics_ = 0;
  int data_port_ = 0, peer_data_port_ = 0;
};

// The pool the cases of one test program share: started on first use, and again whenever it
// is no longer unharmed (a process died, or it computes or scrapes no more).
HostilePool& shared_hostile_pool();

// Peak resident memory of process `pid` in bytes (VmHWM), 0 when it cannot be read, and
// setting it back to the present resident memory so the next peak is measured afresh.
uint64_t peak_resident_bytes(pid_t pid);
void reset_peak_resident_bytes(pid_t pid);
// Open file descriptors of process `pid`.
int open_fds(pid_t pid);

}  // namespace tg::testing
