#include "client/client.h"

#include <absl/strings/str_cat.h>

#include "net/grant.h"
#include "net/rpc.h"

namespace tg {

using Stub = tgrack::v1::ControllerService::Stub;

RunOptions& RunOptions::input(const std::string& name, const RemoteTensor& tensor) {
  inputs[name] = tensor.id();
  if (session.empty()) session = tensor.session();
  return *this;
}

Client::Client(const std::string& controller_address, std::chrono::milliseconds deadline,
               std::optional<std::string> token)
    : address_(controller_address),
      deadline_(deadline),
      stub_(tgrack::v1::ControllerService::NewStub(
          make_channel(controller_address, /*own_connection=*/true, std::move(token)))),
      fetcher_(std::make_shared<TensorFetcher>(deadline)) {
  submitter_ = std::make_shared<Submitter>(stub_);
}

template <class Request, class Reply>
absl::Status Client::call(grpc::Status (Stub::*method)(
                              grpc::ClientContext*, const Request&, Reply*),
                          const Request& request, Reply* reply,
                          std::chrono::milliseconds deadline) const {
  auto context = context_with_deadline(deadline);
  return from_grpc(((*stub_).*method)(context.get(), request, reply));
}

absl::StatusOr<std::vector<tgrack::v1::NodeInfo>> Client::nodes() const {
  tgrack::v1::ListNodesReply reply;
  absl::Status status = call(&Stub::ListNodes, tgrack::v1::ListNodesRequest(), &reply, deadline_);
  if (!status.ok()) return status;
  return std::vector<tgrack::v1::NodeInfo>(reply.nodes().begin(), reply.nodes().end());
}

absl::StatusOr<SubmitResult> Client::submit(const tgrack::v1::Graph& graph,
                                            const std::map<std::string, HostTensor>& feeds,
                                            const tgrack::v1::Placement& placement) const {
  tgrack::v1::SubmitRequest request;
  *request.mutable_graph() = graph;
  RunOptions options;
  options.placement = placement;
  SubmitResult result;
  auto ran = run_request(request, feeds, options, &result.device);
  if (!ran.ok()) return ran.status();
  result.outputs = std::move(ran->outputs);
  result.job_id = std::move(ran->job_id);
  return result;
}

absl::StatusOr<RunResult> Client::run(const tgrack::v1::Graph& graph,
                                      const std::map<std::string, HostTensor>& feeds,
                                      const RunOptions& options) const {
  tgrack::v1::SubmitRequest request;
  *request.mutable_graph() = graph;
  request.set_capture(options.capture);
  return run_request(request, feeds, options, nullptr);
}

absl::StatusOr<RunResult> Client::replay(const std::string& plan_id,
                                         const std::map<std::string, HostTensor>& feeds,
                                         const RunOptions& options) const {
  tgrack::v1::SubmitRequest request;
  request.set_plan_id(plan_id);
  return run_request(request, feeds, options, nullptr);
}

absl::StatusOr<RunResult> Client::run_request(tgrack::v1::SubmitRequest& request,
                                              const std::map<std::string, HostTensor>& feeds,
                                              const RunOptions& options,
                                              tgrack::v1::DeviceRef* device) const {
  *request.mutable_placement() = options.placement;
  request.set_session(options.session);
  for (const auto& [name, tensor] : feeds) {
    tgrack::v1::NamedTensor* feed = request.add_feeds();
    feed->set_name(name);
    *feed->mutable_tensor() = tensor.to_proto();
  }
  for (const auto& [name, id] : options.inputs) {
    tgrack::v1::NamedHandle* input = request.add_inputs();
    input->set_name(name);
    input->set_tensor_id(id);
  }
  for (const std::string& name : options.keep) request.add_keep(name);
  request.set_deterministic(options.deterministic);

  auto submitted = submitter_->submit(request, deadline_);
  if (!submitted.ok()) return submitted.status();
  return read_reply(*submitted, request.graph(), device);
}

absl::StatusOr<PlacedGraph> Client::place(const tgrack::v1::Graph& graph,
                                          const RunOptions& options) const {
  tgrack::v1::SubmitRequest request;
  *request.mutable_graph() = graph;
  *request.mutable_placement() = options.placement;
  request.set_session(options.session);
  request.set_deterministic(options.deterministic);
  for (const auto& [name, id] : options.inputs) {
    tgrack::v1::NamedHandle* input = request.add_inputs();
    input->set_name(name);
    input->set_tensor_id(id);
  }
  for (const std::string& name : options.keep) request.add_keep(name);
  auto runs = submitter_->place_once(request, deadline_);
  if (!runs.ok()) return runs.status();
  PlacedGraph placed;
  placed.runs_ = *std::move(runs);
  return placed;
}

absl::StatusOr<RunResult> Client::run(const PlacedGraph& placed,
                                      const std::map<std::string, HostTensor>& feeds) const {
  if (placed.runs_ == nullptr) {
    return absl::FailedPreconditionError("run of a PlacedGraph that Client::place did not make");
  }
  tgrack::v1::SubmitRequest request;
  for (const auto& [name, tensor] : feeds) {
    tgrack::v1::NamedTensor* feed = request.add_feeds();
    feed->set_name(name);
    *feed->mutable_tensor() = tensor.to_proto();
  }
  auto submitted = submitter_->run_placed(*placed.runs_, request, deadline_);
  if (!submitted.ok()) return submitted.status();
  return read_reply(*submitted, placed.runs_->request.graph(), nullptr);
}

absl::StatusOr<RunResult> Client::read_reply(tgrack::v1::SubmitReply& reply,
                                             const tgrack::v1::Graph& graph,
                                             tgrack::v1::DeviceRef* device) {
  RunResult result;
  result.job_id = reply.job_id();
  result.plan_id = reply.plan_id();
  result.devices.assign(reply.devices().begin(), reply.devices().end());
  if (result.devices.empty() && !reply.device().node().empty()) result.devices = {reply.device()};
  result.kept.assign(reply.kept().begin(), reply.kept().end());
  if (device != nullptr) *device = reply.device();
  for (int i = 0; i < reply.outputs_size(); ++i) {
    if (reply.outputs(i).dtype() == tgrack::v1::DTYPE_UNSPECIFIED) {  // Kept on the pool.
      result.outputs.emplace_back();
      continue;
    }
    const std::string name = i < graph.outputs_size() ? graph.outputs(i) : std::to_string(i);
    auto tensor = HostTensor::from_proto(reply.outputs(i), "output '" + name + "'");
    if (!tensor.ok()) return tensor.status();
    result.outputs.push_back(std::move(*tensor));
  }
  return result;
}

absl::StatusOr<HostTensor> Client::fetch(const RemoteTensor& tensor) const {
  auto fetched = fetcher_->fetch(tensor);
  if (fetched.ok() || !is_expired_grant(fetched.status())) return fetched;
  auto refreshed = refresh_grants(tensor);
  if (!refreshed.ok()) {
    return absl::Status(refreshed.status().code(),
                        absl::StrCat(fetched.status().message(), "; refreshing its grants: ",
                                     refreshed.status().message()));
  }
  return fetcher_->fetch(*refreshed);
}

absl::StatusOr<RemoteTensor> Client::refresh_grants(const RemoteTensor& tensor) const {
  tgrack::v1::RefreshTensorGrantsRequest request;
  request.add_tensor_ids(tensor.id());
  tgrack::v1::RefreshTensorGrantsReply reply;
  absl::Status status = call(&Stub::RefreshTensorGrants, request, &reply, deadline_);
  if (!status.ok()) return status;
  if (reply.tensors_size() != 1 || reply.tensors(0).id() != tensor.id()) {
    return absl::InternalError("the controller refreshed the grants of " +
                               std::to_string(reply.tensors_size()) + " tensors for remote tensor '" +
                               tensor.id() + "'");
  }
  return std::move(*reply.mutable_tensors(0));
}

absl::StatusOr<uint64_t> Client::free(const std::vector<std::string>& tensor_ids) const {
  tgrack::v1::FreeTensorsRequest request;
  for (const std::string& id : tensor_ids) request.add_tensor_ids(id);
  tgrack::v1::FreeTensorsReply reply;
  absl::Status status = call(&Stub::FreeTensors, request, &reply, deadline_);
  if (!status.ok()) return status;
  return reply.freed();
}

absl::Status Client::drop_plan(const std::string& plan_id) const {
  tgrack::v1::DropPlanRequest request;
  request.set_plan_id(plan_id);
  tgrack::v1::DropPlanReply reply;
  return call(&Stub::DropPlan, request, &reply, deadline_);
}

absl::StatusOr<tgrack::v1::CommunicatorSpec> Client::create_communicator(
    const std::vector<tgrack::v1::DeviceRef>& devices, std::chrono::milliseconds timeout) const {
  tgrack::v1::CreateCommunicatorRequest request;
  for (const auto& d : devices) *request.add_devices() = d;
  request.set_timeout_ms(static_cast<uint32_t>(timeout.count()));
  tgrack::v1::CreateCommunicatorReply reply;
  if (absl::Status s = call(&Stub::CreateCommunicator, request, &reply, deadline_); !s.ok()) return s;
  return reply.spec();
}

absl::StatusOr<tgrack::v1::RunCollectiveReply> Client::run_collective(
    const tgrack::v1::RunCollectiveRequest& request) const {
  tgrack::v1::RunCollectiveReply reply;
  if (absl::Status s = call(&Stub::RunCollective, request, &reply, deadline_); !s.ok()) return s;
  return reply;
}

absl::Status Client::destroy_communicator(const std::string& comm_id) const {
  tgrack::v1::DestroyCommunicatorRequest request;
  request.set_comm_id(comm_id);
  tgrack::v1::DestroyCommunicatorReply reply;
  return call(&Stub::DestroyCommunicator, request, &reply, deadline_);
}

absl::StatusOr<tgrack::v1::ShrinkCommunicatorReply> Client::shrink_communicator(
    const std::string& comm_id, const std::vector<tgrack::v1::DeviceRef>& remove) const {
  tgrack::v1::ShrinkCommunicatorRequest request;
  request.set_comm_id(comm_id);
  for (const auto& d : remove) *request.add_remove() = d;
  tgrack::v1::ShrinkCommunicatorReply reply;
  if (absl::Status s = call(&Stub::ShrinkCommunicator, request, &reply, deadline_); !s.ok()) return s;
  return reply;
}

absl::StatusOr<tgrack::v1::CommunicatorSpec> Client::grow_communicator(
    const std::string& comm_id, const std::vector<tgrack::v1::DeviceRef>& add) const {
  tgrack::v1::GrowCommunicatorRequest request;
  request.set_comm_id(comm_id);
  for (const auto& d : add) *request.add_add() = d;
  tgrack::v1::GrowCommunicatorReply reply;
  if (absl::Status s = call(&Stub::GrowCommunicator, request, &reply, deadline_); !s.ok()) return s;
  return reply.spec();
}

absl::StatusOr<std::vector<tgrack::v1::CommunicatorSummary>> Client::communicators() const {
  tgrack::v1::ListCommunicatorsReply reply;
  absl::Status status = call(&Stub::ListCommunicators, tgrack::v1::ListCommunicatorsRequest(), &reply, deadline_);
  if (!status.ok()) return status;
  return std::vector<tgrack::v1::CommunicatorSummary>(reply.communicators().begin(), reply.communicators().end());
}

absl::StatusOr<tgrack::v1::TraceCommunicatorReply> Client::trace_communicator(const std::string& comm_id) const {
  tgrack::v1::TraceCommunicatorRequest request;
  request.set_comm_id(comm_id);
  tgrack::v1::TraceCommunicatorReply reply;
  if (absl::Status s = call(&Stub::TraceCommunicator, request, &reply, deadline_); !s.ok()) return s;
  return reply;
}

absl::StatusOr<std::vector<tgrack::v1::JobInfo>> Client::jobs(bool running_only) const {
  tgrack::v1::ListJobsRequest request;
  request.set_running_only(running_only);
  tgrack::v1::ListJobsReply reply;
  absl::Status status = call(&Stub::ListJobs, request, &reply, deadline_);
  if (!status.ok()) return status;
  return std::vector<tgrack::v1::JobInfo>(reply.jobs().begin(), reply.jobs().end());
}

absl::Status Client::cancel(const std::string& job_id, const std::string& reason) const {
  tgrack::v1::CancelJobRequest request;
  request.set_job_id(job_id);
  request.set_reason(reason);
  tgrack::v1::CancelJobReply reply;
  return call(&Stub::CancelJob, request, &reply, deadline_);
}

absl::StatusOr<tgrack::v1::OpenSessionReply> Client::open_session(
    std::chrono::milliseconds lease, const std::string& client) const {
  tgrack::v1::OpenSessionRequest request;
  request.set_lease_ms(static_cast<uint32_t>(lease.count()));
  request.set_client(client);
  tgrack::v1::OpenSessionReply reply;
  absl::Status status = call(&Stub::OpenSession, request, &reply, deadline_);
  if (!status.ok()) return status;
  return reply;
}

absl::Status Client::renew_session(const std::string& session,
                                   std::chrono::milliseconds deadline) const {
  tgrack::v1::RenewSessionRequest request;
  request.set_session(session);
  tgrack::v1::RenewSessionReply reply;
  return call(&Stub::RenewSession, request, &reply, deadline);
}

absl::Status Client::close_session(const std::string& session) const {
  tgrack::v1::CloseSessionRequest request;
  request.set_session(session);
  tgrack::v1::CloseSessionReply reply;
  return call(&Stub::CloseSession, request, &reply, deadline_);
}

absl::StatusOr<std::vector<tgrack::v1::SessionInfo>> Client::sessions() const {
  tgrack::v1::ListSessionsReply reply;
  absl::Status status =
      call(&Stub::ListSessions, tgrack::v1::ListSessionsRequest(), &reply, deadline_);
  if (!status.ok()) return status;
  return std::vector<tgrack::v1::SessionInfo>(reply.sessions().begin(), reply.sessions().end());
}

}  // namespace tg
