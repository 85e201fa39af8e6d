#include "controller/grant_issuer.h"

#include <random>

#include <absl/strings/str_cat.h>

namespace tg {

namespace v1 = tgrack::v1;

namespace {

std::string random_prefix() {
  std::random_device random;
  return absl::StrCat("g-", absl::Hex(random(), absl::kZeroPad8),
                      absl::Hex(random(), absl::kZeroPad8));
}

std::string tenant_of(const Caller& caller) {
  return caller.tenant.empty() ? "default" : caller.tenant;
}

}  // namespace

GrantIssuer::GrantIssuer(const GrantSigner& signer, std::chrono::milliseconds lifetime)
    : signer_(signer), lifetime_(lifetime), prefix_(random_prefix()) {}

int64_t GrantIssuer::expires_unix_ms() const {
  return unix_ms(std::chrono::system_clock::now() + lifetime_);
}

v1::SignedGrant GrantIssuer::sign(v1::Grant grant, std::chrono::milliseconds lifetime) {
  grant.set_grant_id(absl::StrCat(prefix_, "-", next_++));
  grant.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + lifetime));
  return signer_.sign(grant);
}

v1::SignedGrant GrantIssuer::work(const std::string& node, const std::vector<uint32_t>& devices,
                                  const std::string& plan_id, const std::string& session,
                                  bool client_driven, std::chrono::milliseconds lifetime,
                                  const Caller& caller) {
  v1::Grant grant;
  grant.set_tenant(tenant_of(caller));
  grant.set_token_id(caller.token_id);
  grant.set_session(session);
  grant.set_node(node);
  for (uint32_t index : devices) grant.add_device_indices(index);
  grant.set_plan_id(plan_id);
  grant.set_client_driven(client_driven);
  return sign(std::move(grant), lifetime);
}

v1::SignedGrant GrantIssuer::read(const v1::DeviceRef& device, const std::string& session,
                                  const Caller& caller) {
  return work(device.node(), {device.index()}, "", session, /*client_driven=*/false, lifetime_,
              caller);
}

absl::StatusOr<v1::SignedGrant> GrantIssuer::renewed(const v1::SignedGrant& old,
                                                     const Caller& caller) {
  v1::Grant grant;
  if (old.grant().empty() || !grant.ParseFromString(old.grant())) {
    return absl::InternalError("a grant to renew holds no grant");
  }
  grant.set_token_id(caller.token_id);
  return sign(std::move(grant), lifetime_);
}

v1::SignedGrant GrantIssuer::tenant(const std::string& node, const std::string& tenant) {
  v1::Grant grant;
  grant.set_tenant(tenant);
  grant.set_node(node);
  return sign(std::move(grant), kTenantGrantLifetime);
}

}  // namespace tg
