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

// Counts one call of a client from its initial metadata (when its certificate is known) until
// its status is sent, so a client that got its reply may call again at once; a call that ends
// without a status (cancelled) stops counting when it is destroyed.
class OpenCall final : public grpc::experimental::Interceptor {
 public:
  OpenCall(std::shared_ptr<ClientCallLimit> limit, grpc::experimental::ServerRpcInfo* info)
      : limit_(std::move(limit)), info_(info) {}
  ~OpenCall() override { finish(); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      std::shared_ptr<const grpc::AuthContext> auth = info_->server_context()->auth_context();
      client_ = auth == nullptr ? "" : bounded_client(*auth);
      if (!client_.empty()) limit_->call_started(client_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) finish();
    methods->Proceed();
  }

 private:
  void finish() {
    if (!client_.empty()) limit_->call_finished(client_);
    client_.clear();
  }

  std::shared_ptr<ClientCallLimit> limit_;
  grpc::experimental::ServerRpcInfo* info_;
  std::string client_;  // Counted until finish(); empty for components and when finished.
};

class OpenCallCounter final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit OpenCallCounter(std::shared_ptr<ClientCallLimit> limit) : limit_(std::move(limit)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new OpenCall(limit_, info);
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
