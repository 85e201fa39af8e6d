// RPC glue shared by every tgrack process.
//
// Error style: inside a process, functions return absl::Status / absl::StatusOr; exceptions
// never cross a gRPC handler. At the RPC edge a Status becomes a grpc::Status (same code,
// same message) with to_grpc(), and a grpc::Status read back with from_grpc().
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <grpcpp/grpcpp.h>

namespace tg {

// Largest message a tgrack channel or server accepts: message_limit(), 64 MiB unless the
// process sets another (tgd and tgcontroller: --max-message-size) up to kMaxMessageBytes.
// Larger messages fail with RESOURCE_EXHAUSTED naming the limit; the server goes on.
inline constexpr int kMaxMessageBytes = 1 << 30;
inline constexpr int kDefaultMessageLimit = 64 << 20;
int message_limit();
// Sets message_limit() for channels and servers made from now on; clamped to 1..kMaxMessageBytes.
void set_message_limit(uint64_t bytes);

// OK when a message of `bytes` fits message_limit(); otherwise RESOURCE_EXHAUSTED naming
// `what`, the size and the limit, and saying that large results stay on the pool as remote
// tensors (RunOptions keep). Every reply is checked before it is built, so a reply that cannot
// be sent is an error, never an empty success.
absl::Status check_message_size(uint64_t bytes, std::string_view what);

grpc::Status to_grpc(const absl::Status& status);
absl::Status from_grpc(const grpc::Status& status);

// A channel to host:port secured as this process is (net/transport_security.h: mutual TLS,
// or plain text only when asked for) that accepts messages up to message_limit(). Channels to
// one address share a connection unless `own_connection` (e.g. clients measured apart).
// Every call carries `token` as its bearer token (nullopt = the process's,
// net/bearer_token.h; "" = none).
std::shared_ptr<grpc::Channel> make_channel(const std::string& address,
                                            bool own_connection = false,
                                            std::optional<std::string> token = std::nullopt);

// Bounds of every tgrack gRPC server. Sync-server threads come from one quota: a call that
// finds every thread busy fails RESOURCE_EXHAUSTED instead of growing the process; streams
// at once on one client connection are capped likewise.
inline constexpr int kMaxServerThreads = 512;
inline constexpr int kMaxConcurrentStreams = 256;

// Applies message_limit(), kMaxServerThreads and kMaxConcurrentStreams to a server being
// built, and turns port reuse off: a second server on a port one already serves fails to
// start instead of sharing the port.
void configure_server(grpc::ServerBuilder& builder);

// Adds `address` to a server being built, secured as this process is and bounding the calls
// each client has open (net/call_limits.h); `port` receives the bound port once the server
// starts (0 when it could not bind).
void add_listening_port(grpc::ServerBuilder& builder, const std::string& address, int* port);

// Why `address` (HOST:PORT) cannot be listened on, for a server that failed to bind it:
// UNAVAILABLE "cannot listen on ADDRESS: REASON", naming the port when another process
// already serves it.
absl::Status listen_failure(const std::string& address);

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> context_with_deadline(std::chrono::milliseconds timeout);

// Writes `address` ("HOST:PORT" and a newline) to the port file at `path`, through a
// temporary file and a rename so a reader never sees a partial address. INTERNAL naming the
// file when it cannot be written.
absl::Status write_port_file(const std::string& path, const std::string& address);

}  // namespace tg
