// NodeServiceImpl: the gRPC face of a daemon. Each handler reads the request, calls one of
// the daemon's parts (Parts) and fills the reply; a non-OK absl::Status becomes the
// grpc::Status with the same code and message (to_grpc). Nothing throws out of a handler. The
// graph handler (RunFragments) stops its work when its caller gives up or its deadline passes,
// and runs it for the grant's tenant: another tenant's plans and stored tensors are NOT_FOUND
// there. Plans and stored tensors are managed by the controller alone (InstallPlan, DropPlan,
// FreeTensors, ListTensors, GetKernelStats need a component certificate). FetchTensor and
// CancelJob carry a grant like RunFragments and act for its tenant alone: another tenant's
// tensor or job answers NOT_FOUND exactly as an unknown id.
#pragma once

#include <string>
#include <utility>

#include <absl/status/statusor.h>

#include "daemon/node_operations.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {
namespace coll {
class CollectiveRuntime;
}

class FragmentRunner;
class GrantVerifier;
class JobCancels;
class JobReports;
class KernelStats;
class TensorStore;

class NodeServiceImpl final : public tgrack::v1::NodeService::Service {
 public:
  // The parts of a daemon the handlers call; all must outlive the service.
  struct Parts {
    std::string node_name;
    NodeOperations& node;
    FragmentRunner& fragments;
    TensorStore& tensors;
    JobCancels& cancels;
    JobReports& job_reports;
    const GrantVerifier& grants;  // Checks the grant of every run (net/grant.h).
    coll::CollectiveRuntime& collectives;
    const KernelStats& kernel_stats;
  };
  explicit NodeServiceImpl(Parts parts)
      : node_name_(std::move(parts.node_name)),
        node_(parts.node),
        fragments_(parts.fragments),
        tensors_(parts.tensors),
        cancels_(parts.cancels),
        job_reports_(parts.job_reports),
        grants_(parts.grants),
        collectives_(parts.collectives),
        kernel_stats_(parts.kernel_stats) {}

  grpc::Status GetNodeInfo(grpc::ServerContext*, const tgrack::v1::GetNodeInfoRequest*,
                           tgrack::v1::NodeInfo* reply) override;

  // Collectives: handed to the node (recorded in its metrics) and its CollectiveRuntime.
  grpc::Status JoinCommunicator(grpc::ServerContext*, const tgrack::v1::JoinCommunicatorRequest*,
                                tgrack::v1::JoinCommunicatorReply*) override;
  grpc::Status RunCollective(grpc::ServerContext*, const tgrack::v1::RunCollectiveRequest*,
                             tgrack::v1::RunCollectiveReply*) override;
  grpc::Status DestroyCommunicator(grpc::ServerContext*,
                                   const tgrack::v1::DestroyCommunicatorRequest*,
                                   tgrack::v1::DestroyCommunicatorReply*) override;
  grpc::Status GetFlightRecords(grpc::ServerContext*, const tgrack::v1::GetFlightRecordsRequest*,
                                tgrack::v1::GetFlightRecordsReply*) override;

  grpc::Status GetKernelStats(grpc::ServerContext*, const tgrack::v1::GetKernelStatsRequest*,
                              tgrack::v1::GetKernelStatsReply* reply) override;
  grpc::Status ResetDevices(grpc::ServerContext*, const tgrack::v1::ResetDevicesRequest* request,
                            tgrack::v1::ResetDevicesReply*) override;

  // Graphs across the pool: handed to the daemon's FragmentRunner, TensorStore, JobCancels.
  grpc::Status InstallPlan(grpc::ServerContext*, const tgrack::v1::InstallPlanRequest* request,
                           tgrack::v1::InstallPlanReply*) override;
  grpc::Status DropPlan(grpc::ServerContext*, const tgrack::v1::DropPlanRequest* request,
                        tgrack::v1::DropPlanReply*) override;
  // Checks the request's grant (net/grant.h) before anything runs.
  grpc::Status RunFragments(grpc::ServerContext*, const tgrack::v1::RunFragmentsRequest* request,
                            tgrack::v1::RunFragmentsReply* reply) override;
  grpc::Status PushTensor(grpc::ServerContext*, const tgrack::v1::PushTensorRequest* request,
                          tgrack::v1::PushTensorReply*) override;
  grpc::Status FetchTensor(grpc::ServerContext*, const tgrack::v1::FetchTensorRequest* request,
                           tgrack::v1::FetchTensorReply* reply) override;
  grpc::Status FreeTensors(grpc::ServerContext*, const tgrack::v1::FreeTensorsRequest* request,
                           tgrack::v1::FreeTensorsReply* reply) override;
  grpc::Status ListTensors(grpc::ServerContext*, const tgrack::v1::ListTensorsRequest*,
                           tgrack::v1::ListTensorsReply* reply) override;
  grpc::Status CancelJob(grpc::ServerContext*, const tgrack::v1::CancelJobRequest* request,
                         tgrack::v1::CancelJobReply* reply) override;

 private:
  // A call refused for its grant: the grant's error, naming the method and this node.
  grpc::Status refused(const std::string& method, const absl::Status& why) const;

  const std::string node_name_;
  NodeOperations& node_;
  FragmentRunner& fragments_;
  TensorStore& tensors_;
  JobCancels& cancels_;
  JobReports& job_reports_;
  const GrantVerifier& grants_;
  coll::CollectiveRuntime& collectives_;
  const KernelStats& kernel_stats_;
};

}  // namespace tg
