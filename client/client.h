// Client: a connection to tgcontroller for programs that use the pool.
//
// Every call is one RPC under the client's deadline and returns the controller's status
// unchanged in code and message (UNAVAILABLE when the controller cannot be reached). Graphs
// run on the daemons directly, under grants the controller signed when it placed them
// (client/submitter.h); fetch() reads remote tensors straight from the daemons holding them
// (client/remote_tensor.h).
// A Client is cheap to copy (copies share the channel and the daemon channels) and
// thread-safe. Each Client constructed (not copied) opens its own connection.
//
// Graphs across the pool: run() submits a graph with feeds by value and/or remote tensors of
// a session (client/session.h) as inputs; outputs named in `keep` stay on the pool as
// RemoteTensors owned by that session. `capture` keeps the plan; replay() runs it again with
// new inputs, and the controller refuses inputs that would change the plan.
//
// A graph run many times without a plan on the controller: place() places it once and
// run(placed, feeds) runs it straight on its daemons under the grants of that placement, one
// daemon call per run and no controller call (placed again when its grants near expiry).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "client/submitter.h"
#include "client/remote_tensor.h"
#include "devices/tensor.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

// What a submitted graph returned.
struct SubmitResult {
  std::vector<HostTensor> outputs;  // In the order of the graph's outputs.
  tgrack::v1::DeviceRef device;     // Where it ran.
  std::string job_id;
};

struct RunOptions {
  tgrack::v1::Placement placement;            // Empty = the controller picks.
  std::string session;                        // Owner of kept tensors; needed for keep/inputs.
  std::map<std::string, std::string> inputs;  // INPUT node -> RemoteTensor id.
  std::vector<std::string> keep;              // Outputs kept on the pool instead of returned.
  bool deterministic = false;                 // Sharded reductions combine in shard order.
  bool capture = false;                       // Keep the plan; RunResult.plan_id names it.

  // Feeds INPUT node `name` from `tensor`; takes its session when none is set.
  RunOptions& input(const std::string& name, const RemoteTensor& tensor);
};

struct RunResult {
  // In the order of the graph's outputs; a kept output is an empty HostTensor (no dtype).
  std::vector<HostTensor> outputs;
  std::vector<RemoteTensor> kept;            // One per RunOptions.keep name, in that order.
  std::string plan_id;                       // Captured or replayed plan; "" otherwise.
  std::string job_id;
  // Every device that ran a part of it (the reply's one device when it lists none).
  std::vector<tgrack::v1::DeviceRef> devices;
};

// A graph placed once (Client::place) for many runs. Cheap to copy (copies share the
// placement) and thread-safe.
class PlacedGraph {
 private:
  friend class Client;
  std::shared_ptr<Submitter::PlacedRuns> runs_;
};

class Client {
 public:
  // Does not contact the controller; the first call does. Every call carries `token` as its
  // bearer token; nullopt = the process's (--token, TGRACK_TOKEN, net/bearer_token.h).
  explicit Client(const std::string& controller_address,
                  std::chrono::milliseconds deadline = std::chrono::seconds(60),
                  std::optional<std::string> token = std::nullopt);

  const std::string& address() const { return address_; }
  std::chrono::milliseconds deadline() const { return deadline_; }

  // Every node with its devices, sorted by name.
  absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> nodes() const;

  // Runs `graph` with one feed per INPUT node, by name. `placement` empty = anywhere.
  absl::StatusOr<SubmitResult> submit(const tgrack::v1::Graph& graph,
                                      const std::map<std::string, HostTensor>& feeds,
                                      const tgrack::v1::Placement& placement = {}) const;

  // Runs `graph`: INPUT nodes are fed from `feeds` (by value) or options.inputs (remote).
  absl::StatusOr<RunResult> run(const tgrack::v1::Graph& graph,
                                const std::map<std::string, HostTensor>& feeds,
                                const RunOptions& options = {}) const;
  // Runs the captured plan `plan_id` with new inputs (options.capture is ignored).
  absl::StatusOr<RunResult> replay(const std::string& plan_id,
                                   const std::map<std::string, HostTensor>& feeds,
                                   const RunOptions& options = {}) const;

  // Places `graph` once for run(placed, feeds); options.placement and options.session apply.
  // FAILED_PRECONDITION for a graph only the controller runs (options.inputs or keep,
  // deterministic, nodes placed or sharded over several devices): run() it instead.
  absl::StatusOr<PlacedGraph> place(const tgrack::v1::Graph& graph,
                                    const RunOptions& options = {}) const;
  // Runs a placed graph with one feed per INPUT node, straight on its daemons.
  absl::StatusOr<RunResult> run(const PlacedGraph& placed,
                                const std::map<std::string, HostTensor>& feeds) const;

