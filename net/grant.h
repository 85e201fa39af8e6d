// Grants (tgrack/v1/grant.proto): the controller's signed permission for a client to run
// work on one daemon's devices. The controller signs with an Ed25519 key (GrantSigner); a
// daemon verifies locally with the public key alone (GrantVerifier), never calling the
// controller. Refusals name why: UNAUTHENTICATED for a missing grant, a bad signature or an
// expired grant; PERMISSION_DENIED for work on another node, devices or plan than granted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "tgrack/v1/grant.pb.h"

namespace tg {

struct EvpKey;  // An OpenSSL EVP_PKEY, shared by copies.

// Holds the controller's private key. Copyable; signing is thread-safe.
class GrantSigner {
 public:
  // A fresh key.
  static absl::StatusOr<GrantSigner> generate();
  // The key in PEM file `path`, or a fresh one written there (mode 0600) when it is absent.
  static absl::StatusOr<GrantSigner> load_or_create(const std::string& path);

  const std::string& public_key() const { return public_key_; }  // 32 raw bytes.
  tgrack::v1::SignedGrant sign(const tgrack::v1::Grant& grant) const;

 private:
  explicit GrantSigner(std::shared_ptr<EvpKey> key);
  std::shared_ptr<EvpKey> key_;
  std::string public_key_;
};

// What a call asks to do under a grant.
struct GrantedWork {
  std::string node;                      // The daemon's own node name.
  std::vector<uint32_t> device_indices;  // Every device the call runs on.
  std::string plan_id;                   // "" = fragments carried in the request.
};

// Checks grants against the controller keys it was given: the current one and a few before
// it, so grants signed before a controller restarted with a new key stay good until they
// expire. Verified grants are remembered (by their exact bytes), so a replayed grant costs a
// lookup, not a signature check. A grant issued under a revoked bearer token (set_revoked,
// from the controller's heartbeat replies) is refused, UNAUTHENTICATED naming the token.
// A check that arrives before the first key (a call racing the daemon's registration) waits
// for it up to kFirstKeyWait, then answers UNAVAILABLE. Thread-safe.
class GrantVerifier {
 public:
  // Trusts `public_key` (32 raw bytes) from now on; INVALID_ARGUMENT for a malformed key.
  absl::Status trust(const std::string& public_key);
  bool has_keys() const;
  // The revoked token ids, all of them (replacing the ones set before).
  void set_revoked(std::set<std::string> token_ids);

  // The grant, when `signed_grant` is valid for `work` at `now`.
  absl::StatusOr<tgrack::v1::Grant> verify(const tgrack::v1::SignedGrant& signed_grant,
                                           const GrantedWork& work,
                                           std::chrono::system_clock::time_point now) const;
  // The grant, when `signed_grant` is valid on `node` at `now`, whatever devices and plan it
  // names: for calls about a tenant's objects there (FetchTensor, CancelJob), which the
  // caller then limits to the grant's tenant.
  absl::StatusOr<tgrack::v1::Grant> verify_tenant(const tgrack::v1::SignedGrant& signed_grant,
                                                  const std::string& node,
                                                  std::chrono::system_clock::time_point now) const;

 private:
  absl::StatusOr<tgrack::v1::Grant> check_signature(
      const tgrack::v1::SignedGrant& signed_grant) const;

  static constexpr std::chrono::seconds kFirstKeyWait{2};
  static constexpr size_t kKeysKept = 4;
  static constexpr size_t kVerifiedKept = 4096;
  mutable std::mutex mu_;
  mutable std::condition_variable first_key_;
  std::vector<std::pair<std::string, std::shared_ptr<EvpKey>>> keys_;  // Newest last.
  std::set<std::string> revoked_;  // Token ids.
  // Grants verified, by signature: the bytes signed, and the grant they hold.
  mutable std::map<std::string, std::pair<std::string, tgrack::v1::Grant>> verified_;
};

// Whether `status` is a verifier's refusal of a grant that ran out (UNAUTHENTICATED), as it
// reaches a caller through an RPC (with the daemon's words around it): the holder may ask
// the controller for a fresh grant and try again.
bool is_expired_grant(const absl::Status& status);

// Milliseconds since the Unix epoch.
int64_t unix_ms(std::chrono::system_clock::time_point t);

}  // namespace tg
