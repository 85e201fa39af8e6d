// A bound on the calls one client has open at once on a server, so that one client cannot
// take every thread of it. A client is the identity of its certificate (net/peer_identity.h);
// the pool's controller and nodes are not bounded this way, since they carry the calls of
// many clients. A call beyond the bound fails RESOURCE_EXHAUSTED naming the client and the
// limit before its handler runs, and the server goes on. The check sits in the TLS layer:
// a server in plain text (--insecure) is bounded only by its thread quota and streams.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

namespace tg::net {

inline constexpr int kDefaultCallsPerClient = 64;
// The bound of this process's servers (tgd and tgcontroller: --max-calls-per-client).
int calls_per_client();
void set_calls_per_client(int max_calls);

class ClientCallLimit : public std::enable_shared_from_this<ClientCallLimit> {
 public:
  // `flag` names the limit in errors (e.g. "--max-calls-per-client").
  static std::shared_ptr<ClientCallLimit> create(int max_calls, std::string flag);

  // Server credentials as server_credentials(), refusing calls over the limit (TLS only).
  std::shared_ptr<grpc::ServerCredentials> credentials();
  // Counts the open calls; add to the server being built (ServerBuilder
  // experimental().SetInterceptorCreators).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> counter();

  void call_started(const std::string& client);
  void call_finished(const std::string& client);
  // OK, or RESOURCE_EXHAUSTED naming `client` and the limit when it has max_calls open.
  grpc::Status admit(const std::string& client);

 private:
  ClientCallLimit(int max_calls, std::string flag) : max_calls_(max_calls), flag_(std::move(flag)) {}

  const int max_calls_;
  const std::string flag_;
  std::mutex mutex_;
  std::map<std::string, int> open_;  // By client identity; only clients with calls open.
};

// The identity a call's auth context names when its certificate is a client's (or carries no
// tgrack identity): "tgrack:client:NAME", the common name, or "" for a pool component.
std::string bounded_client(const grpc::AuthContext& auth);

}  // namespace tg::net
