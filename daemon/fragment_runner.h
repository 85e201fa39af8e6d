// FragmentRunner: the daemon side of graphs across the pool. Runs this daemon's fragments
// of one run (NodeService.RunFragments) concurrently, one thread per fragment (a fragment is
// one device; a communicator rank is driven by one thread; a run of one fragment uses the
// caller's thread), each through the executor core
// (devices/graph/executor.h) in the listed order, with:
//   - feeds by value, INPUT nodes bound to stored tensors (TensorStore) on that device, and
//     outputs kept in the store under ids owned by the request's session (only once every
//     fragment of the run succeeded; otherwise they are freed);
//   - SEND to a device of this daemon through the local TransferMailbox, to another daemon
//     with NodeService.PushTensor on transfer.peer_address; RECV from the mailbox, bounded by
//     the run's timeout;
//   - ALL_REDUCE / ALL_GATHER on this device's rank of the communicator (CollectiveRuntime);
//   - usage per fragment: the executor's FLOPs and peak memory, the time it held its device,
//     and the bytes its SENDs and its rank's collective links sent; summed over fragments.
// When one fragment fails the others of the run are cancelled: mailbox waits wake and a
// communicator in use is aborted, so remote peers fail fast too. CancelJob does the same
// with CANCELLED and the reason, and so does the caller giving up or its deadline passing.
// Errors read "job J, device node/i: node 'x': cause".
//
// Installed plans (InstallPlan) are kept by id until dropped. Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/job_cancels.h"
#include "daemon/tensor_store.h"
#include "daemon/transfer_mailbox.h"
#include "devices/device.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {
class CallWatch;
namespace coll {
class CollectiveRuntime;
}

struct FragmentRunnerDeps {
  std::string node_name;
  // Enters local device `index` for a run of `job_id` of `tenant`: the device to run on,
  // entered for as long as the pointer lives (so a reset waits for it). NOT_FOUND for an
  // index the node lacks, UNAVAILABLE while the device is being reset.
  std::function<absl::StatusOr<std::shared_ptr<Device>>(uint32_t index, const std::string& job_id,
                                                        const std::string& tenant)>
      enter_device;
  size_t device_count = 0;  // Local devices, by index from 0.
  TensorStore* store = nullptr;
  TransferMailbox* mailbox = nullptr;
  JobCancels* cancels = nullptr;
  CallWatch* call_watch = nullptr;
  coll::CollectiveRuntime* collectives = nullptr;
  // Called once per fragment run with its wall time and result (metrics); may be empty.
  std::function<void(double seconds, absl::StatusCode code)> fragment_done;
  // Called once per SEND to device `peer` ("node/index") over a link of `kind` ("tcp" to
  // another daemon, "host_staged" within this one), with its bytes, wall time and result
  // (metrics); may be empty.
  std::function<void(const std::string& peer, const std::string& kind, uint64_t bytes,
                     double seconds, absl::StatusCode code)>
      transfer_done;
};

class FragmentRunner {
 public:
  explicit FragmentRunner(FragmentRunnerDeps deps);
  FragmentRunner(const FragmentRunner&) = delete;
  FragmentRunner& operator=(const FragmentRunner&) = delete;

  // Validates every fragment (internal ops allowed, listed order topological, one fragment
  // per device, devices this node has) and keeps them under plan_id. Installing the same
  // fragments again is OK; different ones under a known id are ALREADY_EXISTS.
  absl::Status install(const tgrack::v1::InstallPlanRequest& request);
  // NOT_FOUND naming the plan when it is not installed.
  absl::Status drop(const std::string& plan_id);

  // Runs the request's fragments (or its installed plan's) and returns the outputs not
  // kept. NOT_FOUND for an unknown plan; INVALID_ARGUMENT for bindings that name no
  // fragment, stored tensors on another device, or bad feeds; the first fragment's
  // failure otherwise (siblings it cancelled are not reported). When `caller` (the gRPC
  // call, when there is one) is cancelled or its deadline passes, the run stops as on
  // CancelJob, with CANCELLED or DEADLINE_EXCEEDED. The run is `tenant`'s (its grant's):
  // another tenant's plan or stored tensors answer NOT_FOUND as unknown ones, and kept
  // outputs are the tenant's. "" = any tenant (runs not made under a tenant's grant).
  // The reply's usage sums what the fragments used (tgrack.v1.JobUsage); `usage`, when
  // given, receives the same also when the run fails.
  absl::StatusOr<tgrack::v1::RunFragmentsReply> run(
      const tgrack::v1::RunFragmentsRequest& request,
      const grpc::ServerContextBase* caller = nullptr, const std::string& tenant = "",
      tgrack::v1::JobUsage* usage = nullptr);

  // PushTensor: leaves a SEND's value for the RECV on this node. INVALID_ARGUMENT when `to`
  // names another node or a device this node lacks, or the tensor is malformed.
  absl::Status deliver(const tgrack::v1::PushTensorRequest& request);

 private:
  class Hooks;
  using Plan = std::vector<tgrack::v1::Fragment>;
  using Fragments = std::vector<const tgrack::v1::Fragment*>;  // Of a Plan or a request.

  absl::Status check_fragments(const Fragments& fragments) const;
  tgrack::v1::NodeService::Stub& stub(const std::string& address);

  const FragmentRunnerDeps deps_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Plan>> plans_;                     // Guarded by mu_.
  std::map<std::string, std::string> plan_tenants_;  // Plan id -> its tenant. Guarded by mu_.
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;  // Guarded by mu_.
};

}  // namespace tg
