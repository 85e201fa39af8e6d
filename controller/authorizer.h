// Who may call what on the controller: the one check every ControllerService handler makes
// before it reads its request (but Register and Heartbeat, which are the nodes' and check
// their certificates instead, net/peer_identity.h).
//   kTenant: any valid bearer token (`authorization: Bearer tgr_...` metadata); the handler
//     then limits what it touches to the caller's tenant (Caller::scope()).
//   kAdmin: a token with role admin.
// UNAUTHENTICATED when the token is missing, malformed, unknown, forged or revoked;
// PERMISSION_DENIED naming the method, the role it needs and the caller's.
#pragma once

#include <string_view>

#include <absl/status/statusor.h>
#include <grpcpp/server_context.h>

#include "controller/tenants.h"

namespace tg {

enum class Access { kTenant, kAdmin };

absl::StatusOr<Caller> authorize(const Tenants& tenants, const grpc::ServerContext& context,
                                 std::string_view method, Access access);

}  // namespace tg
