#include "net/peer_identity.h"

#include <absl/strings/str_split.h>
#include <grpc/grpc_security_constants.h>

#include "net/transport_security.h"

namespace tg::net {
namespace {

std::optional<Role> parse_role(std::string_view text) {
  for (Role role : {Role::kController, Role::kNode, Role::kClient}) {
    if (text == role_name(role)) return role;
  }
  return std::nullopt;
}

bool plain_text() { return transport_security()->insecure; }

std::string describe(const std::optional<PeerIdentity>& peer) {
  if (!peer) return "a certificate without a tgrack identity";
  return std::string(role_name(peer->role)) + " '" + peer->name + "'";
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kController: return "controller";
    case Role::kNode: return "node";
    case Role::kClient: return "client";
  }
  return "unknown";
}

std::string role_uri(Role role, std::string_view name) {
  return "tgrack:" + std::string(role_name(role)) + ":" + std::string(name);
}

std::optional<PeerIdentity> peer_identity(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return std::nullopt;
  for (const grpc::string_ref& value : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    const absl::string_view san(value.data(), value.size());
    std::vector<std::string> parts = absl::StrSplit(san, absl::MaxSplits(':', 2));
    if (parts.size() != 3 || parts[0] != "tgrack") continue;
    if (std::optional<Role> role = parse_role(parts[1])) {
      return PeerIdentity{*role, std::string(parts[2])};
    }
  }
  return std::nullopt;
}

absl::Status require_node(const grpc::ServerContext& context, std::string_view node_name) {
  if (plain_text()) return absl::OkStatus();
  const std::optional<PeerIdentity> peer = peer_identity(context);
  if (peer && peer->role == Role::kNode && peer->name == node_name) return absl::OkStatus();
  return absl::PermissionDeniedError("the caller's certificate is " + describe(peer) +
                                     ", not node '" + std::string(node_name) + "'");
}

absl::Status require_component(const grpc::ServerContext& context, std::string_view method) {
  if (plain_text()) return absl::OkStatus();
  const std::optional<PeerIdentity> peer = peer_identity(context);
  if (peer && (peer->role == Role::kNode || peer->role == Role::kController)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      std::string(method) + " is for the pool's controller and nodes; the caller's certificate is " +
      describe(peer));
}

std::string peer_key(const grpc::ServerContext& context) {
  if (std::optional<PeerIdentity> peer = peer_identity(context)) {
    return role_uri(peer->role, peer->name);
  }
  const std::string address = context.peer();  // "ipv4:127.0.0.1:5555": the host alone.
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace tg::net
