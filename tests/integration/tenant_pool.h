// A Pool with tenants: the admin (the harness's token) makes tenants through the controller
// and tests act as each of them with a Client or raw stubs carrying that tenant's token.
#pragma once

#include <memory>
#include <string>

#include <absl/status/statusor.h>

#include "pool.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::testing {

// A tenant as the admin made it: its name, token and token id.
struct TestTenant {
  std::string name, token, token_id;
};

// Creates tenant `name` with `quota` as the admin of `pool`.
inline absl::StatusOr<TestTenant> create_tenant(Pool& pool, const std::string& name,
                                                const tgrack::v1::Quota& quota = {}) {
  auto admin = tgrack::v1::ControllerService::NewStub(
      make_channel(pool.controller_address(), true, pool.admin_token()));
  tgrack::v1::CreateTenantRequest request;
  request.set_name(name);
  *request.mutable_quota() = quota;
  tgrack::v1::CreateTenantReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  if (absl::Status s = from_grpc(admin->CreateTenant(context.get(), request, &reply)); !s.ok()) {
    return s;
  }
  return TestTenant{name, reply.token(), reply.tenant().tokens(0).id()};
}

// The controller's stub as `token`'s holder ("" = no token at all).
inline std::unique_ptr<tgrack::v1::ControllerService::Stub> controller_as(
    const Pool& pool, const std::string& token) {
  return tgrack::v1::ControllerService::NewStub(
      make_channel(pool.controller_address(), true, token));
}

}  // namespace tg::testing
