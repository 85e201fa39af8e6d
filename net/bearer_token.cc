#include "net/bearer_token.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include <absl/strings/ascii.h>

namespace tg::net {
namespace {

std::mutex token_mutex;
std::optional<std::string> token_set;

class BearerTokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string& header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class BearerTokenFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : header_("Bearer " + std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

void set_bearer_token(std::string token) {
  std::lock_guard lock(token_mutex);
  token_set = std::move(token);
}

std::string bearer_token() {
  std::lock_guard lock(token_mutex);
  if (!token_set) {
    token_set.emplace();
    if (const char* token = std::getenv("TGRACK_TOKEN"); token != nullptr && *token != '\0') {
      *token_set = token;
    } else if (const char* file = std::getenv("TGRACK_TOKEN_FILE");
               file != nullptr && *file != '\0') {
      if (auto read = read_token_file(file); read.ok()) *token_set = *read;
    }
  }
  return *token_set;
}

absl::StatusOr<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (!in || token.empty()) {
    return absl::InvalidArgumentError("token file " + path + " cannot be read or is empty");
  }
  return token;
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> bearer_token_interceptor(
    std::string token) {
  return std::make_unique<BearerTokenFactory>(std::move(token));
}

}  // namespace tg::net
