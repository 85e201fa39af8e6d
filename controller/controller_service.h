// ControllerServiceImpl: the gRPC face of the controller. Each handler reads the request,
// calls Membership or JobRunner and fills the reply; a non-OK absl::Status becomes the
// grpc::Status with the same code and message (to_grpc). Nothing throws out of a handler.
#pragma once

#include <chrono>

#include "collectives/coordinator.h"
#include "controller/hive_reset.h"
#include "controller/job_runner.h"
#include "controller/membership.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

class ControllerServiceImpl final : public tgrack::v1::ControllerService::Service {
 public:
  // Both must outlive the service. `heartbeat_interval` is what daemons are told to use.
  ControllerServiceImpl(Membership& membership, JobRunner& jobs,
                        std::chrono::milliseconds heartbeat_interval,
                        ControllerMetrics* metrics = nullptr)
      : membership_(membership),
        jobs_(jobs),
        resets_(membership, metrics),
        heartbeat_interval_(heartbeat_interval),
        collectives_([&membership] { return membership.nodes(); }) {}

  grpc::Status Register(grpc::ServerContext*, const tgrack::v1::RegisterRequest* request,
                        tgrack::v1::RegisterReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const tgrack::v1::HeartbeatRequest* request,
                         tgrack::v1::HeartbeatReply* reply) override;
  grpc::Status ListNodes(grpc::ServerContext*, const tgrack::v1::ListNodesRequest*,
                         tgrack::v1::ListNodesReply* reply) override;
  grpc::Status Submit(grpc::ServerContext*, const tgrack::v1::SubmitRequest* request,
                      tgrack::v1::SubmitReply* reply) override;

  // Collectives: handed to the CollectiveCoordinator.
  grpc::Status CreateCommunicator(grpc::ServerContext*,
                                  const tgrack::v1::CreateCommunicatorRequest*,
                                  tgrack::v1::CreateCommunicatorReply*) override;
  grpc::Status RunCollective(grpc::ServerContext*, const tgrack::v1::RunCollectiveRequest*,
                             tgrack::v1::RunCollectiveReply*) override;
  grpc::Status DestroyCommunicator(grpc::ServerContext*,
                                   const tgrack::v1::DestroyCommunicatorRequest*,
                                   tgrack::v1::DestroyCommunicatorReply*) override;

  // Operations.
  grpc::Status CordonNode(grpc::ServerContext*, const tgrack::v1::CordonNodeRequest*,
                          tgrack::v1::CordonNodeReply*) override;
  grpc::Status UncordonNode(grpc::ServerContext*, const tgrack::v1::UncordonNodeRequest*,
                            tgrack::v1::UncordonNodeReply*) override;
  grpc::Status DrainNode(grpc::ServerContext*, const tgrack::v1::DrainNodeRequest*,
                         tgrack::v1::DrainNodeReply*) override;
  grpc::Status ResetDevice(grpc::ServerContext*, const tgrack::v1::ResetDeviceRequest*,
                           tgrack::v1::ResetDeviceReply*) override;

 private:
  Membership& membership_;
  JobRunner& jobs_;
  HiveReset resets_;
  const std::chrono::milliseconds heartbeat_interval_;
  coll::CollectiveCoordinator collectives_;
};

}  // namespace tg
