#include "controller/authorizer.h"


namespace tg {

absl::StatusOr<Caller> authorize(const Tenants& tenants, const grpc::ServerContext& context,
                                 std::string_view method, Access access) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(std::string(method) +
                                      " needs a bearer token (tgctl --token, --token-file or "
                                      "TGRACK_TOKEN)");
  }
  const std::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError("the authorization metadata must be 'Bearer <token>'");
  }
  auto caller = tenants.authenticate(value.substr(kBearer.size()));
  if (!caller.ok()) return caller.status();
  if (access == Access::kAdmin && !caller->admin()) {
    return absl::PermissionDeniedError(std::string(method) +
                                       " needs role admin; the caller's token '" +
                                       caller->token_id + "' has role tenant (tenant '" +
                                       caller->tenant + "')");
  }
  return caller;
}

}  // namespace tg
