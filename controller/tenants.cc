#include "controller/tenants.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <regex>

#include <absl/strings/str_split.h>

namespace tg {
namespace {

constexpr char kTenantsTable[] = "tenants";
constexpr char kTokensTable[] = "tokens";
constexpr char kHashesTable[] = "token-hashes";

std::string hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 15];
  }
  return text;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  RAND_bytes(buffer.data(), static_cast<int>(bytes));
  return hex(buffer.data(), bytes);
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return hex(digest, sizeof(digest));
}

double now_unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

absl::Status bad_token(std::string_view why) {
  return absl::UnauthenticatedError("the bearer token " + std::string(why));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tenants>> Tenants::load(StateStore& store) {
  std::unique_ptr<Tenants> tenants(new Tenants(store));
  auto rows = store.table(kTenantsTable);
  if (!rows.ok()) return rows.status();
  for (const auto& [name, bytes] : *rows) tenants->tenants_[name].ParseFromString(bytes);
  auto infos = store.table(kTokensTable);
  if (!infos.ok()) return infos.status();
  auto hashes = store.table(kHashesTable);
  if (!hashes.ok()) return hashes.status();
  for (const auto& [id, bytes] : *infos) {
    Token& token = tenants->tokens_[id];
    token.info.ParseFromString(bytes);
    token.sha256 = (*hashes)[id];
  }
  return tenants;
}

std::pair<std::string, Tenants::Token> Tenants::make_token(const std::string& tenant,
                                                          tgrack::v1::TokenRole role) {
  Token token;
  token.info.set_id(random_hex(8));
  token.info.set_tenant(tenant);
  token.info.set_role(role);
  token.info.set_created_unix_seconds(now_unix_seconds());
  std::string secret = "tgr_" + token.info.id() + "_" + random_hex(16);
  token.sha256 = sha256_hex(secret);
  return {std::move(secret), std::move(token)};
}

std::vector<StateStore::Put> Tenants::token_puts(const Token& token) const {
  return {{kTokensTable, token.info.id(), token.info.SerializeAsString()},
          {kHashesTable, token.info.id(), token.sha256}};
}

tgrack::v1::TenantInfo Tenants::with_tokens(tgrack::v1::TenantInfo tenant) const {
  for (const auto& [id, token] : tokens_) {
    if (token.info.tenant() == tenant.name()) *tenant.add_tokens() = token.info;
  }
  return tenant;
}

absl::StatusOr<tgrack::v1::CreateTenantReply> Tenants::create(
    const tgrack::v1::CreateTenantRequest& request) {
  static const std::regex kName("[a-z0-9][a-z0-9._-]{0,62}");
  if (!std::regex_match(request.name(), kName)) {
    return absl::InvalidArgumentError("tenant name '" + request.name() +
                                      "' must match [a-z0-9][a-z0-9._-]{0,62}");
  }
  const tgrack::v1::TokenRole role = request.role() == tgrack::v1::TOKEN_ROLE_ADMIN
                                         ? tgrack::v1::TOKEN_ROLE_ADMIN
                                         : tgrack::v1::TOKEN_ROLE_TENANT;
  std::lock_guard lock(mu_);
  if (tenants_.contains(request.name())) {
    return absl::AlreadyExistsError("tenant '" + request.name() + "' exists");
  }
  tgrack::v1::TenantInfo tenant;
  tenant.set_name(request.name());
  *tenant.mutable_quota() = request.quota();
  tenant.set_created_unix_seconds(now_unix_seconds());
  auto [secret, token] = make_token(request.name(), role);
  std::vector<StateStore::Put> puts = token_puts(token);
  puts.push_back({kTenantsTable, tenant.name(), tenant.SerializeAsString()});
  if (absl::Status status = store_.commit(puts); !status.ok()) return status;
  tenants_[tenant.name()] = tenant;
  tokens_[token.info.id()] = token;
  tgrack::v1::CreateTenantReply reply;
  *reply.mutable_tenant() = with_tokens(tenant);
  reply.set_token(secret);
  return reply;
}

std::vector<tgrack::v1::TenantInfo> Tenants::list() const {
  std::lock_guard lock(mu_);
  std::vector<tgrack::v1::TenantInfo> listed;
  for (const auto& [name, tenant] : tenants_) listed.push_back(with_tokens(tenant));
  return listed;
}

absl::StatusOr<tgrack::v1::TenantInfo> Tenants::tenant(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(name);
  if (it == tenants_.end()) return absl::NotFoundError("unknown tenant '" + name + "'");
  return with_tokens(it->second);
}

absl::Status Tenants::set_quota(const std::string& name, const tgrack::v1::Quota& quota) {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(name);
  if (it == tenants_.end()) return absl::NotFoundError("unknown tenant '" + name + "'");
  tgrack::v1::TenantInfo changed = it->second;
  *changed.mutable_quota() = quota;
  if (absl::Status status = store_.commit({{kTenantsTable, name, changed.SerializeAsString()}});
      !status.ok()) {
    return status;
  }
  it->second = std::move(changed);
  return absl::OkStatus();
}

absl::StatusOr<tgrack::v1::RotateTokenReply> Tenants::rotate(const std::string& tenant) {
  std::lock_guard lock(mu_);
  if (!tenants_.contains(tenant)) return absl::NotFoundError("unknown tenant '" + tenant + "'");
  tgrack::v1::TokenRole role = tgrack::v1::TOKEN_ROLE_TENANT;
  std::vector<Token> revoked;
  for (const auto& [id, token] : tokens_) {
    if (token.info.tenant() != tenant) continue;
    if (token.info.role() == tgrack::v1::TOKEN_ROLE_ADMIN) role = tgrack::v1::TOKEN_ROLE_ADMIN;
    if (token.info.revoked()) continue;
    revoked.push_back(token);
    revoked.back().info.set_revoked(true);
  }
  auto [secret, fresh] = make_token(tenant, role);
  std::vector<StateStore::Put> puts = token_puts(fresh);
  for (const Token& token : revoked) {
    for (StateStore::Put& put : token_puts(token)) puts.push_back(std::move(put));
  }
  if (absl::Status status = store_.commit(puts); !status.ok()) return status;
  tgrack::v1::RotateTokenReply reply;
  for (const Token& token : revoked) {
    tokens_[token.info.id()] = token;
    reply.add_revoked_token_ids(token.info.id());
  }
  tokens_[fresh.info.id()] = fresh;
  reply.set_token(secret);
  *reply.mutable_info() = fresh.info;
  return reply;
}

absl::Status Tenants::revoke(const std::string& token_id) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token_id);
  if (it == tokens_.end()) return absl::NotFoundError("unknown token id '" + token_id + "'");
  Token revoked = it->second;
  revoked.info.set_revoked(true);
  if (absl::Status status = store_.commit(token_puts(revoked)); !status.ok()) return status;
  it->second = std::move(revoked);
  return absl::OkStatus();
}

