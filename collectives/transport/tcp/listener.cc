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
#include <spdlog/spdlog.h>

#include "net/accept_guard.h"

namespace tg::coll::tcp {
namespace {

int millis_until(std::chrono::steady_clock::time_point when) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      when - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// "host:port" of the peer of `fd`, for a log line.
std::string peer_of(int fd) {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return "an unknown peer";
  char host[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(v6.sin6_port));
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
  ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof(host));
  return absl::StrCat(host, ":", ntohs(v4.sin_port));
}

// Sends all of `bytes` at once on a fresh connection, whose send buffer is empty.
bool send_now(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
         static_cast<ssize_t>(bytes.size());
}

}  // namespace

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
    stopping_ = true;
    wake_.notify();
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (auto& [fd, incoming] : incoming_) ::close(fd);
  for (auto& [key, unclaimed] : waiting_) ::close(unclaimed.connection.fd);
}

absl::Status Listener::start(const std::string& host, int port, int socket_buffer_bytes) {
  const std::string shown_address = net::join_host_port(host.empty() ? "0.0.0.0" : host, port);
  absl::StatusOr<net::UniqueFd> listening =
      net::listen_tcp({host, port}, 1024, [&](int fd) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        tune_socket(fd, socket_buffer_bytes);
      });
  if (!listening.ok()) {
    return absl::Status(listening.status().code(),
                        absl::StrCat("data plane: cannot listen on ", shown_address, ": ",
                                     listening.status().message()));
  }
  listen_fd_ = listening->release();
  std::string shown = host;
  if (host.empty() || host == "0.0.0.0") {  // Peers dial the host name.
    char name[256] = {};
    shown = ::gethostname(name, sizeof(name) - 1) == 0 ? name : "127.0.0.1";
  }
  address_ = net::join_host_port(shown, net::bound_port(listen_fd_));
  thread_ = std::thread([this] { run(); });
  return absl::OkStatus();
}

