// NodeServiceImpl: the gRPC face of a Daemon. Each handler reads the request, calls the
// Daemon and fills the reply; a non-OK absl::Status becomes the grpc::Status with the same
// code and message (to_grpc). Nothing throws out of a handler.
#pragma once

#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class Daemon;

class NodeServiceImpl final : public tgrack::v1::NodeService::Service {
 public:
  explicit NodeServiceImpl(Daemon& daemon) : daemon_(daemon) {}

  grpc::Status GetNodeInfo(grpc::ServerContext*, const tgrack::v1::GetNodeInfoRequest*,
                           tgrack::v1::NodeInfo* reply) override;
  grpc::Status RunGraph(grpc::ServerContext*, const tgrack::v1::RunGraphRequest* request,
                        tgrack::v1::RunGraphReply* reply) override;

  // Collectives: handed to the daemon's CollectiveRuntime.
  grpc::Status JoinCommunicator(grpc::ServerContext*, const tgrack::v1::JoinCommunicatorRequest*,
                                tgrack::v1::JoinCommunicatorReply*) override;
  grpc::Status RunCollective(grpc::ServerContext*, const tgrack::v1::RunCollectiveRequest*,
                             tgrack::v1::RunCollectiveReply*) override;
  grpc::Status DestroyCommunicator(grpc::ServerContext*,
                                   const tgrack::v1::DestroyCommunicatorRequest*,
                                   tgrack::v1::DestroyCommunicatorReply*) override;

  grpc::Status GetKernelStats(grpc::ServerContext*, const tgrack::v1::GetKernelStatsRequest*,
                              tgrack::v1::GetKernelStatsReply* reply) override;
  grpc::Status ResetDevices(grpc::ServerContext*, const tgrack::v1::ResetDevicesRequest* request,
                            tgrack::v1::ResetDevicesReply*) override;

 private:
  Daemon& daemon_;
};

}  // namespace tg
