// ControllerServiceImpl: the gRPC face of the controller. Each handler reads the request,
// calls Membership or PlanRunner and fills the reply; a non-OK absl::Status becomes the
// grpc::Status with the same code and message (to_grpc). Nothing throws out of a handler.
// Every handler first authorizes its caller (authorizer.h): nodes by certificate for
// Register and Heartbeat, a bearer token for everything else; tenants act within their own
// tenant, admins on everything, and admin actions go to the audit log.
#pragma once

#include <chrono>
#include <map>
#include <mutex>

#include "collectives/coordinator.h"
#include "controller/audit_log.h"
#include "controller/authorizer.h"
#include "controller/hive_reset.h"
#include "controller/job_registry.h"
#include "controller/ledger.h"
#include "controller/membership.h"
#include "controller/node_stubs.h"
#include "net/grant.h"
#include "controller/plan_runner.h"
#include "controller/sessions.h"
#include "controller/tenants.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg {

class ControllerServiceImpl final : public tgrack::v1::ControllerService::Service {
 public:
  // The parts of a controller the handlers call; all must outlive the service.
  struct Parts {
    Membership& membership;
    PlanRunner& plans;
    JobRegistry& registry;
    Sessions& sessions;
    coll::CollectiveCoordinator& collectives;
    NodeStubs& stubs;
    const GrantSigner& signer;  // Its public key goes to daemons as they register.
    Tenants& tenants;
    AuditLog& audit;
    Ledger& ledger;
    StateStore& store;  // Keeps the node list and cordons.
  };
  // `heartbeat_interval` is what daemons are told to use.
  ControllerServiceImpl(Parts parts, std::chrono::milliseconds heartbeat_interval,
                        ControllerMetrics* metrics = nullptr)
      : membership_(parts.membership),
        plans_(parts.plans),
        registry_(parts.registry),
        sessions_(parts.sessions),
        collectives_(parts.collectives),
        stubs_(parts.stubs),
        signer_(parts.signer),
        tenants_(parts.tenants),
        audit_(parts.audit),
        ledger_(parts.ledger),
        store_(parts.store),
        resets_(parts.membership, metrics),
        heartbeat_interval_(heartbeat_interval),
        metrics_(metrics) {}

  grpc::Status Register(grpc::ServerContext*, const tgrack::v1::RegisterRequest* request,
                        tgrack::v1::RegisterReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const tgrack::v1::HeartbeatRequest* request,
                         tgrack::v1::HeartbeatReply* reply) override;
  grpc::Status ListNodes(grpc::ServerContext*, const tgrack::v1::ListNodesRequest*,
                         tgrack::v1::ListNodesReply* reply) override;
  grpc::Status Submit(grpc::ServerContext*, const tgrack::v1::SubmitRequest* request,
                      tgrack::v1::SubmitReply* reply) override;
  grpc::Status Place(grpc::ServerContext*, const tgrack::v1::PlaceRequest* request,
                     tgrack::v1::PlaceReply* reply) override;

  // Collectives: handed to the CollectiveCoordinator.
  grpc::Status CreateCommunicator(grpc::ServerContext*,
                                  const tgrack::v1::CreateCommunicatorRequest*,
                                  tgrack::v1::CreateCommunicatorReply*) override;
  grpc::Status RunCollective(grpc::ServerContext*, const tgrack::v1::RunCollectiveRequest*,
                             tgrack::v1::RunCollectiveReply*) override;
  grpc::Status DestroyCommunicator(grpc::ServerContext*,
                                   const tgrack::v1::DestroyCommunicatorRequest*,
                                   tgrack::v1::DestroyCommunicatorReply*) override;
  grpc::Status ListCommunicators(grpc::ServerContext*, const tgrack::v1::ListCommunicatorsRequest*,
                                 tgrack::v1::ListCommunicatorsReply*) override;
  grpc::Status TraceCommunicator(grpc::ServerContext*, const tgrack::v1::TraceCommunicatorRequest*,
                                 tgrack::v1::TraceCommunicatorReply*) override;
  grpc::Status ShrinkCommunicator(grpc::ServerContext*, const tgrack::v1::ShrinkCommunicatorRequest*,
                                  tgrack::v1::ShrinkCommunicatorReply*) override;
  grpc::Status GrowCommunicator(grpc::ServerContext*, const tgrack::v1::GrowCommunicatorRequest*,
                                tgrack::v1::GrowCommunicatorReply*) override;

  // Operations.
  grpc::Status CordonNode(grpc::ServerContext*, const tgrack::v1::CordonNodeRequest*,
                          tgrack::v1::CordonNodeReply*) override;
  grpc::Status UncordonNode(grpc::ServerContext*, const tgrack::v1::UncordonNodeRequest*,
                            tgrack::v1::UncordonNodeReply*) override;
  grpc::Status RemoveNode(grpc::ServerContext*, const tgrack::v1::RemoveNodeRequest*,
                          tgrack::v1::RemoveNodeReply*) override;
  grpc::Status DrainNode(grpc::ServerContext*, const tgrack::v1::DrainNodeRequest*,
                         tgrack::v1::DrainNodeReply*) override;
  grpc::Status ResetDevice(grpc::ServerContext*, const tgrack::v1::ResetDeviceRequest*,
                           tgrack::v1::ResetDeviceReply*) override;

