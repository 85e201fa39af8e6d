#include "daemon/node_service.h"

#include <optional>

#include "collectives/collective_runtime.h"
#include "daemon/fragment_runner.h"
#include "daemon/job_cancels.h"
#include "daemon/job_reports.h"
#include "daemon/kernel_stats.h"
#include "daemon/tensor_store.h"
#include "net/grant.h"
#include "net/peer_identity.h"
#include "net/rpc.h"

namespace tg {

grpc::Status NodeServiceImpl::GetNodeInfo(grpc::ServerContext*,
                                          const tgrack::v1::GetNodeInfoRequest*,
                                          tgrack::v1::NodeInfo* reply) {
  *reply = node_.node_info();
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::JoinCommunicator(grpc::ServerContext* context,
                                               const tgrack::v1::JoinCommunicatorRequest* request,
                                               tgrack::v1::JoinCommunicatorReply*) {
  if (absl::Status s = net::require_component(*context, "JoinCommunicator"); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(node_.join_collective(*request));
}

grpc::Status NodeServiceImpl::RunCollective(grpc::ServerContext* context,
                                            const tgrack::v1::RunCollectiveRequest* request,
                                            tgrack::v1::RunCollectiveReply* reply) {
  if (absl::Status s = net::require_component(*context, "RunCollective"); !s.ok()) {
    return to_grpc(s);
  }
  auto result = node_.run_collective(*request);
  if (!result.ok()) return to_grpc(result.status());
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::DestroyCommunicator(grpc::ServerContext* context,
                                                  const tgrack::v1::DestroyCommunicatorRequest* request,
                                                  tgrack::v1::DestroyCommunicatorReply*) {
  if (absl::Status s = net::require_component(*context, "DestroyCommunicator"); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(collectives_.destroy(request->comm_id()));
}

grpc::Status NodeServiceImpl::GetFlightRecords(grpc::ServerContext* context,
                                               const tgrack::v1::GetFlightRecordsRequest* request,
                                               tgrack::v1::GetFlightRecordsReply* reply) {
  // Records name every tenant's communicators: the controller reads them and filters.
  if (absl::Status s = net::require_component(*context, "GetFlightRecords"); !s.ok()) {
    return to_grpc(s);
  }
  auto records = collectives_.flight_records(request->comm_id());
  if (!records.ok()) return to_grpc(records.status());
  *reply = std::move(*records);
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::GetKernelStats(grpc::ServerContext* context,
                                             const tgrack::v1::GetKernelStatsRequest*,
                                             tgrack::v1::GetKernelStatsReply* reply) {
  // Rows name every tenant's work: the controller reads them and filters.
  if (absl::Status s = net::require_component(*context, "GetKernelStats"); !s.ok()) {
    return to_grpc(s);
  }
  *reply = kernel_stats_.snapshot();
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::ResetDevices(grpc::ServerContext* context,
                                           const tgrack::v1::ResetDevicesRequest* request,
                                           tgrack::v1::ResetDevicesReply*) {
  if (absl::Status s = net::require_component(*context, "ResetDevices"); !s.ok()) {
    return to_grpc(s);
  }
  const std::vector<uint32_t> indices(request->device_indices().begin(),
                                      request->device_indices().end());
  const uint32_t drain_ms = request->drain_timeout_ms() == 0 ? 10000 : request->drain_timeout_ms();
  return to_grpc(
      node_.reset_devices(indices, std::chrono::milliseconds(drain_ms), request->reason()));
}

grpc::Status NodeServiceImpl::InstallPlan(grpc::ServerContext* context,
                                          const tgrack::v1::InstallPlanRequest* request,
                                          tgrack::v1::InstallPlanReply*) {
  if (absl::Status s = net::require_component(*context, "InstallPlan"); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(fragments_.install(*request));
}

grpc::Status NodeServiceImpl::DropPlan(grpc::ServerContext* context,
                                       const tgrack::v1::DropPlanRequest* request,
                                       tgrack::v1::DropPlanReply*) {
  if (absl::Status s = net::require_component(*context, "DropPlan"); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(fragments_.drop(request->plan_id()));
}

grpc::Status NodeServiceImpl::RunFragments(grpc::ServerContext* context,
                                           const tgrack::v1::RunFragmentsRequest* request,
                                           tgrack::v1::RunFragmentsReply* reply) {
  GrantedWork work{node_name_, {}, request->plan_id()};
  for (const tgrack::v1::FragmentRun& run : request->runs()) {
    work.device_indices.push_back(run.device_index());
  }
  for (const tgrack::v1::Fragment& fragment : request->fragments()) {
    work.device_indices.push_back(fragment.device_index());
  }
  auto grant = grants_.verify(request->grant(), work, std::chrono::system_clock::now());
  if (!grant.ok()) return refused("RunFragments", grant.status());
  if (request->job_id().empty()) {
    return to_grpc(absl::InvalidArgumentError("RunFragments needs a job_id"));
  }
  std::optional<JobReports::Run> reported;
  if (grant->client_driven()) reported.emplace(job_reports_, *request, *grant);
  tgrack::v1::JobUsage usage;
  auto result = fragments_.run(*request, context, grant->tenant(), &usage);
  if (reported) reported->finish(result.status(), usage);
  if (!result.ok()) return to_grpc(result.status());
  if (absl::Status s = check_message_size(result->ByteSizeLong(), "the RunFragments reply");
      !s.ok()) {
    return to_grpc(s);
  }
  *reply = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::PushTensor(grpc::ServerContext* context,
                                         const tgrack::v1::PushTensorRequest* request,
                                         tgrack::v1::PushTensorReply*) {
  if (absl::Status s = net::require_component(*context, "PushTensor"); !s.ok()) {
    return to_grpc(s);
  }
  return to_grpc(fragments_.deliver(*request));
}

grpc::Status NodeServiceImpl::FetchTensor(grpc::ServerContext*,
                                          const tgrack::v1::FetchTensorRequest* request,
                                          tgrack::v1::FetchTensorReply* reply) {
  auto grant =
      grants_.verify_tenant(request->grant(), node_name_, std::chrono::system_clock::now());
  if (!grant.ok()) return refused("FetchTensor", grant.status());
  auto tensor = tensors_.fetch(request->tensor_id(), grant->tenant());
  if (!tensor.ok()) return to_grpc(tensor.status());
  if (absl::Status s = check_message_size(tensor->bytes(), "tensor '" + request->tensor_id() + "'");
      !s.ok()) {
    return to_grpc(s);
  }
  *reply->mutable_tensor() = tensor->to_proto();
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::FreeTensors(grpc::ServerContext* context,
                                          const tgrack::v1::FreeTensorsRequest* request,
                                          tgrack::v1::FreeTensorsReply* reply) {
  if (absl::Status s = net::require_component(*context, "FreeTensors"); !s.ok()) {
    return to_grpc(s);
  }
  const std::vector<std::string> ids(request->tensor_ids().begin(), request->tensor_ids().end());
  reply->set_freed(tensors_.free(ids, request->session()));
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::ListTensors(grpc::ServerContext* context,
                                          const tgrack::v1::ListTensorsRequest*,
                                          tgrack::v1::ListTensorsReply* reply) {
  if (absl::Status s = net::require_component(*context, "ListTensors"); !s.ok()) {
    return to_grpc(s);
  }
  for (const auto& tensor : tensors_.list()) {
    tgrack::v1::StoredTensor* out = reply->add_tensors();
    out->set_tensor_id(tensor->id);
    out->set_device_index(tensor->device_index);
    out->set_session(tensor->session);
    out->set_tenant(tensor->tenant);
    out->set_dtype(tensor->type.dtype);
    for (int64_t d : tensor->type.shape) out->add_shape(d);
    out->set_bytes(tensor->type.bytes());
  }
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::CancelJob(grpc::ServerContext*,
                                        const tgrack::v1::CancelJobRequest* request,
                                        tgrack::v1::CancelJobReply* reply) {
  auto grant =
      grants_.verify_tenant(request->grant(), node_name_, std::chrono::system_clock::now());
  if (!grant.ok()) return refused("CancelJob", grant.status());
  if (!cancels_.cancel(request->job_id(), request->reason(), grant->tenant())) {
    return to_grpc(absl::NotFoundError("node " + node_name_ + " runs no job '" +
                                       request->job_id() + "'"));
  }
  reply->set_found(true);
  return grpc::Status::OK;
}

grpc::Status NodeServiceImpl::refused(const std::string& method, const absl::Status& why) const {
  return to_grpc(absl::Status(why.code(), method + " on node '" + node_name_ + "' refused: " +
                                              std::string(why.message())));
}

}  // namespace tg
