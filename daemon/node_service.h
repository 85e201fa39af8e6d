// NodeServiceImpl: the gRPC face of a Daemon. Each handler reads the request, calls the
// Daemon and fills the reply; a non-OK absl::Status becomes the grpc::Status with the same
// code and message (to_grpc). Nothing throws out of a handler. The graph handler
// (RunFragments) stops its work when its caller gives up or its deadline passes.
#pragma once

#include <absl/status/statusor.h>

#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class Daemon;

class NodeServiceImpl final : public tgrack::v1::NodeService::Service {
 public:
  explicit NodeServiceImpl(Daemon& daemon) : daemon_(daemon) {}

  grpc::Status GetNodeInfo(grpc::ServerContext*, const tgrack::v1::GetNodeInfoRequest*,
                           tgrack::v1::NodeInfo* reply) override;

  // Collectives: handed to the daemon's CollectiveRuntime.
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
  Daemon& daemon_;
};

}  // namespace tg