  // Sessions, remote tensors, plans and jobs.
  grpc::Status OpenSession(grpc::ServerContext*, const tgrack::v1::OpenSessionRequest*,
                           tgrack::v1::OpenSessionReply*) override;
  grpc::Status RenewSession(grpc::ServerContext*, const tgrack::v1::RenewSessionRequest*,
                            tgrack::v1::RenewSessionReply*) override;
  grpc::Status CloseSession(grpc::ServerContext*, const tgrack::v1::CloseSessionRequest*,
                            tgrack::v1::CloseSessionReply*) override;
  grpc::Status ListSessions(grpc::ServerContext*, const tgrack::v1::ListSessionsRequest*,
                            tgrack::v1::ListSessionsReply*) override;
  grpc::Status FreeTensors(grpc::ServerContext*, const tgrack::v1::FreeTensorsRequest*,
                           tgrack::v1::FreeTensorsReply*) override;
  grpc::Status RefreshTensorGrants(grpc::ServerContext*,
                                   const tgrack::v1::RefreshTensorGrantsRequest*,
                                   tgrack::v1::RefreshTensorGrantsReply*) override;
  grpc::Status DropPlan(grpc::ServerContext*, const tgrack::v1::DropPlanRequest*,
                        tgrack::v1::DropPlanReply*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const tgrack::v1::ListJobsRequest*,
                        tgrack::v1::ListJobsReply*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const tgrack::v1::CancelJobRequest*,
                         tgrack::v1::CancelJobReply*) override;

  // Tenants, tokens, the audit log and usage (tenant_handlers.cc).
  grpc::Status CreateTenant(grpc::ServerContext*, const tgrack::v1::CreateTenantRequest*,
                            tgrack::v1::CreateTenantReply*) override;
  grpc::Status ListTenants(grpc::ServerContext*, const tgrack::v1::ListTenantsRequest*,
                           tgrack::v1::ListTenantsReply*) override;
  grpc::Status SetQuota(grpc::ServerContext*, const tgrack::v1::SetQuotaRequest*,
                        tgrack::v1::SetQuotaReply*) override;
  grpc::Status RotateToken(grpc::ServerContext*, const tgrack::v1::RotateTokenRequest*,
                           tgrack::v1::RotateTokenReply*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const tgrack::v1::RevokeTokenRequest*,
                           tgrack::v1::RevokeTokenReply*) override;
  grpc::Status ListAudit(grpc::ServerContext*, const tgrack::v1::ListAuditRequest*,
                         tgrack::v1::ListAuditReply*) override;
  grpc::Status GetUsage(grpc::ServerContext*, const tgrack::v1::GetUsageRequest*,
                        tgrack::v1::GetUsageReply*) override;
  // The daemons' kernel scoreboards, cut to the caller's tenant (pool_kernel_stats.cc).
  grpc::Status GetPoolKernelStats(grpc::ServerContext*, const tgrack::v1::GetPoolKernelStatsRequest*,
                                  tgrack::v1::GetPoolKernelStatsReply*) override;

 private:
  absl::StatusOr<Caller> caller(const grpc::ServerContext* context, std::string_view method,
                                Access access) const {
    return authorize(tenants_, *context, method, access);
  }
  // Records an admin action and its outcome in the audit log; returns the outcome.
  grpc::Status audited(const Caller& actor, const std::string& action, const std::string& target,
                       const std::string& detail, const absl::Status& outcome);
  // OK when `caller` may run more work now, and hold a communicator over `communicator` when
  // it names devices: RESOURCE_EXHAUSTED naming the quota, its limit and current use
  // otherwise. The devices a graph needs are checked once it is planned (PlanRunner).
  absl::Status check_quota(const Caller& caller,
                           const std::vector<tgrack::v1::DeviceRef>& communicator = {}) const;
  // Keeps node `name` as membership shows it now (with its cordon) in the store, or forgets
  // it there when membership does not know it; logged when the store fails.
  void remember_node(const std::string& name);
  // NOT_FOUND as for an unknown communicator when `comm_id` is another tenant's.
  absl::Status check_communicator(const Caller& caller, const std::string& comm_id) const;
  // A shrink or grow replaced `old_id` by `new_id`: the new one is `tenant`'s.
  void hand_over_communicator(const std::string& old_id, const std::string& new_id,
                              const std::string& tenant);

  Membership& membership_;
  PlanRunner& plans_;
  JobRegistry& registry_;
  Sessions& sessions_;
  coll::CollectiveCoordinator& collectives_;
  NodeStubs& stubs_;
  const GrantSigner& signer_;
  Tenants& tenants_;
  AuditLog& audit_;
  Ledger& ledger_;
  StateStore& store_;
  mutable std::mutex comm_mu_;
  std::map<std::string, std::string> comm_tenants_;  // Communicator id -> tenant.
  HiveReset resets_;
  const std::chrono::milliseconds heartbeat_interval_;
  ControllerMetrics* metrics_;
};

}  // namespace tg
