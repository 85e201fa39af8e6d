// SocketCalls: unary calls to one server over plain TCP connections (socket_frames.h), for
// small calls on a hot path. On this kind of host a gRPC message costs tens of microseconds
// of thread hand-offs inside gRPC on each side; a framed call is one send and one receive on
// each side, on the calling thread.
//
// A connection carries one call at a time (a request frame, then its reply frame) and waits
// in a pool for the next one; concurrent calls use separate connections. call() returns the
// reply, or the status the server returned with its code and message unchanged. Every call
// is bounded by its timeout (DEADLINE_EXCEEDED; the connection is dropped). A pooled
// connection the server closed while it was idle (a restart) is dropped before a request is
// sent on it, so a call is sent at most once; a connection that breaks after the request
// was sent gives UNAVAILABLE, as does no server, naming the address. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include "rpc.h"
#include "socket_frames.h"

namespace tg {

class SocketCalls {
 public:
  // `address` is the server's HOST:PORT; `what` names the calls in errors, e.g.
  // "Submit to 127.0.0.1:7071".
  SocketCalls(std::string address, std::string what);
  ~SocketCalls();
  SocketCalls(const SocketCalls&) = delete;
  SocketCalls& operator=(const SocketCalls&) = delete;

  // The serialized reply of `method` (call_methods.h) for a serialized request.
  absl::StatusOr<std::string> call(uint32_t method, std::string_view request,
                                   std::chrono::milliseconds timeout);

  template <class Reply, class Request>
  absl::StatusOr<Reply> call(uint32_t method, const Request& request,
                             std::chrono::milliseconds timeout) {
    if (absl::Status s = check_message_size(request.ByteSizeLong(), what_ + ": the request");
        !s.ok()) {
      return s;
    }
    auto bytes = call(method, request.SerializeAsString(), timeout);
    if (!bytes.ok()) return bytes.status();
    Reply reply;
    if (!reply.ParseFromString(*bytes)) {
      return absl::InternalError(what_ + ": the reply is not a valid " + reply.GetTypeName());
    }
    return reply;
  }

  const std::string& address() const { return address_; }

 private:
  // A pooled connection still open, or a new one.
  absl::StatusOr<int> take(SocketDeadline deadline);

  const std::string address_;
  const std::string what_;
  std::mutex mu_;
  std::vector<int> idle_;  // Connected sockets waiting for a call.
};

}  // namespace tg
