#include "socket_call_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket_frames.h"

namespace tg {
namespace {

constexpr auto kStallLimit = std::chrono::seconds(30);  // Mid-frame silence before a close.

SocketDeadline stall_deadline() { return std::chrono::steady_clock::now() + kStallLimit; }

}  // namespace

SocketCallServer::~SocketCallServer() { stop(); }

absl::Status SocketCallServer::malformed(uint32_t method, const std::string& type) const {
  return absl::InvalidArgumentError("malformed " + type + " in a " + handlers_.at(method).name +
                                    " call");
}

absl::Status SocketCallServer::start(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const char* bind_host = host.empty() ? nullptr : host.c_str();
  if (int rc = ::getaddrinfo(bind_host, std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError("socket calls: cannot resolve " + where + ": " +
                                      gai_strerror(rc));
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int bound = ::bind(listen_fd_, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (bound != 0 || ::listen(listen_fd_, 128) != 0) {
    return absl::UnavailableError("socket calls: cannot listen on " + where + ": " +
                                  bind_failure_reason(port, errno));
  }
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  acceptor_ = std::thread([this] { accept_loop(); });
  return absl::OkStatus();
}

void SocketCallServer::accept_loop() {
  while (wait_readable(listen_fd_, stop_fd_)) {
    const AcceptGuard::Accepted accepted = accept_guard_.accept(listen_fd_, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (accepted.fd < 0) {
      if (!pause_unless_woken(stop_fd_, accepted.pause)) return;
      continue;
    }
    const int fd = accepted.fd;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard lock(mu_);
    reap_finished();
    if (connections_.size() >= static_cast<size_t>(limits_.max_connections)) {
      refuse(fd);
      continue;
    }
    Connection& connection = connections_.emplace_back();
    connection.fd = fd;
    connection.thread = std::thread([this, &connection] { serve(connection); });
  }
}

void SocketCallServer::refuse(int fd) const {
  // The frame fits the new socket's empty send buffer: writing it never waits.
  [[maybe_unused]] absl::Status sent = write_frame(
      fd, static_cast<uint32_t>(absl::StatusCode::kResourceExhausted),
      "socket calls on port " + std::to_string(port_) + ": all " +
          std::to_string(limits_.max_connections) + " connections in use; try again later",
      std::chrono::steady_clock::now());
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void SocketCallServer::serve(Connection& connection) {
  const int fd = connection.fd;
  auto hello = read_frame(fd, std::chrono::steady_clock::now() + limits_.hello_timeout,
                          static_cast<uint32_t>(kSocketCallHello.size()));
  bool open = hello.ok() && hello->tag == 0 && hello->payload == kSocketCallHello;
  while (open && wait_readable(fd, stop_fd_, limits_.idle_timeout)) {
    auto request = read_frame(fd, stall_deadline());
    if (!request.ok()) break;
    auto found = handlers_.find(request->tag);
    const absl::StatusOr<std::string> reply =
        found == handlers_.end()
            ? absl::UnimplementedError("no socket call method " + std::to_string(request->tag))
            : found->second.handler(request->payload);
    const uint32_t code = static_cast<uint32_t>(reply.status().code());
    const std::string& payload = reply.ok() ? *reply : std::string(reply.status().message());
    open = write_frame(fd, code, payload, stall_deadline()).ok();
  }
  ::close(fd);
  connection.done = true;
}

void SocketCallServer::reap_finished() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = connections_.erase(it);
  }
}

void SocketCallServer::stop() {
  if (stop_fd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = ::write(stop_fd_, &one, sizeof(one));
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Connection> ending;
  {
    std::lock_guard lock(mu_);
    ending.splice(ending.end(), connections_);
  }
  for (Connection& connection : ending) connection.thread.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

}  // namespace tg
