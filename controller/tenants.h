// Tenants: who may use the pool, with their quotas and bearer tokens, kept in the StateStore.
//
// A token is "tgr_<id>_<secret>": 64 random bits of id, by which it is listed and revoked,
// and 128 random bits of secret. It is returned once, when it is made; the store keeps its
// SHA-256 only. A token has a role: `admin` (everything) or `tenant` (its own tenant's work).
// authenticate() checks a token in memory (no store read), so a revocation takes effect on the
// next call. Every change is committed to the store before it shows here. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include "controller/state_store.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

// The caller of an RPC, once its token is checked.
struct Caller {
  std::string tenant;
  std::string token_id;
  tgrack::v1::TokenRole role = tgrack::v1::TOKEN_ROLE_TENANT;

  bool admin() const { return role == tgrack::v1::TOKEN_ROLE_ADMIN; }
  // Whose objects the caller sees: "" = everyone's (an admin), else its tenant's.
  std::string scope() const { return admin() ? std::string() : tenant; }
  // "tenant/token-id", for the audit log and errors.
  std::string name() const { return tenant + "/" + token_id; }
};

// Whether a tenant scope ("" = every tenant) covers an object of `owner`.
inline bool in_scope(const std::string& scope, const std::string& owner) {
  return scope.empty() || scope == owner;
}

class Tenants {
 public:
  // Loads the tenants and tokens kept in `store`, which must outlive it.
  static absl::StatusOr<std::unique_ptr<Tenants>> load(StateStore& store);

  // A new tenant with its first token. INVALID_ARGUMENT for a bad name, ALREADY_EXISTS for a
  // taken one.
  absl::StatusOr<tgrack::v1::CreateTenantReply> create(const tgrack::v1::CreateTenantRequest& request);
  std::vector<tgrack::v1::TenantInfo> list() const;
  // NOT_FOUND naming an unknown tenant.
  absl::StatusOr<tgrack::v1::TenantInfo> tenant(const std::string& name) const;
  absl::Status set_quota(const std::string& name, const tgrack::v1::Quota& quota);
  // A fresh token for `tenant` (its role: the tenant's strongest); its other tokens are revoked.
  absl::StatusOr<tgrack::v1::RotateTokenReply> rotate(const std::string& tenant);
  // NOT_FOUND naming an unknown token id.
  absl::Status revoke(const std::string& token_id);
  std::vector<std::string> revoked_ids() const;
  bool has_admin() const;

  // The caller a token names; UNAUTHENTICATED saying why when it is malformed, unknown,
  // forged or revoked.
  absl::StatusOr<Caller> authenticate(std::string_view token) const;

 private:
  struct Token {
    tgrack::v1::TokenInfo info;
    std::string sha256;  // Of the whole token, lower-case hex.
  };
  explicit Tenants(StateStore& store) : store_(store) {}
  // Makes a token for `tenant` with `role`; returns it and the writes that keep it.
  std::pair<std::string, Token> make_token(const std::string& tenant, tgrack::v1::TokenRole role);
  std::vector<StateStore::Put> token_puts(const Token& token) const;
  tgrack::v1::TenantInfo with_tokens(tgrack::v1::TenantInfo tenant) const;  // Caller holds mu_.

  StateStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, tgrack::v1::TenantInfo> tenants_;  // By name, without tokens.
  std::map<std::string, Token> tokens_;                    // By id.
};

}  // namespace tg
