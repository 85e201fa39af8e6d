#include "controller/controller_service.h"

#include <algorithm>

#include "controller/placement.h"
#include "net/peer_identity.h"
#include "rpc.h"

namespace tg {
namespace {

// What is left of the caller's deadline: at least 1 ms, milliseconds::max() when the caller
// set none (or one past any job timeout).
std::chrono::milliseconds time_left(const grpc::ServerContextBase& context) {
  const auto now = std::chrono::system_clock::now();
  const auto deadline = context.deadline();
  if (deadline > now + std::chrono::hours(24)) return std::chrono::milliseconds::max();
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                  std::chrono::milliseconds(1));
}

}  // namespace

grpc::Status ControllerServiceImpl::Register(grpc::ServerContext* context,
                                             const tgrack::v1::RegisterRequest* request,
                                             tgrack::v1::RegisterReply* reply) {
  if (absl::Status s = net::require_node(*context, request->node().name()); !s.ok()) {
    return to_grpc(s);
  }
  auto incarnation = membership_.register_node(request->node());
  if (!incarnation.ok()) return to_grpc(incarnation.status());
  reply->set_incarnation(*incarnation);
  reply->set_heartbeat_interval_ms(static_cast<uint32_t>(heartbeat_interval_.count()));
  reply->set_grant_public_key(signer_.public_key());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                              const tgrack::v1::HeartbeatRequest* request,
                                              tgrack::v1::HeartbeatReply*) {
  if (absl::Status s = net::require_node(*context, request->node_name()); !s.ok()) {
    return to_grpc(s);
  }
  if (absl::Status status = membership_.heartbeat(request->node_name(), request->incarnation(),
                                                  request->devices());
      !status.ok()) {
    return to_grpc(status);
  }
  if (metrics_ != nullptr) {
    for (const tgrack::v1::JobInfo& job : request->finished_jobs()) {
      metrics_->job_submitted();
      metrics_->job_done(job.seconds(), job.state() == tgrack::v1::JOB_STATE_SUCCEEDED
                                            ? absl::StatusCode::kOk
                                        : job.state() == tgrack::v1::JOB_STATE_CANCELLED
                                            ? absl::StatusCode::kCancelled
                                            : absl::StatusCode::kUnknown);
    }
  }
  auto node = membership_.node(request->node_name());
  registry_.report(
      request->node_name(), {request->running_jobs().begin(), request->running_jobs().end()},
      {request->finished_jobs().begin(), request->finished_jobs().end()},
      [this, address = node.ok() ? node->address() : std::string()](const std::string& job_id,
                                                                    const std::string& reason) {
        tgrack::v1::CancelJobRequest cancel;
        cancel.set_job_id(job_id);
        cancel.set_reason(reason);
        tgrack::v1::CancelJobReply reply;
        auto context = context_with_deadline(std::chrono::seconds(2));
        stubs_.at(address).CancelJob(context.get(), cancel, &reply);
      });
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListNodes(grpc::ServerContext*,
                                              const tgrack::v1::ListNodesRequest* request,
                                              tgrack::v1::ListNodesReply* reply) {
  for (tgrack::v1::NodeInfo& node : membership_.listed(request->all())) {
    *reply->add_nodes() = std::move(node);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Submit(grpc::ServerContext* context,
                                           const tgrack::v1::SubmitRequest* request,
                                           tgrack::v1::SubmitReply* reply) {
  auto result = plans_.submit(*request, time_left(*context));
  if (!result.ok()) return to_grpc(result.status());
  if (absl::Status s = check_message_size(result->ByteSizeLong(), "the Submit reply"); !s.ok()) {
    return to_grpc(s);
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Place(grpc::ServerContext*,
                                          const tgrack::v1::PlaceRequest* request,
                                          tgrack::v1::PlaceReply* reply) {
  auto result = plans_.place(*request);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CreateCommunicator(
    grpc::ServerContext*, const tgrack::v1::CreateCommunicatorRequest* request,
    tgrack::v1::CreateCommunicatorReply* reply) {
  tgrack::v1::CreateCommunicatorRequest placed = *request;
  if (placed.devices().empty() && placed.device_count() > 0) {
    auto devices = place_devices(membership_.nodes(), placed.device_count());
    if (!devices.ok()) return to_grpc(devices.status());
    for (auto& ref : *devices) *placed.add_devices() = std::move(ref);
  }
  auto spec = collectives_.create(placed);
  if (!spec.ok()) return to_grpc(spec.status());
  *reply->mutable_spec() = std::move(*spec);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RunCollective(grpc::ServerContext*,
                                                  const tgrack::v1::RunCollectiveRequest* request,
                                                  tgrack::v1::RunCollectiveReply* reply) {
  auto result = collectives_.run(*request);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::DestroyCommunicator(
    grpc::ServerContext*, const tgrack::v1::DestroyCommunicatorRequest* request,
    tgrack::v1::DestroyCommunicatorReply*) {
  return to_grpc(collectives_.destroy(request->comm_id()));
}

grpc::Status ControllerServiceImpl::ListCommunicators(grpc::ServerContext*,
                                                      const tgrack::v1::ListCommunicatorsRequest*,
                                                      tgrack::v1::ListCommunicatorsReply* reply) {
  for (auto& summary : collectives_.list()) *reply->add_communicators() = std::move(summary);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::TraceCommunicator(grpc::ServerContext*,
                                                      const tgrack::v1::TraceCommunicatorRequest* request,
                                                      tgrack::v1::TraceCommunicatorReply* reply) {
  auto trace = collectives_.trace(request->comm_id());
  if (!trace.ok()) return to_grpc(trace.status());
  *reply = std::move(*trace);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ShrinkCommunicator(grpc::ServerContext*,
                                                       const tgrack::v1::ShrinkCommunicatorRequest* request,
                                                       tgrack::v1::ShrinkCommunicatorReply* reply) {
  auto shrunk = collectives_.shrink(*request);
  if (!shrunk.ok()) return to_grpc(shrunk.status());
  *reply = std::move(*shrunk);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GrowCommunicator(grpc::ServerContext*,
                                                     const tgrack::v1::GrowCommunicatorRequest* request,
                                                     tgrack::v1::GrowCommunicatorReply* reply) {
  auto grown = collectives_.grow(*request);
  if (!grown.ok()) return to_grpc(grown.status());
  *reply = std::move(*grown);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CordonNode(grpc::ServerContext*,
                                               const tgrack::v1::CordonNodeRequest* request,
                                               tgrack::v1::CordonNodeReply*) {
  return to_grpc(membership_.cordon(request->node(), request->reason()));
}

grpc::Status ControllerServiceImpl::UncordonNode(grpc::ServerContext*,
                                                 const tgrack::v1::UncordonNodeRequest* request,
                                                 tgrack::v1::UncordonNodeReply*) {
  return to_grpc(membership_.uncordon(request->node()));
}

grpc::Status ControllerServiceImpl::RemoveNode(grpc::ServerContext*,
                                               const tgrack::v1::RemoveNodeRequest* request,
                                               tgrack::v1::RemoveNodeReply*) {
  return to_grpc(membership_.remove(request->node()));
}

grpc::Status ControllerServiceImpl::DrainNode(grpc::ServerContext*,
                                              const tgrack::v1::DrainNodeRequest* request,
                                              tgrack::v1::DrainNodeReply* reply) {
  const std::string reason = request->reason().empty() ? "draining" : request->reason();
  if (absl::Status status = membership_.begin_drain(request->node(), reason); !status.ok()) {
    return to_grpc(status);
  }
  auto [finished, cancelled] =
      registry_.drain(request->node(), std::chrono::milliseconds(request->deadline_ms()),
                      heartbeat_interval_ * 3);
  membership_.end_drain(request->node());
  reply->set_finished(static_cast<uint32_t>(finished));
  reply->set_cancelled(static_cast<uint32_t>(cancelled));
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ResetDevice(grpc::ServerContext*,
                                                const tgrack::v1::ResetDeviceRequest* request,
                                                tgrack::v1::ResetDeviceReply* reply) {
  auto result = resets_.reset(*request);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::OpenSession(grpc::ServerContext*,
                                                const tgrack::v1::OpenSessionRequest* request,
                                                tgrack::v1::OpenSessionReply* reply) {
  *reply = sessions_.open(request->lease_ms(), request->client());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RenewSession(grpc::ServerContext*,
                                                 const tgrack::v1::RenewSessionRequest* request,
                                                 tgrack::v1::RenewSessionReply*) {
  return to_grpc(sessions_.renew(request->session()));
}

grpc::Status ControllerServiceImpl::CloseSession(grpc::ServerContext*,
                                                 const tgrack::v1::CloseSessionRequest* request,
                                                 tgrack::v1::CloseSessionReply*) {
  return to_grpc(sessions_.close(request->session()));
}

grpc::Status ControllerServiceImpl::ListSessions(grpc::ServerContext*,
                                                 const tgrack::v1::ListSessionsRequest*,
                                                 tgrack::v1::ListSessionsReply* reply) {
  for (tgrack::v1::SessionInfo& info : sessions_.list()) *reply->add_sessions() = std::move(info);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::FreeTensors(grpc::ServerContext*,
                                                const tgrack::v1::FreeTensorsRequest* request,
                                                tgrack::v1::FreeTensorsReply* reply) {
  auto freed = sessions_.free({request->tensor_ids().begin(), request->tensor_ids().end()},
                              request->session());
  if (!freed.ok()) return to_grpc(freed.status());
  reply->set_freed(*freed);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::DropPlan(grpc::ServerContext*,
                                             const tgrack::v1::DropPlanRequest* request,
                                             tgrack::v1::DropPlanReply*) {
  return to_grpc(plans_.drop(request->plan_id()));
}

grpc::Status ControllerServiceImpl::ListJobs(grpc::ServerContext*,
                                             const tgrack::v1::ListJobsRequest* request,
                                             tgrack::v1::ListJobsReply* reply) {
  for (tgrack::v1::JobInfo& job : registry_.list(request->running_only())) {
    *reply->add_jobs() = std::move(job);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CancelJob(grpc::ServerContext*,
                                              const tgrack::v1::CancelJobRequest* request,
                                              tgrack::v1::CancelJobReply* reply) {
  reply->set_found(true);
  return to_grpc(registry_.cancel(request->job_id(), request->reason()));
}

}  // namespace tg
