#include "controller/controller_service.h"

#include <algorithm>
#include <cmath>

#include <absl/strings/str_cat.h>

#include <spdlog/spdlog.h>

#include "controller/placement.h"
#include "net/peer_identity.h"
#include "net/rpc.h"

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

// A daemon's job reports: the device-seconds of each must be a finite count of seconds, or
// the tenant counters it is added to would be lost for good.
absl::Status check_job_reports(const tgrack::v1::HeartbeatRequest& request) {
  for (const auto* jobs : {&request.finished_jobs(), &request.running_jobs()}) {
    for (const tgrack::v1::JobInfo& job : *jobs) {
      const double seconds = job.usage().device_seconds();
      if (!std::isfinite(seconds) || seconds < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("heartbeat of node '", request.node_name(), "': job '", job.job_id(),
                         "' reports usage.device_seconds ", seconds,
                         "; it must be a finite number >= 0"));
      }
    }
  }
  return absl::OkStatus();
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
  remember_node(request->node().name());
  reply->set_incarnation(*incarnation);
  reply->set_heartbeat_interval_ms(static_cast<uint32_t>(heartbeat_interval_.count()));
  reply->set_grant_public_key(signer_.public_key());
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                              const tgrack::v1::HeartbeatRequest* request,
                                              tgrack::v1::HeartbeatReply* reply) {
  if (absl::Status s = net::require_node(*context, request->node_name()); !s.ok()) {
    return to_grpc(s);
  }
  if (absl::Status status = check_job_reports(*request); !status.ok()) return to_grpc(status);
  if (absl::Status status = membership_.heartbeat(request->node_name(), request->incarnation(),
                                                  request->devices());
      !status.ok()) {
    return to_grpc(status);
  }
  auto node = membership_.node(request->node_name());
  const std::vector<tgrack::v1::JobInfo> fresh = registry_.report(
      request->node_name(), {request->running_jobs().begin(), request->running_jobs().end()},
      {request->finished_jobs().begin(), request->finished_jobs().end()},
      [this, node_name = request->node_name(),
       address = node.ok() ? node->address() : std::string()](
          const std::string& job_id, const std::string& tenant, const std::string& reason) {
        tgrack::v1::CancelJobRequest cancel;
        cancel.set_job_id(job_id);
        cancel.set_reason(reason);
        *cancel.mutable_grant() = plans_.grants().tenant(node_name, tenant);
        tgrack::v1::CancelJobReply reply;
        auto context = context_with_deadline(std::chrono::seconds(2));
        stubs_.at(address).CancelJob(context.get(), cancel, &reply);
      });
  if (metrics_ != nullptr) {  // Reports sent again count once.
    for (const tgrack::v1::JobInfo& job : fresh) {
      metrics_->job_submitted();
      metrics_->job_done(job.seconds(), job.state() == tgrack::v1::JOB_STATE_SUCCEEDED
                                            ? absl::StatusCode::kOk
                                        : job.state() == tgrack::v1::JOB_STATE_CANCELLED
                                            ? absl::StatusCode::kCancelled
                                            : absl::StatusCode::kUnknown);
      metrics_->tenant_usage(job.tenant(), job.usage().flops(), job.usage().device_seconds(),
                             job.usage().bytes_moved());
    }
  }
  for (std::string& id : tenants_.revoked_ids()) reply->add_revoked_token_ids(std::move(id));
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ListNodes(grpc::ServerContext* context,
                                              const tgrack::v1::ListNodesRequest* request,
                                              tgrack::v1::ListNodesReply* reply) {
  if (auto who = caller(context, "ListNodes", Access::kTenant); !who.ok()) {
    return to_grpc(who.status());
  }
  for (tgrack::v1::NodeInfo& node : membership_.listed(request->all())) {
    *reply->add_nodes() = std::move(node);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Submit(grpc::ServerContext* context,
                                           const tgrack::v1::SubmitRequest* request,
                                           tgrack::v1::SubmitReply* reply) {
  auto who = caller(context, "Submit", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_quota(*who); !s.ok()) return to_grpc(s);
  auto result = plans_.submit(*request, time_left(*context), *who);
  if (!result.ok()) return to_grpc(result.status());
  if (absl::Status s = check_message_size(result->ByteSizeLong(), "the Submit reply"); !s.ok()) {
    return to_grpc(s);
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::Place(grpc::ServerContext* context,
                                          const tgrack::v1::PlaceRequest* request,
                                          tgrack::v1::PlaceReply* reply) {
  auto who = caller(context, "Place", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_quota(*who); !s.ok()) return to_grpc(s);
  auto result = plans_.place(*request, *who);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CreateCommunicator(
    grpc::ServerContext* context, const tgrack::v1::CreateCommunicatorRequest* request,
    tgrack::v1::CreateCommunicatorReply* reply) {
  auto who = caller(context, "CreateCommunicator", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  tgrack::v1::CreateCommunicatorRequest placed = *request;
  if (placed.devices().empty() && placed.device_count() > 0) {
    auto devices = place_devices(membership_.nodes(), placed.device_count());
    if (!devices.ok()) return to_grpc(devices.status());
    for (auto& ref : *devices) *placed.add_devices() = std::move(ref);
  }
  if (absl::Status s = check_quota(*who, {placed.devices().begin(), placed.devices().end()});
      !s.ok()) {
    return to_grpc(s);
  }
  auto spec = collectives_.create(placed);
  if (!spec.ok()) return to_grpc(spec.status());
  {
    std::lock_guard lock(comm_mu_);
    comm_tenants_[spec->comm_id()] = who->tenant;
  }
  *reply->mutable_spec() = std::move(*spec);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RunCollective(grpc::ServerContext* context,
                                                  const tgrack::v1::RunCollectiveRequest* request,
                                                  tgrack::v1::RunCollectiveReply* reply) {
  auto who = caller(context, "RunCollective", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_communicator(*who, request->comm_id()); !s.ok()) return to_grpc(s);
  auto result = collectives_.run(*request);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::DestroyCommunicator(
    grpc::ServerContext* context, const tgrack::v1::DestroyCommunicatorRequest* request,
    tgrack::v1::DestroyCommunicatorReply*) {
  auto who = caller(context, "DestroyCommunicator", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_communicator(*who, request->comm_id()); !s.ok()) return to_grpc(s);
  absl::Status destroyed = collectives_.destroy(request->comm_id());
  if (destroyed.ok()) {
    std::lock_guard lock(comm_mu_);
    comm_tenants_.erase(request->comm_id());
  }
  return to_grpc(destroyed);
}

grpc::Status ControllerServiceImpl::ListCommunicators(grpc::ServerContext* context,
                                                      const tgrack::v1::ListCommunicatorsRequest*,
                                                      tgrack::v1::ListCommunicatorsReply* reply) {
  auto who = caller(context, "ListCommunicators", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  for (auto& summary : collectives_.list()) {
    if (!who->scope().empty()) {
      std::lock_guard lock(comm_mu_);
      auto owner = comm_tenants_.find(summary.comm_id());
      if (owner == comm_tenants_.end() || !in_scope(who->scope(), owner->second)) continue;
    }
    *reply->add_communicators() = std::move(summary);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::TraceCommunicator(grpc::ServerContext* context,
                                                      const tgrack::v1::TraceCommunicatorRequest* request,
                                                      tgrack::v1::TraceCommunicatorReply* reply) {
  auto who = caller(context, "TraceCommunicator", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_communicator(*who, request->comm_id()); !s.ok()) return to_grpc(s);
  auto trace = collectives_.trace(request->comm_id());
  if (!trace.ok()) return to_grpc(trace.status());
  *reply = std::move(*trace);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::ShrinkCommunicator(grpc::ServerContext* context,
                                                       const tgrack::v1::ShrinkCommunicatorRequest* request,
                                                       tgrack::v1::ShrinkCommunicatorReply* reply) {
  auto who = caller(context, "ShrinkCommunicator", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_communicator(*who, request->comm_id()); !s.ok()) return to_grpc(s);
  auto shrunk = collectives_.shrink(*request);
  if (!shrunk.ok()) return to_grpc(shrunk.status());
  *reply = std::move(*shrunk);
  hand_over_communicator(request->comm_id(), reply->spec().comm_id(), who->tenant);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GrowCommunicator(grpc::ServerContext* context,
                                                     const tgrack::v1::GrowCommunicatorRequest* request,
                                                     tgrack::v1::GrowCommunicatorReply* reply) {
  auto who = caller(context, "GrowCommunicator", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  if (absl::Status s = check_communicator(*who, request->comm_id()); !s.ok()) return to_grpc(s);
  auto grown = collectives_.grow(*request);
  if (!grown.ok()) return to_grpc(grown.status());
  *reply = std::move(*grown);
  hand_over_communicator(request->comm_id(), reply->spec().comm_id(), who->tenant);
  return grpc::Status::OK;
}

void ControllerServiceImpl::hand_over_communicator(const std::string& old_id,
                                                   const std::string& new_id,
                                                   const std::string& tenant) {
  std::lock_guard lock(comm_mu_);
  comm_tenants_.erase(old_id);
  comm_tenants_[new_id] = tenant;
}

grpc::Status ControllerServiceImpl::CordonNode(grpc::ServerContext* context,
                                               const tgrack::v1::CordonNodeRequest* request,
                                               tgrack::v1::CordonNodeReply*) {
  auto who = caller(context, "CordonNode", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  absl::Status cordoned = membership_.cordon(request->node(), request->reason());
  if (cordoned.ok()) remember_node(request->node());
  return audited(*who, "cordon", request->node(), request->reason(), cordoned);
}

grpc::Status ControllerServiceImpl::UncordonNode(grpc::ServerContext* context,
                                                 const tgrack::v1::UncordonNodeRequest* request,
                                                 tgrack::v1::UncordonNodeReply*) {
  auto who = caller(context, "UncordonNode", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  absl::Status uncordoned = membership_.uncordon(request->node());
  if (uncordoned.ok()) remember_node(request->node());
  return audited(*who, "uncordon", request->node(), "", uncordoned);
}

grpc::Status ControllerServiceImpl::RemoveNode(grpc::ServerContext* context,
                                               const tgrack::v1::RemoveNodeRequest* request,
                                               tgrack::v1::RemoveNodeReply*) {
  auto who = caller(context, "RemoveNode", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  absl::Status removed = membership_.remove(request->node());
  if (removed.ok()) remember_node(request->node());
  return audited(*who, "remove-node", request->node(), "", removed);
}

grpc::Status ControllerServiceImpl::DrainNode(grpc::ServerContext* context,
                                              const tgrack::v1::DrainNodeRequest* request,
                                              tgrack::v1::DrainNodeReply* reply) {
  auto who = caller(context, "DrainNode", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  const std::string reason = request->reason().empty() ? "draining" : request->reason();
  if (absl::Status status = membership_.begin_drain(request->node(), reason); !status.ok()) {
    return audited(*who, "drain", request->node(), reason, status);
  }
  auto [finished, cancelled] =
      registry_.drain(request->node(), std::chrono::milliseconds(request->deadline_ms()),
                      heartbeat_interval_ * 3);
  membership_.end_drain(request->node());
  remember_node(request->node());
  reply->set_finished(static_cast<uint32_t>(finished));
  reply->set_cancelled(static_cast<uint32_t>(cancelled));
  return audited(*who, "drain", request->node(), reason,
                 absl::OkStatus());
}

grpc::Status ControllerServiceImpl::ResetDevice(grpc::ServerContext* context,
                                                const tgrack::v1::ResetDeviceRequest* request,
                                                tgrack::v1::ResetDeviceReply* reply) {
  auto who = caller(context, "ResetDevice", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  auto result = resets_.reset(*request);
  const std::string target =
      request->device().node() + "/" + std::to_string(request->device().index());
  audited(*who, "reset", target, "", result.status());
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::OpenSession(grpc::ServerContext* context,
                                                const tgrack::v1::OpenSessionRequest* request,
                                                tgrack::v1::OpenSessionReply* reply) {
  auto who = caller(context, "OpenSession", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  *reply = sessions_.open(request->lease_ms(), request->client(), who->tenant);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RenewSession(grpc::ServerContext* context,
                                                 const tgrack::v1::RenewSessionRequest* request,
                                                 tgrack::v1::RenewSessionReply*) {
  auto who = caller(context, "RenewSession", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  return to_grpc(sessions_.renew(request->session(), who->scope()));
}

grpc::Status ControllerServiceImpl::CloseSession(grpc::ServerContext* context,
                                                 const tgrack::v1::CloseSessionRequest* request,
                                                 tgrack::v1::CloseSessionReply*) {
  auto who = caller(context, "CloseSession", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  return to_grpc(sessions_.close(request->session(), who->scope()));
}

grpc::Status ControllerServiceImpl::ListSessions(grpc::ServerContext* context,
                                                 const tgrack::v1::ListSessionsRequest*,
                                                 tgrack::v1::ListSessionsReply* reply) {
  auto who = caller(context, "ListSessions", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  for (tgrack::v1::SessionInfo& info : sessions_.list(who->scope())) {
    *reply->add_sessions() = std::move(info);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::FreeTensors(grpc::ServerContext* context,
                                                const tgrack::v1::FreeTensorsRequest* request,
                                                tgrack::v1::FreeTensorsReply* reply) {
  auto who = caller(context, "FreeTensors", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  auto freed = sessions_.free({request->tensor_ids().begin(), request->tensor_ids().end()},
                              request->session(), who->scope());
  if (!freed.ok()) return to_grpc(freed.status());
  reply->set_freed(*freed);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::RefreshTensorGrants(
    grpc::ServerContext* context, const tgrack::v1::RefreshTensorGrantsRequest* request,
    tgrack::v1::RefreshTensorGrantsReply* reply) {
  auto who = caller(context, "RefreshTensorGrants", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  reply->set_expires_unix_ms(plans_.grants().expires_unix_ms());  // No later than the grants'.
  for (const std::string& id : request->tensor_ids()) {
    auto tensor = sessions_.owned_tensor(id, who->scope());
    if (!tensor.ok()) return to_grpc(tensor.status());
    for (tgrack::v1::TensorPiece& piece : *tensor->mutable_pieces()) {
      auto grant = plans_.grants().renewed(piece.grant(), *who);
      if (!grant.ok()) return to_grpc(grant.status());
      *piece.mutable_grant() = *std::move(grant);
    }
    *reply->add_tensors() = *std::move(tensor);
  }
  if (absl::Status s = check_message_size(reply->ByteSizeLong(), "the RefreshTensorGrants reply");
      !s.ok()) {
    return to_grpc(s);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::DropPlan(grpc::ServerContext* context,
                                             const tgrack::v1::DropPlanRequest* request,
                                             tgrack::v1::DropPlanReply*) {
  auto who = caller(context, "DropPlan", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  return to_grpc(plans_.drop(request->plan_id(), who->scope()));
}

grpc::Status ControllerServiceImpl::ListJobs(grpc::ServerContext* context,
                                             const tgrack::v1::ListJobsRequest* request,
                                             tgrack::v1::ListJobsReply* reply) {
  auto who = caller(context, "ListJobs", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  for (tgrack::v1::JobInfo& job : registry_.list(request->running_only(), who->scope())) {
    *reply->add_jobs() = std::move(job);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::CancelJob(grpc::ServerContext* context,
                                              const tgrack::v1::CancelJobRequest* request,
                                              tgrack::v1::CancelJobReply* reply) {
  auto who = caller(context, "CancelJob", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  reply->set_found(true);
  return to_grpc(registry_.cancel(request->job_id(), request->reason(), who->scope()));
}

}  // namespace tg