std::vector<std::string> Tenants::revoked_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, token] : tokens_) {
    if (token.info.revoked()) ids.push_back(id);
  }
  return ids;
}

bool Tenants::has_admin() const {
  std::lock_guard lock(mu_);
  for (const auto& [id, token] : tokens_) {
    if (token.info.role() == tgrack::v1::TOKEN_ROLE_ADMIN && !token.info.revoked()) return true;
  }
  return false;
}

absl::StatusOr<Caller> Tenants::authenticate(std::string_view token) const {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(token.data(), token.size()), '_');
  if (parts.size() != 3 || parts[0] != "tgr" || parts[1].size() != 16 || parts[2].size() != 32) {
    return bad_token("is malformed (expected tgr_<id>_<secret>)");
  }
  const std::string hash = sha256_hex(token);
  std::lock_guard lock(mu_);
  auto it = tokens_.find(std::string(parts[1]));
  if (it == tokens_.end() || it->second.sha256.size() != hash.size() ||
      CRYPTO_memcmp(it->second.sha256.data(), hash.data(), hash.size()) != 0) {
    return bad_token("is not one this controller issued (unknown or forged)");
  }
  const tgrack::v1::TokenInfo& info = it->second.info;
  if (info.revoked()) return bad_token("'" + info.id() + "' was revoked");
  return Caller{info.tenant(), info.id(), info.role()};
}

}  // namespace tg
