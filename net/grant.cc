#include "net/grant.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/time/time.h>

namespace tg {

namespace v1 = tgrack::v1;

struct EvpKey {
  explicit EvpKey(EVP_PKEY* k) : key(k) {}
  ~EvpKey() { EVP_PKEY_free(key); }
  EVP_PKEY* key;
};

namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string raw_public_key(EVP_PKEY* key) {
  std::string raw(kKeyBytes, '\0');
  size_t size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &size) != 1) {
    return "";
  }
  raw.resize(size);
  return raw;
}

struct MdCtx {
  MdCtx() : ctx(EVP_MD_CTX_new()) {}
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
  EVP_MD_CTX* ctx;
};

// What every refusal of an expired grant ends with, and what is_expired_grant() looks for.
constexpr char kExpiredAdvice[] = "; ask the controller for a fresh one";

std::string time_text(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

}  // namespace

bool is_expired_grant(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated &&
         absl::StrContains(status.message(), " expired at ") &&
         absl::StrContains(status.message(), kExpiredAdvice);
}

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

GrantSigner::GrantSigner(std::shared_ptr<EvpKey> key)
    : key_(std::move(key)), public_key_(raw_public_key(key_->key)) {}

absl::StatusOr<GrantSigner> GrantSigner::generate() {
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  const bool made = ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &key) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!made) return absl::InternalError("making an Ed25519 grant key: " + openssl_error());
  return GrantSigner(std::make_shared<EvpKey>(key));
}

absl::StatusOr<GrantSigner> GrantSigner::load_or_create(const std::string& path) {
  if (FILE* in = std::fopen(path.c_str(), "r")) {
    EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
    std::fclose(in);
    if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
      EVP_PKEY_free(key);
      return absl::InvalidArgumentError("grant key " + path + " is not an Ed25519 private key in PEM");
    }
    return GrantSigner(std::make_shared<EvpKey>(key));
  }
  auto signer = generate();
  if (!signer.ok()) return signer;
  const mode_t old_mask = ::umask(077);
  FILE* out = std::fopen(path.c_str(), "w");
  ::umask(old_mask);
  if (out == nullptr) return absl::PermissionDeniedError("cannot write grant key " + path);
  const bool written = PEM_write_PrivateKey(out, signer->key_->key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (std::fclose(out) != 0 || !written) {
    return absl::InternalError("writing grant key " + path + ": " + openssl_error());
  }
  return signer;
}

v1::SignedGrant GrantSigner::sign(const v1::Grant& grant) const {
  v1::SignedGrant signed_grant;
  grant.SerializeToString(signed_grant.mutable_grant());
  std::string signature(kSignatureBytes, '\0');
  size_t size = signature.size();
  MdCtx md;
  const auto* data = reinterpret_cast<const unsigned char*>(signed_grant.grant().data());
  if (EVP_DigestSignInit(md.ctx, nullptr, nullptr, nullptr, key_->key) == 1 &&
      EVP_DigestSign(md.ctx, reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                     signed_grant.grant().size()) == 1) {
    signature.resize(size);
    signed_grant.set_signature(std::move(signature));
  }
  return signed_grant;
}

absl::Status GrantVerifier::trust(const std::string& public_key) {
  if (public_key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a grant key has ", kKeyBytes, " bytes, not ",
                                                   public_key.size()));
  }
  std::lock_guard lock(mu_);
  if (std::any_of(keys_.begin(), keys_.end(), [&](const auto& k) { return k.first == public_key; })) {
    return absl::OkStatus();
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size());
  if (key == nullptr) return absl::InvalidArgumentError("bad grant key: " + openssl_error());
  keys_.emplace_back(public_key, std::make_shared<EvpKey>(key));
  if (keys_.size() > kKeysKept) keys_.erase(keys_.begin());
  first_key_.notify_all();
  return absl::OkStatus();
}

bool GrantVerifier::has_keys() const {
  std::lock_guard lock(mu_);
  return !keys_.empty();
}

