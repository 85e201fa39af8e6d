#include "net/call_limits.h"

#include <atomic>

#include <grpc/grpc_security_constants.h>
#include <grpcpp/support/server_interceptor.h>

#include "net/peer_identity.h"
#include "net/transport_security.h"

namespace tg::net {
namespace {

// Refuses a call, before it reaches its handler, when its client has too many open. Runs
// inline on gRPC's thread (not blocking): it only reads a map under a mutex.
class Admission final : public grpc::AuthMetadataProcessor {
 public:
  explicit Admission(std::weak_ptr<ClientCallLimit> limit) : limit_(std::move(limit)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    std::shared_ptr<ClientCallLimit> limit = limit_.lock();
    if (limit == nullptr || context == nullptr) return grpc::Status::OK;
    const std::string client = bounded_client(*context);
    return client.empty() ? grpc::Status::OK : limit->admit(client);
  }

 private:
  std::weak_ptr<ClientCallLimit> limit_;
};

// Counts one call of its client for as long as the call lives.
class OpenCall final : public grpc::experimental::Interceptor {
 public:
  OpenCall(std::shared_ptr<ClientCallLimit> limit, std::string client)
      : limit_(std::move(limit)), client_(std::move(client)) {
    limit_->call_started(client_);
  }
  ~OpenCall() override { limit_->call_finished(client_); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  std::shared_ptr<ClientCallLimit> limit_;
  std::string client_;
};

class OpenCallCounter final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit OpenCallCounter(std::shared_ptr<ClientCallLimit> limit) : limit_(std::move(limit)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::shared_ptr<const grpc::AuthContext> auth = info->server_context()->auth_context();
    const std::string client = auth == nullptr ? "" : bounded_client(*auth);
    return client.empty() ? nullptr : new OpenCall(limit_, client);
  }

 private:
  std::shared_ptr<ClientCallLimit> limit_;
};

std::atomic<int> process_calls_per_client{kDefaultCallsPerClient};

}  // namespace

int calls_per_client() { return process_calls_per_client.load(); }
void set_calls_per_client(int max_calls) { process_calls_per_client = max_calls; }

std::shared_ptr<ClientCallLimit> ClientCallLimit::create(int max_calls, std::string flag) {
  return std::shared_ptr<ClientCallLimit>(new ClientCallLimit(max_calls, std::move(flag)));
}

std::shared_ptr<grpc::ServerCredentials> ClientCallLimit::credentials() {
  std::shared_ptr<grpc::ServerCredentials> credentials = server_credentials();
  if (!transport_security()->insecure) {
    credentials->SetAuthMetadataProcessor(std::make_shared<Admission>(weak_from_this()));
  }
  return credentials;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> ClientCallLimit::counter() {
  return std::make_unique<OpenCallCounter>(shared_from_this());
}

void ClientCallLimit::call_started(const std::string& client) {
  std::lock_guard lock(mutex_);
  ++open_[client];
}

void ClientCallLimit::call_finished(const std::string& client) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(client); it != open_.end() && --it->second <= 0) open_.erase(it);
}

grpc::Status ClientCallLimit::admit(const std::string& client) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(client);
  if (it == open_.end() || it->second < max_calls_) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      client + " has " + std::to_string(it->second) +
                          " calls open on this server, the limit per client (" + flag_ + " " +
                          std::to_string(max_calls_) + ")");
}

std::string bounded_client(const grpc::AuthContext& auth) {
  for (const grpc::string_ref& value : auth.FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    const std::string san(value.data(), value.size());
    if (san.rfind(role_uri(Role::kNode, ""), 0) == 0 ||
        san.rfind(role_uri(Role::kController, ""), 0) == 0) {
      return "";
    }
    if (san.rfind(role_uri(Role::kClient, ""), 0) == 0) return san;
  }
  for (const grpc::string_ref& value : auth.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    return "certificate '" + std::string(value.data(), value.size()) + "'";
  }
  return "";
}

}  // namespace tg::net