  // Reads a remote tensor whole, from the daemons holding its pieces. When its read grants
  // ran out (tgcontroller --grant-lifetime after they were issued), asks the controller for
  // fresh ones once and reads again; any other error comes back unchanged.
  absl::StatusOr<HostTensor> fetch(const RemoteTensor& tensor) const;
  // `tensor` with fresh read grants, lasting --grant-lifetime from now: for a copy held long.
  // NOT_FOUND when it was freed, its session ended, or it is another tenant's.
  absl::StatusOr<RemoteTensor> refresh_grants(const RemoteTensor& tensor) const;
  // Frees remote tensors by id on every device holding a piece; NOT_FOUND for an unknown id.
  // Returns how many the pool freed.
  absl::StatusOr<uint64_t> free(const std::vector<std::string>& tensor_ids) const;
  // Forgets a captured plan on the controller and the daemons.
  absl::Status drop_plan(const std::string& plan_id) const;

  // Running jobs first, then the most recent finished ones (only running ones if asked).
  absl::StatusOr<std::vector<tgrack::v1::JobInfo>> jobs(bool running_only = false) const;
  // Cancels a running job; NOT_FOUND when it is not running. Empty reason = "by the user".
  absl::Status cancel(const std::string& job_id, const std::string& reason = "") const;

  // Collectives. A communicator over `devices` (rank i = devices[i]; empty = every healthy
  // device), `timeout` per operation (0 = each daemon's --collective-dead-after).
  absl::StatusOr<tgrack::v1::CommunicatorSpec> create_communicator(
      const std::vector<tgrack::v1::DeviceRef>& devices, std::chrono::milliseconds timeout = {}) const;
  // Runs on every rank; fails naming the node and the rank to blame.
  absl::StatusOr<tgrack::v1::RunCollectiveReply> run_collective(
      const tgrack::v1::RunCollectiveRequest& request) const;
  absl::Status destroy_communicator(const std::string& comm_id) const;
  // Elastic: the survivors form a new communicator without `remove` (empty = the ranks
  // whose daemon does not answer); a new one with `add` after the old devices.
  absl::StatusOr<tgrack::v1::ShrinkCommunicatorReply> shrink_communicator(
      const std::string& comm_id, const std::vector<tgrack::v1::DeviceRef>& remove = {}) const;
  absl::StatusOr<tgrack::v1::CommunicatorSpec> grow_communicator(
      const std::string& comm_id, const std::vector<tgrack::v1::DeviceRef>& add) const;
  // Flight records: every communicator's state and newest operation; one's full trace.
  absl::StatusOr<std::vector<tgrack::v1::CommunicatorSummary>> communicators() const;
  absl::StatusOr<tgrack::v1::TraceCommunicatorReply> trace_communicator(const std::string& comm_id) const;

  // Sessions (client/session.h wraps these for owners of remote tensors).
  absl::StatusOr<tgrack::v1::OpenSessionReply> open_session(std::chrono::milliseconds lease,
                                                            const std::string& client) const;
  absl::Status renew_session(const std::string& session,
                             std::chrono::milliseconds deadline) const;
  absl::Status close_session(const std::string& session) const;
  absl::StatusOr<std::vector<tgrack::v1::SessionInfo>> sessions() const;

 private:
  // Fills the request's feeds and options, submits it, and reads the reply; `device` (when
  // not null) receives the reply's first device.
  absl::StatusOr<RunResult> run_request(tgrack::v1::SubmitRequest& request,
                                        const std::map<std::string, HostTensor>& feeds,
                                        const RunOptions& options,
                                        tgrack::v1::DeviceRef* device) const;
  // The result of a run of `graph` from its reply (outputs moved out).
  static absl::StatusOr<RunResult> read_reply(tgrack::v1::SubmitReply& reply,
                                              const tgrack::v1::Graph& graph,
                                              tgrack::v1::DeviceRef* device);
  template <class Request, class Reply>
  absl::Status call(grpc::Status (tgrack::v1::ControllerService::Stub::*method)(
                        grpc::ClientContext*, const Request&, Reply*),
                    const Request& request, Reply* reply,
                    std::chrono::milliseconds deadline) const;

  std::string address_;
  std::chrono::milliseconds deadline_;
  std::shared_ptr<tgrack::v1::ControllerService::Stub> stub_;
  std::shared_ptr<Submitter> submitter_;
  std::shared_ptr<TensorFetcher> fetcher_;
};

}  // namespace tg
