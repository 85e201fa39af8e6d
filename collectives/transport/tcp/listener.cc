#include "collectives/transport/tcp/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <absl/strings/str_cat.h>

namespace tg::coll::tcp {
namespace {

constexpr uint32_t kMagic = 0x31434754;  // "TGC1"
constexpr int kHandshakeTimeoutMs = 5000;

// Reads exactly `n` bytes within `timeout_ms`; false on EOF, error or timeout.
bool read_fully(int fd, void* buf, size_t n, int timeout_ms) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    ssize_t r = ::recv(fd, p, n, MSG_DONTWAIT);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

std::string encode_handshake(const Handshake& h) {
  std::string out(4 * 5, '\0');
  uint32_t fields[5] = {kMagic, static_cast<uint32_t>(h.comm_id.size()), h.from_rank, h.to_rank,
                        h.stream};
  std::memcpy(out.data(), fields, sizeof(fields));
  return out + h.comm_id;
}

void tune_socket(int fd, int buffer_bytes) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (buffer_bytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  }
}

Listener::~Listener() {
  if (thread_.joinable()) {
    char c = 'x';
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &c, 1);
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
  for (auto& [key, fd] : waiting_) ::close(fd);
}

absl::Status Listener::start(const std::string& host, int port, int socket_buffer_bytes) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string bind_host = host.empty() ? "0.0.0.0" : host;
  if (int rc = ::getaddrinfo(bind_host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("data plane: cannot resolve '", bind_host, "': ", gai_strerror(rc)));
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  tune_socket(listen_fd_, socket_buffer_bytes);
  int rc = ::bind(listen_fd_, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 || ::listen(listen_fd_, 1024) != 0) {
    return absl::UnavailableError(absl::StrCat("data plane: cannot listen on ", bind_host, ":", port,
                                               ": ", std::strerror(errno)));
  }
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  std::string shown = host;
  if (host.empty() || host == "0.0.0.0") {  // Peers dial the host name.
    char name[256] = {};
    shown = ::gethostname(name, sizeof(name) - 1) == 0 ? name : "127.0.0.1";
  }
  address_ = absl::StrCat(shown, ":", ntohs(bound.sin_port));
  if (::pipe2(wake_, O_CLOEXEC) != 0) return absl::InternalError("data plane: pipe failed");
  thread_ = std::thread([this] { accept_loop(); });
  return absl::OkStatus();
}

void Listener::accept_loop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
  }
}

void Listener::handle(int fd) {
  uint32_t fields[5];
  Handshake h;
  if (!read_fully(fd, fields, sizeof(fields), kHandshakeTimeoutMs) || fields[0] != kMagic ||
      fields[1] > 4096) {
    ::close(fd);
    return;
  }
  h.comm_id.resize(fields[1]);
  if (!read_fully(fd, h.comm_id.data(), h.comm_id.size(), kHandshakeTimeoutMs)) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = waiting_.emplace(Key{h.comm_id, fields[2], fields[3], fields[4]}, fd);
  if (!inserted) {
    ::close(it->second);
    it->second = fd;
  }
  arrived_.notify_all();
}

absl::StatusOr<int> Listener::take(const Handshake& want,
                                   std::chrono::steady_clock::time_point deadline) {
  const Key key{want.comm_id, want.from_rank, want.to_rank, want.stream};
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = waiting_.find(key);
    if (it != waiting_.end()) {
      int fd = it->second;
      waiting_.erase(it);
      return fd;
    }
    if (arrived_.wait_until(lock, deadline) == std::cv_status::timeout && waiting_.count(key) == 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          "rank ", want.from_rank, " never connected to rank ", want.to_rank, " of communicator ",
          want.comm_id, " (did it join?)"));
    }
  }
}

void Listener::forget(const std::string& comm_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (std::get<0>(it->first) == comm_id) {
      ::close(it->second);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tg::coll::tcp
