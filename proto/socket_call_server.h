// SocketCallServer: the server side of SocketCalls (socket_calls.h). It listens on one TCP
// port and serves each connection on its own thread: read a request frame, run the handler
// registered for its method, write the reply frame, wait for the next request. A request for
// an unknown method gets UNIMPLEMENTED, one that does not parse INVALID_ARGUMENT naming the
// method. Resources are bounded (SocketCallLimits): at most max_connections connections (and
// threads) at once, a connection beyond them gets one RESOURCE_EXHAUSTED frame naming the
// limit and is closed; a connection must send the hello within hello_timeout, and nothing
// larger than the hello is read or allocated before it; one idle between calls for
// idle_timeout, or stalled mid-frame for 30 s, is closed. stop() closes the listener and the
// idle connections at once and waits for calls in progress to write their replies. Register
// handlers before start(); thread-safe afterwards.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <absl/status/statusor.h>

#include "accept_guard.h"
#include "rpc.h"

namespace tg {

struct SocketCallLimits {
  int max_connections = 256;                       // Open connections, one thread each.
  std::chrono::milliseconds idle_timeout{300000};  // Silence between calls before a close.
  std::chrono::milliseconds hello_timeout{5000};   // From accept to a complete hello.
};

class SocketCallServer {
 public:
  // Serialized request -> serialized reply.
  using Handler = std::function<absl::StatusOr<std::string>(std::string_view request)>;

  explicit SocketCallServer(SocketCallLimits limits = {}) : limits_(limits) {}
  ~SocketCallServer();
  SocketCallServer(const SocketCallServer&) = delete;
  SocketCallServer& operator=(const SocketCallServer&) = delete;

  // Serves `method` with `handle`, a callable taking a const Request& and returning an
  // absl::StatusOr<Reply>.
  template <class Request, class Handle>
  void handle(uint32_t method, std::string name, Handle handle) {
    handlers_[method] = Named{std::move(name), [handle = std::move(handle), method,
                                                this](std::string_view bytes)
                                                   -> absl::StatusOr<std::string> {
      Request request;
      if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return malformed(method, request.GetTypeName());
      }
      auto reply = handle(request);
      if (!reply.ok()) return reply.status();
      if (absl::Status s = check_message_size(reply->ByteSizeLong(), "the reply"); !s.ok()) {
        return s;
      }
      return reply->SerializeAsString();
    }};
  }

  // Binds host:port (port 0 = any) and starts accepting; INVALID_ARGUMENT / UNAVAILABLE
  // naming the address when it cannot.
  absl::Status start(const std::string& host, int port);
  // The bound port; 0 before start().
  int port() const { return port_; }
  void stop();

 private:
  struct Named {
    std::string name;
    Handler handler;
  };
  struct Connection {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  absl::Status malformed(uint32_t method, const std::string& type) const;
  void accept_loop();
  // Tells a connection over max_connections why it is closed, and closes it.
  void refuse(int fd) const;
  void serve(Connection& connection);
  // Joins and forgets the connections whose thread has ended. Caller holds mu_.
  void reap_finished();

  const SocketCallLimits limits_;
  AcceptGuard accept_guard_;  // Holds its reserve descriptor from construction on.
  std::map<uint32_t, Named> handlers_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // An eventfd, readable once stop() begins.
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::list<Connection> connections_;  // Guarded by mu_.
};

}  // namespace tg