void Listener::run() {
  std::vector<pollfd> watched;
  Clock::time_point next_expiry = Clock::time_point::max();
  while (true) {
    watched.assign({{wake_.fd(), POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (const auto& [fd, incoming] : incoming_) {
      // A complete proof waits for its secret, not for the peer.
      if (incoming.proof.size() < kProofBytes) watched.push_back({fd, POLLIN, 0});
    }
    const int timeout = next_expiry == Clock::time_point::max() ? -1 : millis_until(next_expiry);
    if (::poll(watched.data(), watched.size(), timeout) < 0 && errno != EINTR) return;
    if (watched[0].revents != 0) {
      wake_.drain();
      if (stopping_) return;
      for (auto it = incoming_.begin(); it != incoming_.end();) {  // A secret may have come.
        auto next = std::next(it);
        if (it->second.proof.size() == kProofBytes) {
          const int fd = it->first;
          const Outcome outcome = verify(fd, it->second);
          if (outcome != Outcome::kPending) {
            incoming_.erase(it);
            conclude(fd, outcome);
          }
        }
        it = next;
      }
    }
    for (size_t i = 2; i < watched.size(); ++i) {
      if (watched[i].revents == 0) continue;
      const int fd = watched[i].fd;
      const Outcome outcome = read_handshake(fd, incoming_.at(fd));
      if (outcome == Outcome::kPending) continue;
      incoming_.erase(fd);
      conclude(fd, outcome);
    }
    if (watched[1].revents != 0) {
      const AcceptGuard::Accepted accepted =
          accept_guard_.accept(listen_fd_, SOCK_CLOEXEC | SOCK_NONBLOCK);
      size_t held = incoming_.size();
      {
        std::lock_guard<std::mutex> lock(mu_);
        held += waiting_.size();
      }
      if (accepted.fd >= 0 && held >= static_cast<size_t>(limits_.max_connections)) {
        refuse(accepted.fd, over_limit_,
               absl::StrCat("over the data port's limit of ", limits_.max_connections,
                            " connections (--max-data-connections)"));
      } else if (accepted.fd >= 0 &&
                 incoming_.size() >= static_cast<size_t>(limits_.max_pending_handshakes)) {
        refuse(accepted.fd, over_limit_,
               absl::StrCat("over the limit of ", limits_.max_pending_handshakes,
                            " handshakes at once"));
      } else if (accepted.fd >= 0) {
        incoming_[accepted.fd] = Incoming{Clock::now() + limits_.handshake_timeout, {}, {}, {}};
      } else if (accepted.pause.count() > 0) {
        pause_unless_woken(wake_.fd(), accepted.pause);  // A new secret ends it early too.
        if (stopping_) return;
      }
    }
    handshaking_ = incoming_.size();
    next_expiry = expire(Clock::now());
  }
}

Listener::Outcome Listener::read_handshake(int fd, Incoming& incoming) {
  // The hello, then exactly the proof: nothing past the handshake is read, and nothing is
  // allocated beyond kMaxCommIdBytes.
  while (true) {
    const bool hello_done = !incoming.reply.empty();
    std::string& into = hello_done ? incoming.proof : incoming.hello;
    const size_t wanted = hello_done ? kProofBytes : hello_size(incoming.hello);
    if (wanted == 0) return Outcome::kMalformed;
    if (into.size() == wanted) {
      if (hello_done) return verify(fd, incoming);
      absl::StatusOr<std::string> nonce = random_bytes(kNonceBytes);
      if (!nonce.ok()) return Outcome::kMalformed;
      std::string reply = encode_reply(*nonce, limits_.require_tls);
      if (!send_now(fd, reply)) return Outcome::kMalformed;
      incoming.reply = std::move(reply);
      continue;
    }
    char buffer[kHelloFixedBytes + kMaxCommIdBytes];
    const ssize_t got = ::recv(fd, buffer, wanted - into.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return Outcome::kPending;
    if (got <= 0) return Outcome::kMalformed;
    into.append(buffer, static_cast<size_t>(got));
  }
}

Listener::Outcome Listener::verify(int fd, Incoming& incoming) {
  const Handshake handshake = decode_hello(incoming.hello);
  std::string secret;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = secrets_.find(handshake.comm_id);
    if (it == secrets_.end()) return Outcome::kPending;  // Until expect() or the deadline.
    secret = it->second;
  }
  if (!same_proof(incoming.proof, dialer_proof(secret, incoming.hello, incoming.reply))) {
    return Outcome::kUnauthenticated;
  }
  if (!send_now(fd, listener_proof(secret, incoming.hello, incoming.reply))) {
    return Outcome::kMalformed;
  }
  Claimed connection{fd, decide(secret, incoming.hello, incoming.reply)};
  const Key key{handshake.comm_id, handshake.from_rank, handshake.to_rank, handshake.stream};
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // Claimed sockets block, as the pairs built on them expect.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    ::close(it->second.connection.fd);  // A rank that dialed again replaces its earlier one.
    it->second.connection = std::move(connection);
  } else {
    waiting_.emplace(key, Unclaimed{std::move(connection), Clock::now() + limits_.unclaimed_timeout});
  }
  arrived_.notify_all();
  return Outcome::kDone;
}

void Listener::conclude(int fd, Outcome outcome) {
  if (outcome == Outcome::kMalformed) {
    ++malformed_;
    ::close(fd);
  } else if (outcome == Outcome::kUnauthenticated) {
    refuse(fd, unauthenticated_, "its proof of the communicator's secret does not verify");
  }
}

void Listener::refuse(int fd, std::atomic<uint64_t>& counter, const std::string& why) {
  ++counter;
  const Clock::time_point now = Clock::now();
  if (now - last_log_ >= std::chrono::seconds(1)) {
    spdlog::warn("data plane: closed the connection from {}: {}{}", peer_of(fd), why,
                 unlogged_ > 0 ? absl::StrCat(" (", unlogged_, " more refused since the last line)")
                               : std::string());
    last_log_ = now;
    unlogged_ = 0;
  } else {
    ++unlogged_;
  }
  ::close(fd);
}

Listener::Clock::time_point Listener::expire(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    if (it->second.deadline <= now) {
      refuse(it->first, timeouts_,
             absl::StrCat("no verified handshake within ", limits_.handshake_timeout.count(),
                          " ms", it->second.proof.size() == kProofBytes
                                     ? " (its communicator is not known here)" : ""));
      it = incoming_.erase(it);
    } else {
      next = std::min(next, it->second.deadline);
      ++it;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.expires <= now) {
      ::close(it->second.connection.fd);
      it = waiting_.erase(it);
    } else {
      next = std::min(next, it->second.expires);
      ++it;
    }
  }
  return next;
}

absl::StatusOr<Claimed> Listener::take(const Handshake& want,
                                       std::chrono::steady_clock::time_point deadline) {
  const Key key{want.comm_id, want.from_rank, want.to_rank, want.stream};
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto it = waiting_.find(key);
    if (it != waiting_.end()) {
      Claimed connection = std::move(it->second.connection);
      waiting_.erase(it);
      return connection;
    }
    if (arrived_.wait_until(lock, deadline) == std::cv_status::timeout && waiting_.count(key) == 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          "rank ", want.from_rank, " never connected to rank ", want.to_rank, " of communicator ",
          want.comm_id, " (did it join?)"));
    }
  }
}

void Listener::expect(const std::string& comm_id, std::string secret) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    secrets_[comm_id] = std::move(secret);
  }
  wake_.notify();
}

ListenerCounters Listener::counters() const {
  ListenerCounters out{over_limit_, malformed_, unauthenticated_, timeouts_, handshaking_};
  std::lock_guard<std::mutex> lock(mu_);
  out.held += waiting_.size();
  return out;
}

void Listener::forget(const std::string& comm_id) {
  std::lock_guard<std::mutex> lock(mu_);
  secrets_.erase(comm_id);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (std::get<0>(it->first) == comm_id) {
      ::close(it->second.connection.fd);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tg::coll::tcp
