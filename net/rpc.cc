#include "net/rpc.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <mutex>

#include <absl/strings/str_cat.h>
#include <absl/synchronization/mutex.h>

#include "net/accept_guard.h"
#include "net/bearer_token.h"
#include "net/call_limits.h"
#include "net/transport_security.h"

namespace tg {
namespace {

// Process-wide settings for every process that speaks gRPC, applied on its first channel or
// server. absl::Mutex (under every gRPC lock) checks lock order for deadlocks on every
// Lock/Unlock when abseil is built without NDEBUG, as Debian's is; that check alone was a
// tenth of the CPU of a small RPC. Lock order is what tests and sanitizers are for.
void tune_process() {
  static std::once_flag once;
  std::call_once(once, [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
}

std::atomic<int> message_limit_bytes{kDefaultMessageLimit};

}  // namespace

int message_limit() { return message_limit_bytes.load(std::memory_order_relaxed); }

void set_message_limit(uint64_t bytes) {
  message_limit_bytes = static_cast<int>(
      std::clamp<uint64_t>(bytes, 1, static_cast<uint64_t>(kMaxMessageBytes)));
}

absl::Status check_message_size(uint64_t bytes, std::string_view what) {
  const int limit = message_limit();
  if (bytes <= static_cast<uint64_t>(limit)) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat(std::string(what), " needs ", bytes, " bytes, more than the message limit of ",
                   limit,
                   " bytes; keep large results on the pool as remote tensors (RunOptions keep)"));
}

grpc::Status to_grpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status from_grpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::shared_ptr<grpc::Channel> make_channel(const std::string& address, bool own_connection,
                                            std::optional<std::string> token) {
  tune_process();
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(message_limit());
  args.SetMaxSendMessageSize(message_limit());
  const std::string bearer = token ? *std::move(token) : net::bearer_token();
  if (bearer.empty()) return grpc::CreateCustomChannel(address, net::channel_credentials(), args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> tokens;
  tokens.push_back(net::bearer_token_interceptor(bearer));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, net::channel_credentials(), args, std::move(tokens));
}

void configure_server(grpc::ServerBuilder& builder) {
  tune_process();
  builder.SetMaxReceiveMessageSize(message_limit());
  builder.SetMaxSendMessageSize(message_limit());
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams);
  grpc::ResourceQuota quota("tgrack-server");
  quota.SetMaxThreads(kMaxServerThreads);
  builder.SetResourceQuota(quota);
}

void add_listening_port(grpc::ServerBuilder& builder, const std::string& address, int* port) {
  auto limit = net::ClientCallLimit::create(net::calls_per_client(), "--max-calls-per-client");
  builder.AddListeningPort(address, limit->credentials(), port);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
  counters.push_back(limit->counter());
  builder.experimental().SetInterceptorCreators(std::move(counters));
}

absl::Status listen_failure(const std::string& address) {
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  const std::string failed = "cannot listen on " + address;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(failed + ": " + gai_strerror(rc));
  }
  std::string reason = "unknown reason";
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    reason = bind_failure_reason(std::atoi(port.c_str()), errno);
  }
  ::close(fd);
  ::freeaddrinfo(found);
  return absl::UnavailableError(failed + ": " + reason);
}

std::unique_ptr<grpc::ClientContext> context_with_deadline(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

absl::Status write_port_file(const std::string& path, const std::string& address) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << address << "\n";
    if (!out.flush()) return absl::InternalError("cannot write port file " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return absl::InternalError("cannot write port file " + path + ": " + error.message());
  return absl::OkStatus();
}

}  // namespace tg
