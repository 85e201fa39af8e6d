// The bearer token a program shows the controller (`authorization: Bearer tgr_...` metadata
// on every call): the one set with set_bearer_token(), else $TGRACK_TOKEN, else the contents
// of the file $TGRACK_TOKEN_FILE names. tgd and tgcontroller set "" (they are known by their
// certificates). make_channel() adds the token to every call of the channels it makes.
#pragma once

#include <memory>
#include <string>

#include <absl/status/statusor.h>
#include <grpcpp/support/client_interceptor.h>

namespace tg::net {

void set_bearer_token(std::string token);
// The token of this process; "" = none.
std::string bearer_token();
// The token in file `path` (surrounding white space dropped). INVALID_ARGUMENT naming the
// file when it cannot be read or is empty.
absl::StatusOr<std::string> read_token_file(const std::string& path);

// Adds `token` as the authorization metadata of every call of a channel.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> bearer_token_interceptor(
    std::string token);

}  // namespace tg::net
