// GetPoolKernelStats (tgctl top): every UP daemon's kernel scoreboard, asked by the
// controller (daemons answer only pool components) and cut to the caller's tenant: a tenant
// sees the rows of its own jobs, an admin every row.
#include <algorithm>
#include <chrono>

#include "controller/controller_service.h"
#include "net/rpc.h"

namespace tg {
namespace {

constexpr std::chrono::seconds kAskTimeout{5};

// Drops the rows of tenants outside `scope` ("" = keeps all).
void keep_scope(const std::string& scope, tgrack::v1::GetKernelStatsReply& stats) {
  if (scope.empty()) return;
  auto* kernels = stats.mutable_kernels();
  kernels->erase(std::remove_if(kernels->begin(), kernels->end(),
                                [&](const auto& row) { return row.tenant() != scope; }),
                 kernels->end());
  auto* copies = stats.mutable_copies();
  copies->erase(std::remove_if(copies->begin(), copies->end(),
                               [&](const auto& row) { return row.tenant() != scope; }),
                copies->end());
}

}  // namespace

grpc::Status ControllerServiceImpl::GetPoolKernelStats(
    grpc::ServerContext* context, const tgrack::v1::GetPoolKernelStatsRequest*,
    tgrack::v1::GetPoolKernelStatsReply* reply) {
  auto who = caller(context, "GetPoolKernelStats", Access::kTenant);
  if (!who.ok()) return to_grpc(who.status());
  for (const tgrack::v1::NodeInfo& node : membership_.listed(/*all=*/false)) {
    if (node.state() != tgrack::v1::NODE_STATE_UP) continue;
    tgrack::v1::NodeKernelStats* entry = reply->add_nodes();
    entry->set_node(node.name());
    auto ask = context_with_deadline(kAskTimeout);
    absl::Status status = from_grpc(stubs_.at(node.address())
                                        .GetKernelStats(ask.get(), {}, entry->mutable_stats()));
    if (!status.ok()) {
      entry->clear_stats();
      entry->set_error(std::string(status.message()));
    }
    keep_scope(who->scope(), *entry->mutable_stats());
  }
  return grpc::Status::OK;
}

}  // namespace tg
