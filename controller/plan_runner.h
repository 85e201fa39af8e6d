// PlanRunner: plans graphs (planner.h) and runs each daemon's fragments there. Every graph
// takes this one path: a graph on one device is a plan of one fragment.
//
// place(): admits and places a graph (or captures it, or renews a captured plan's grants)
// without running it: each daemon's fragments, its address and a grant signed for it
// (net/grant.h), so the client runs the fragments on the daemons itself (docs/rpc.md).
//
// submit():
//   - validates the graph and feeds, resolves remote tensors fed to INPUTs (the session's
//     own, NOT_FOUND / PERMISSION_DENIED otherwise), plans, and runs: every involved daemon
//     gets RunFragments at once; the first failure cancels the job on the other daemons,
//     and the error names the job, the node and the devices of the root cause: a daemon
//     that died rather than the survivors that lost it as a peer (job_failure.h).
//   - capture: keeps the plan and installs its fragments on the daemons once; replays send
//     only the bindings. Capturing a graph captured before returns the same plan id when
//     planning gives the same placement again, and is refused (FAILED_PRECONDITION naming
//     both placements) when it does not: a cached plan never silently differs.
//   - replay (plan_id): every input is checked against the captured signature — fed once,
//     dtype, shape, layout (devices, sharding), and no two inputs fed the same remote
//     tensor — and a mismatch is INVALID_ARGUMENT naming the input and the difference.
//   - keep: outputs stay on the devices that computed them, as remote tensors of the
//     session; other outputs come back by value (shards joined along their axis).
// Collectives run on communicators cached per device list; a job holds its communicators
// exclusively while it runs. A failed job's communicators are torn down and made afresh
// for the next run. Work is done for a Caller: its grants, jobs and captured plans carry the
// caller's tenant (and grants its token id), and a plan of another tenant answers as an
// unknown one, and the devices a plan runs on count against the caller's devices quota
// before anything is sent to a daemon. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "collectives/coordinator.h"
#include "controller/controller_metrics.h"
#include "controller/grant_issuer.h"
#include "controller/job_registry.h"
#include "controller/membership.h"
#include "controller/node_stubs.h"
#include "controller/planner.h"
#include "controller/sessions.h"
#include "controller/tenants.h"
#include "net/grant.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

class PlanRunner {
 public:
  // Every argument must outlive the runner.
  // Grants it hands out last `grant_lifetime`; those for its own runs, the run's timeout.
  PlanRunner(const Membership& membership, coll::CollectiveCoordinator& coordinator,
             NodeStubs& stubs, JobRegistry& jobs, std::chrono::milliseconds run_timeout,
             const GrantSigner& signer, std::chrono::milliseconds grant_lifetime);

  // Sessions own kept tensors and captured plans; set before the first submit().
  void set_sessions(Sessions* sessions) { sessions_ = sessions; }
  void set_metrics(ControllerMetrics* metrics) { metrics_ = metrics; }
  // Tenants' devices quotas are checked once a graph is planned, before anything is sent to
  // a daemon (device_quota.h); set before the first submit() or place().
  void set_tenants(const Tenants* tenants) { tenants_ = tenants; }

  // The daemons' runs are bounded by `caller_timeout` (what is left of the caller's deadline)
  // as well as by the runner's own timeout; they stop themselves when it passes.
  absl::StatusOr<tgrack::v1::SubmitReply> submit(
      const tgrack::v1::SubmitRequest& request,
      std::chrono::milliseconds caller_timeout = std::chrono::milliseconds::max(),
      const Caller& caller = {});
  absl::StatusOr<tgrack::v1::PlaceReply> place(const tgrack::v1::PlaceRequest& request,
                                               const Caller& caller = {});
  // Forgets captured plans here and on their daemons; NOT_FOUND for an unknown id (or one
  // outside the tenant `scope`, "" = every tenant).
  absl::Status drop(const std::string& plan_id, const std::string& scope = "");
  void drop_all(const std::vector<std::string>& plan_ids);
  // Frees remote tensor pieces on their daemons (best effort, logged).
  void free_pieces(const std::vector<tgrack::v1::TensorPiece>& pieces);
  // The grants it signs, for other parts of the controller that hand grants out.
  GrantIssuer& grants() { return grants_; }

 private:
  struct Captured;
  struct Comm {
    std::string id;
    std::vector<tgrack::v1::DeviceRef> devices;
    std::shared_ptr<std::mutex> in_use;
  };

  // What planning and capturing read of a Submit or Place request (referenced, not copied).
  struct Ask {
    const tgrack::v1::Graph& graph;
    const tgrack::v1::Placement& placement;
    bool deterministic;
    const std::string& session;
    const Caller& caller;
  };

  absl::StatusOr<Plan> make_plan(const Ask& ask, const std::map<std::string, Layout>& fed_layouts);
  // The caller's devices quota against the devices `plan` runs on.
  absl::Status check_devices(const Plan& plan, const Caller& caller) const;
  // The captured plan `plan_id` when it is in the tenant `scope`; nullptr otherwise.
  std::shared_ptr<Captured> captured(const std::string& plan_id, const std::string& scope);
  // Rebinds a captured plan whose communicators were torn down; caller holds its rebinding.
  absl::Status refresh_communicators(Captured& captured);
  // What the planner names the communicator over `devices` until bind_communicators().
  static std::string comm_placeholder(const std::vector<tgrack::v1::DeviceRef>& devices);
  // Replaces the planner's communicator placeholders with live communicators.
  absl::Status bind_communicators(Plan& plan);
  // `fed_layouts`: the layouts of the INPUTs fed from remote tensors, part of what makes two
  // captures "the same graph".
  absl::StatusOr<std::shared_ptr<Captured>> capture(const Ask& ask,
                                                    const std::map<std::string, Layout>& fed_layouts,
                                                    Plan plan);
  absl::Status install(const std::string& plan_id, const Plan& plan, const std::string& tenant);
  absl::StatusOr<tgrack::v1::SubmitReply> execute(const tgrack::v1::SubmitRequest& request,
                                                  const Plan& plan, const std::string& plan_id,
                                                  const std::map<std::string,
                                                                 tgrack::v1::RemoteTensor>& fed,
                                                  std::chrono::milliseconds caller_timeout,
                                                  QueuedJob& queued, const Caller& caller);
  void forget_communicators(const Plan& plan);
  std::string address_of(const std::string& node) const;
  // Whether `node`'s daemon is gone: DOWN in membership, or not answering at `address`.
  bool lost(const std::string& node, const std::string& address);

  const Membership& membership_;
  coll::CollectiveCoordinator& coordinator_;
  NodeStubs& stubs_;
  JobRegistry& jobs_;
  const std::chrono::milliseconds run_timeout_;
  GrantIssuer grants_;
  Sessions* sessions_ = nullptr;
  ControllerMetrics* metrics_ = nullptr;
  const Tenants* tenants_ = nullptr;

  std::mutex mu_;
  std::map<std::string, Comm> comms_;                          // By device list.
  std::map<std::string, std::shared_ptr<Captured>> plans_;     // By plan id.
  std::map<std::string, std::string> plan_by_fingerprint_;
  uint64_t next_plan_ = 1;
};

}  // namespace tg
