#include "controller/controller_service.h"

#include "net/peer_identity.h"
#include "rpc.h"

namespace tg {

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
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                              const tgrack::v1::HeartbeatRequest* request,
                                              tgrack::v1::HeartbeatReply*) {
  if (absl::Status s = net::require_node(*context, request->node_name()); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(
      membership_.heartbeat(request->node_name(), request->incarnation(), request->devices()));
}

grpc::Status ControllerServiceImpl::ListNodes(grpc::ServerContext*,
                                              const tgrack::v1::ListNodesRequest*,
                                              tgrack::v1::ListNodesReply* reply) {
  for (tgrack::v1::NodeInfo& node : membership_.nodes()) *reply->add_nodes() = std::move(node);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Submit(grpc::ServerContext*,
                                           const tgrack::v1::SubmitRequest* request,
                                           tgrack::v1::SubmitReply* reply) {
  auto result = submit(*request);
  if (!result.ok()) return to_grpc(result.status());
  if (absl::Status s = check_message_size(result->ByteSizeLong(), "the Submit reply"); !s.ok()) {
    return to_grpc(s);
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetCallPort(grpc::ServerContext*,
                                                const tgrack::v1::GetCallPortRequest*,
                                                tgrack::v1::GetCallPortReply* reply) {
  reply->set_port(static_cast<uint32_t>(call_port_));
  return grpc::Status::OK;
}

absl::StatusOr<tgrack::v1::SubmitReply> ControllerServiceImpl::submit(
    const tgrack::v1::SubmitRequest& request) {
  return PlanRunner::needs_plan(request) ? plans_.submit(request) : jobs_.submit(request);
}

grpc::Status ControllerServiceImpl::CreateCommunicator(
    grpc::ServerContext*, const tgrack::v1::CreateCommunicatorRequest* request,
    tgrack::v1::CreateCommunicatorReply* reply) {
  auto spec = collectives_.create(*request);
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

grpc::Status ControllerServiceImpl::DrainNode(grpc::ServerContext*,
                                              const tgrack::v1::DrainNodeRequest* request,
                                              tgrack::v1::DrainNodeReply* reply) {
  const std::string reason = request->reason().empty() ? "draining" : request->reason();
  if (absl::Status status = membership_.cordon(request->node(), reason); !status.ok()) {
    return to_grpc(status);
  }
  auto [finished, cancelled] =
      registry_.drain(request->node(), std::chrono::milliseconds(request->deadline_ms()));
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
