// The ControllerService handlers for tenants, tokens, the audit log and usage, and the
// checks the other handlers share: quotas and the ownership of communicators.
#include <chrono>
#include <optional>

#include <absl/strings/str_cat.h>
#include <spdlog/spdlog.h>

#include "controller/controller_service.h"
#include "controller/device_quota.h"
#include "net/rpc.h"

namespace tg {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

absl::Status over_quota(const std::string& tenant, const std::string& quota, double limit,
                        double used, const std::string& unit) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "quota ", quota, " of tenant '", tenant, "' is exhausted: limit ", limit, unit, ", in use ",
      used, unit, "; nothing was run"));
}

}  // namespace

grpc::Status ControllerServiceImpl::audited(const Caller& actor, const std::string& action,
                                            const std::string& target, const std::string& detail,
                                            const absl::Status& outcome) {
  if (absl::Status logged = audit_.record(actor, action, target, detail, outcome); !logged.ok()) {
    return to_grpc(outcome.ok() ? logged : outcome);
  }
  return to_grpc(outcome);
}

absl::Status ControllerServiceImpl::check_quota(
    const Caller& caller, const std::vector<tgrack::v1::DeviceRef>& communicator) const {
  if (caller.admin()) return absl::OkStatus();
  auto tenant = tenants_.tenant(caller.tenant);
  if (!tenant.ok()) return absl::OkStatus();  // Revoked with its tenant: authorize refuses it.
  const tgrack::v1::Quota& quota = tenant->quota();
  if (absl::Status s =
          check_devices_quota(tenants_, registry_, caller, communicator, "the communicator");
      !s.ok()) {
    return s;
  }
  if (quota.device_memory_bytes() > 0) {
    const uint64_t held = sessions_.tenant_bytes(caller.tenant);
    if (held >= quota.device_memory_bytes()) {
      return over_quota(caller.tenant, "device-memory", static_cast<double>(quota.device_memory_bytes()),
                        static_cast<double>(held), " bytes");
    }
  }
  if (quota.flops_per_period() > 0 || quota.device_seconds_per_period() > 0) {
    const uint32_t period = quota.period_seconds() == 0 ? 86400 : quota.period_seconds();
    auto used = ledger_.used(caller.tenant, unix_now() - period);
    if (!used.ok()) return used.status();
    if (quota.flops_per_period() > 0 && used->flops() >= quota.flops_per_period()) {
      return over_quota(caller.tenant, absl::StrCat("flops per ", period, " s"),
                        static_cast<double>(quota.flops_per_period()),
                        static_cast<double>(used->flops()), " FLOPs");
    }
    if (quota.device_seconds_per_period() > 0 &&
        used->device_seconds() >= quota.device_seconds_per_period()) {
      return over_quota(caller.tenant, absl::StrCat("device-seconds per ", period, " s"),
                        quota.device_seconds_per_period(), used->device_seconds(), " s");
    }
  }
  return absl::OkStatus();
}

void ControllerServiceImpl::remember_node(const std::string& name) {
  auto node = membership_.node(name);
  std::optional<std::string> kept;
  if (node.ok()) {
    node->clear_state();
    node->clear_seconds_since_heartbeat();
    kept = node->SerializeAsString();
  }
  if (absl::Status status = store_.commit({{"nodes", name, kept}}); !status.ok()) {
    spdlog::error("node '{}' not kept in the state store: {}", name, status.ToString());
  }
}

absl::Status ControllerServiceImpl::check_communicator(const Caller& caller,
                                                       const std::string& comm_id) const {
  std::lock_guard lock(comm_mu_);
  auto it = comm_tenants_.find(comm_id);
  if (it == comm_tenants_.end() || in_scope(caller.scope(), it->second)) return absl::OkStatus();
  return absl::NotFoundError("no communicator " + comm_id);
}

grpc::Status ControllerServiceImpl::CreateTenant(grpc::ServerContext* context,
                                                 const tgrack::v1::CreateTenantRequest* request,
                                                 tgrack::v1::CreateTenantReply* reply) {
  auto who = caller(context, "CreateTenant", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  auto created = tenants_.create(*request);
  const std::string detail =
      request->role() == tgrack::v1::TOKEN_ROLE_ADMIN ? "role admin" : "role tenant";
  if (!created.ok()) return audited(*who, "create-tenant", request->name(), detail, created.status());
  *reply = *std::move(created);
  return audited(*who, "create-tenant", request->name(),
                 detail + ", token " + reply->tenant().tokens(0).id(), absl::OkStatus());
}

grpc::Status ControllerServiceImpl::ListTenants(grpc::ServerContext* context,
                                                const tgrack::v1::ListTenantsRequest*,
                                                tgrack::v1::ListTenantsReply* reply) {
  auto who = caller(context, "ListTenants", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  for (tgrack::v1::TenantInfo& tenant : tenants_.list()) *reply->add_tenants() = std::move(tenant);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::SetQuota(grpc::ServerContext* context,
                                             const tgrack::v1::SetQuotaRequest* request,
                                             tgrack::v1::SetQuotaReply*) {
  auto who = caller(context, "SetQuota", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  return audited(*who, "set-quota", request->tenant(), request->quota().ShortDebugString(),
                 tenants_.set_quota(request->tenant(), request->quota()));
}

grpc::Status ControllerServiceImpl::RotateToken(grpc::ServerContext* context,
                                                const tgrack::v1::RotateTokenRequest* request,
                                                tgrack::v1::RotateTokenReply* reply) {
  auto who = caller(context, "RotateToken", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  auto rotated = tenants_.rotate(request->tenant());
  if (!rotated.ok()) return audited(*who, "rotate-token", request->tenant(), "", rotated.status());
  *reply = *std::move(rotated);
  return audited(*who, "rotate-token", request->tenant(), "token " + reply->info().id(),
                 absl::OkStatus());
}

grpc::Status ControllerServiceImpl::RevokeToken(grpc::ServerContext* context,
                                                const tgrack::v1::RevokeTokenRequest* request,
                                                tgrack::v1::RevokeTokenReply*) {
  auto who = caller(context, "RevokeToken", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  return audited(*who, "revoke-token", request->token_id(), "",
                 tenants_.revoke(request->token_id()));
}

grpc::Status ControllerServiceImpl::ListAudit(grpc::ServerContext* context,
                                              const tgrack::v1::ListAuditRequest* request,
                                              tgrack::v1::ListAuditReply* reply) {
  auto who = caller(context, "ListAudit", Access::kAdmin);
  if (!who.ok()) return to_grpc(who.status());
  auto entries = audit_.recent(request->limit());
  if (!entries.ok()) return to_grpc(entries.status());
  for (tgrack::v1::AuditEntry& entry : *entries) *reply->add_entries() = std::move(entry);
  return grpc::Status::OK;
}

grpc::Status ControllerServiceImpl::GetUsage(grpc::ServerContext* context,
                                             const tgrack::v1::GetUsageRequest* request,
                                             tgrack::v1::GetUsageReply* reply) {
  auto who = caller(context, "GetUsage", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  auto usage = ledger_.usage(who->scope(), *request);
  if (!usage.ok()) return to_grpc(usage.status());
  *reply = *std::move(usage);
  return grpc::Status::OK;
}

}  // namespace tg