absl::StatusOr<v1::Grant> GrantVerifier::check_signature(const v1::SignedGrant& signed_grant) const {
  std::vector<std::shared_ptr<EvpKey>> keys;
  {
    std::unique_lock lock(mu_);
    first_key_.wait_for(lock, kFirstKeyWait, [&] { return !keys_.empty(); });
    if (auto it = verified_.find(signed_grant.signature()); it != verified_.end()) {
      // The same signature over other bytes is a forgery: compare what was signed.
      if (it->second.first == signed_grant.grant()) return it->second.second;
    }
    for (const auto& [raw, key] : keys_) keys.push_back(key);
  }
  if (keys.empty()) {
    return absl::UnavailableError(
        "this daemon cannot check grants yet: it has not registered with the controller");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(signed_grant.grant().data());
  const auto* signature = reinterpret_cast<const unsigned char*>(signed_grant.signature().data());
  bool valid = false;
  for (auto it = keys.rbegin(); it != keys.rend() && !valid; ++it) {
    MdCtx md;
    valid = EVP_DigestVerifyInit(md.ctx, nullptr, nullptr, nullptr, (*it)->key) == 1 &&
            EVP_DigestVerify(md.ctx, signature, signed_grant.signature().size(), data,
                             signed_grant.grant().size()) == 1;
  }
  ERR_clear_error();
  if (!valid) {
    return absl::UnauthenticatedError(
        "grant signature does not verify with the controller's key (forged, altered, or "
        "signed by another controller)");
  }
  v1::Grant grant;
  if (!grant.ParseFromString(signed_grant.grant())) {
    return absl::UnauthenticatedError("grant is signed but is not a tgrack.v1.Grant");
  }
  std::lock_guard lock(mu_);
  if (verified_.size() >= kVerifiedKept) verified_.clear();
  verified_.emplace(signed_grant.signature(), std::make_pair(signed_grant.grant(), grant));
  return grant;
}

void GrantVerifier::set_revoked(std::set<std::string> token_ids) {
  std::lock_guard lock(mu_);
  revoked_ = std::move(token_ids);
}

absl::StatusOr<v1::Grant> GrantVerifier::verify_tenant(
    const v1::SignedGrant& signed_grant, const std::string& node,
    std::chrono::system_clock::time_point now) const {
  if (signed_grant.grant().empty() && signed_grant.signature().empty()) {
    return absl::UnauthenticatedError(
        "no grant: ask the controller to place the work (Place) and send its grant");
  }
  auto grant = check_signature(signed_grant);
  if (!grant.ok()) return grant;
  if (!grant->token_id().empty()) {
    std::lock_guard lock(mu_);
    if (revoked_.contains(grant->token_id())) {
      return absl::UnauthenticatedError(absl::StrCat("grant ", grant->grant_id(),
                                                     " was issued under token '",
                                                     grant->token_id(), "', which was revoked"));
    }
  }
  if (unix_ms(now) >= grant->expires_unix_ms()) {
    return absl::UnauthenticatedError(absl::StrCat("grant ", grant->grant_id(), " expired at ",
                                                   time_text(grant->expires_unix_ms()),
                                                   kExpiredAdvice));
  }
  if (grant->node() != node) {
    return absl::PermissionDeniedError(absl::StrCat("grant ", grant->grant_id(), " is for node '",
                                                    grant->node(), "', not '", node, "'"));
  }
  return grant;
}

absl::StatusOr<v1::Grant> GrantVerifier::verify(const v1::SignedGrant& signed_grant,
                                                const GrantedWork& work,
                                                std::chrono::system_clock::time_point now) const {
  auto grant = verify_tenant(signed_grant, work.node, now);
  if (!grant.ok()) return grant;
  for (uint32_t index : work.device_indices) {
    if (std::find(grant->device_indices().begin(), grant->device_indices().end(), index) ==
        grant->device_indices().end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "grant ", grant->grant_id(), " does not cover device ", work.node, "/", index,
          " (granted: ", absl::StrJoin(grant->device_indices(), ","), ")"));
    }
  }
  if (grant->plan_id() != work.plan_id) {
    return absl::PermissionDeniedError(absl::StrCat(
        "grant ", grant->grant_id(), " is for ",
        grant->plan_id().empty() ? std::string("fragments carried in the request")
                                 : "plan " + grant->plan_id(),
        ", not ", work.plan_id.empty() ? std::string("fragments carried in the request")
                                       : "plan " + work.plan_id));
  }
  return grant;
}

}  // namespace tg
