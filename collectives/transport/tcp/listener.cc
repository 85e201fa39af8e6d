#include "collectives/transport/tcp/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <absl/strings/str_cat.h>

#include "net/accept_guard.h"

namespace tg::coll::tcp {
namespace {

constexpr uint32_t kMagic = 0x31434754;  // "TGC1"
constexpr size_t kFixedBytes = 4 * 5;    // magic, id length, from, to, stream.
constexpr uint32_t kMaxCommIdBytes = 4096;

void put_le32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t get_le32(const char* in) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}

int millis_until(std::chrono::steady_clock::time_point when) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      when - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

}  // namespace

std::string encode_handshake(const Handshake& h) {
  std::string out(kFixedBytes, '\0');
  const uint32_t fields[5] = {kMagic, static_cast<uint32_t>(h.comm_id.size()), h.from_rank,
                              h.to_rank, h.stream};
  for (int i = 0; i < 5; ++i) put_le32(out.data() + 4 * i, fields[i]);
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
  for (auto& [fd, incoming] : incoming_) ::close(fd);
  for (auto& [key, unclaimed] : waiting_) ::close(unclaimed.fd);
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
                                               ": ", bind_failure_reason(port, errno)));
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
  thread_ = std::thread([this] { run(); });
  return absl::OkStatus();
}

void Listener::run() {
  std::vector<pollfd> watched;
  Clock::time_point next_expiry = Clock::time_point::max();
  while (true) {
    watched.assign({{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (const auto& [fd, incoming] : incoming_) watched.push_back({fd, POLLIN, 0});
    const int timeout = next_expiry == Clock::time_point::max() ? -1 : millis_until(next_expiry);
    if (::poll(watched.data(), watched.size(), timeout) < 0 && errno != EINTR) return;
    if (watched[0].revents != 0) return;
    for (size_t i = 2; i < watched.size(); ++i) {
      if (watched[i].revents == 0) continue;
      const int fd = watched[i].fd;
      if (!read_handshake(fd, incoming_.at(fd))) ::close(fd);
    }
    if (watched[1].revents != 0) {
      const AcceptGuard::Accepted accepted =
          accept_guard_.accept(listen_fd_, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (accepted.fd >= 0 &&
          incoming_.size() < static_cast<size_t>(limits_.max_pending_handshakes)) {
        incoming_[accepted.fd] = Incoming{Clock::now() + limits_.handshake_timeout, {}};
      } else if (accepted.fd >= 0) {
        ::close(accepted.fd);  // Too many handshakes under way: the peer retries.
      } else if (accepted.pause.count() > 0 && !pause_unless_woken(wake_[0], accepted.pause)) {
        return;
      }
    }
    next_expiry = expire(Clock::now());
  }
}

bool Listener::read_handshake(int fd, Incoming& incoming) {
  auto drop = [&] {
    incoming_.erase(fd);
    return false;
  };
  // The fixed fields first, then exactly the communicator id they announce: nothing past
  // the handshake is read, and nothing is allocated beyond kMaxCommIdBytes.
  while (true) {
    size_t wanted = kFixedBytes;
    if (incoming.bytes.size() >= kFixedBytes) {
      const uint32_t id_bytes = get_le32(incoming.bytes.data() + 4);
      if (get_le32(incoming.bytes.data()) != kMagic || id_bytes > kMaxCommIdBytes) return drop();
      wanted += id_bytes;
    }
    if (incoming.bytes.size() == wanted) break;
    char buffer[kFixedBytes + kMaxCommIdBytes];
    const ssize_t got = ::recv(fd, buffer, wanted - incoming.bytes.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (got <= 0) return drop();
    incoming.bytes.append(buffer, static_cast<size_t>(got));
  }
  const char* fields = incoming.bytes.data();
  const Key key{incoming.bytes.substr(kFixedBytes), get_le32(fields + 8), get_le32(fields + 12),
                get_le32(fields + 16)};
  incoming_.erase(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Claimed sockets block, as the pairs built on them expect.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    ::close(it->second.fd);
    it->second.fd = fd;
  } else if (waiting_.size() >= static_cast<size_t>(limits_.max_unclaimed)) {
    return false;
  } else {
    waiting_.emplace(key, Unclaimed{fd, Clock::now() + limits_.unclaimed_timeout});
  }
  arrived_.notify_all();
  return true;
}

Listener::Clock::time_point Listener::expire(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    if (it->second.deadline <= now) {
      ::close(it->first);
      it = incoming_.erase(it);
    } else {
      next = std::min(next, it->second.deadline);
      ++it;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.expires <= now) {
      ::close(it->second.fd);
      it = waiting_.erase(it);
    } else {
      next = std::min(next, it->second.expires);
      ++it;
    }
  }
  return next;
}

absl::StatusOr<int> Listener::take(const Handshake& want,
                                   std::chrono::steady_clock::time_point deadline) {
  const Key key{want.comm_id, want.from_rank, want.to_rank, want.stream};
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = waiting_.find(key);
    if (it != waiting_.end()) {
      int fd = it->second.fd;
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
      ::close(it->second.fd);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tg::coll::tcp
