// GrantIssuer: every grant the controller hands out (net/grant.h), signed with its key.
// Grant ids are a prefix random per controller start and a counter, so they never repeat.
// Work grants let a client (or the controller's own runs) run fragments on named devices of
// a node; read grants let a remote tensor's holder fetch its pieces and can be renewed when
// they run out; tenant grants let the controller act on a tenant's jobs on a node.
// Grants carry the caller's tenant ("default" when it has none) and token id. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "controller/tenants.h"
#include "net/grant.h"
#include "tgrack/v1/common.pb.h"
#include "tgrack/v1/grant.pb.h"

namespace tg {

class GrantIssuer {
 public:
  // `signer` must outlive the issuer; `lifetime` is how long client grants last
  // (tgcontroller --grant-lifetime).
  GrantIssuer(const GrantSigner& signer, std::chrono::milliseconds lifetime);

  std::chrono::milliseconds lifetime() const { return lifetime_; }
  // When a grant issued now for lifetime() runs out (Unix ms).
  int64_t expires_unix_ms() const;

  // Work on `devices` of `node` (the fragments carried in the request when `plan_id` is ""),
  // lasting `lifetime`.
  tgrack::v1::SignedGrant work(const std::string& node, const std::vector<uint32_t>& devices,
                               const std::string& plan_id, const std::string& session,
                               bool client_driven, std::chrono::milliseconds lifetime,
                               const Caller& caller);
  // Reading a remote tensor piece kept on `device` for `session`, lasting lifetime().
  tgrack::v1::SignedGrant read(const tgrack::v1::DeviceRef& device, const std::string& session,
                               const Caller& caller);
  // `old`, a grant this controller signed, again: same tenant, session, node and devices, a
  // fresh id, lasting lifetime() from now, issued under `caller`'s token (its old token may
  // have been rotated since). INTERNAL when `old` holds no grant.
  absl::StatusOr<tgrack::v1::SignedGrant> renewed(const tgrack::v1::SignedGrant& old,
                                                  const Caller& caller);
  // The controller's own calls about `tenant`'s jobs on `node` (CancelJob of a job a client
  // runs directly): no devices, lasting a minute.
  tgrack::v1::SignedGrant tenant(const std::string& node, const std::string& tenant);

 private:
  tgrack::v1::SignedGrant sign(tgrack::v1::Grant grant, std::chrono::milliseconds lifetime);

  static constexpr std::chrono::minutes kTenantGrantLifetime{1};
  const GrantSigner& signer_;
  const std::chrono::milliseconds lifetime_;
  const std::string prefix_;
  std::atomic<uint64_t> next_{1};
};

}  // namespace tg
