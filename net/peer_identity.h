// Who called: the role and name a pool certificate carries, and the checks servers make with
// them. Every pool certificate (net/certificates.h) holds one URI subject alternative name
// "tgrack:ROLE:NAME" — tgrack:controller:controller, tgrack:node:NODE, tgrack:client:NAME —
// and NAME as its common name. A process serving in plain text (--insecure) authenticates
// nobody, and these checks let every call through.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <grpcpp/server_context.h>

namespace tg::net {

enum class Role { kController, kNode, kClient };

std::string_view role_name(Role role);              // "controller", "node", "client".
std::string role_uri(Role role, std::string_view name);  // "tgrack:node:node-a".

struct PeerIdentity {
  Role role;
  std::string name;
};

// The identity of the caller's certificate; nullopt when the call is not over TLS or the
// certificate holds no tgrack URI.
std::optional<PeerIdentity> peer_identity(const grpc::ServerContext& context);

// OK when the caller is node `node_name` (or the server runs in plain text); otherwise
// PERMISSION_DENIED naming the certificate's identity and `node_name`.
absl::Status require_node(const grpc::ServerContext& context, std::string_view node_name);

// OK when the caller is a pool component, the controller or a node (or the server runs in
// plain text); otherwise PERMISSION_DENIED naming `method` and the caller's role and name.
absl::Status require_component(const grpc::ServerContext& context, std::string_view method);

// A key for counting a caller's calls: its certificate identity, or its address in plain text.
std::string peer_key(const grpc::ServerContext& context);

}  // namespace tg::net
