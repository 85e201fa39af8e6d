#include "raw_socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tg::testing {

absl::StatusOr<RawSocket> RawSocket::unconnected() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::string("socket: ") + std::strerror(errno));
  return RawSocket(fd);
}

absl::StatusOr<RawSocket> RawSocket::connect(int port) {
  absl::StatusOr<RawSocket> socket = unconnected();
  if (!socket.ok()) return socket.status();
  if (absl::Status connected = socket->connect_to(port); !connected.ok()) return connected;
  return socket;
}

RawSocket& RawSocket::operator=(RawSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RawSocket::connect_to(int port) {
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    return absl::UnavailableError("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                  std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::Status RawSocket::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(std::string("send: ") + std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

void RawSocket::finish_sending() { ::shutdown(fd_, SHUT_WR); }

absl::StatusOr<std::string> RawSocket::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string received;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd watched{fd_, POLLIN, 0};
    const int ready = left.count() <= 0 ? 0 : ::poll(&watched, 1, static_cast<int>(left.count()));
    if (ready == 0) {
      return absl::DeadlineExceededError("connection still open after " +
                                         std::to_string(timeout.count()) + " ms; received: " +
                                         received.substr(0, 200));
    }
    if (ready < 0) continue;  // Interrupted: the deadline is checked again.
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return received;
    received.append(buffer, static_cast<size_t>(n));
  }
}

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

int open_descriptors() {
  DIR* listing = ::opendir("/proc/self/fd");
  int count = 0;
  while (dirent* entry = ::readdir(listing)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(listing);
  return count - 1;  // The listing's own descriptor.
}

DescriptorExhaustion::DescriptorExhaustion() {
  ::getrlimit(RLIMIT_NOFILE, &saved_);
  rlimit lowered = saved_;
  lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 1024);
  ::setrlimit(RLIMIT_NOFILE, &lowered);
  while (true) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    held_.push_back(fd);
  }
}

DescriptorExhaustion::~DescriptorExhaustion() {
  for (int fd : held_) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved_);
}

}  // namespace tg::testing
