#include "net/sockets.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <absl/status/status.h>

namespace tg::net {
namespace {

using AddressList = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

absl::StatusOr<AddressList> resolve(const HostPort& address, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  const std::string host = passive && address.host.empty() ? "0.0.0.0" : address.host;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(address.port).c_str(), &hints, &list);
      rc != 0) {
    return absl::UnavailableError("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  return AddressList(list, &::freeaddrinfo);
}

int millis_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

}  // namespace

absl::StatusOr<UniqueFd> dial_tcp(const HostPort& address,
                                  std::chrono::steady_clock::time_point deadline,
                                  const SocketTuner& tune) {
  const std::string shown = join_host_port(address.host, address.port);
  absl::StatusOr<AddressList> resolved = resolve(address, false);
  if (!resolved.ok()) return resolved.status();
  std::string why = "no address";
  for (const addrinfo* a = resolved->get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      why = std::strerror(errno);
      continue;
    }
    if (tune) tune(fd.get());
    int error = ::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) {
      pollfd writable{fd.get(), POLLOUT, 0};
      int ready;
      while ((ready = ::poll(&writable, 1, millis_until(deadline))) < 0 && errno == EINTR) {
      }
      if (ready == 0) {
        return absl::DeadlineExceededError("cannot connect to " + shown + ": timed out");
      }
      socklen_t length = sizeof(error);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error == 0) return fd;
    why = std::strerror(error);
  }
  return absl::UnavailableError("cannot connect to " + shown + ": " + why);
}

absl::StatusOr<UniqueFd> listen_tcp(const HostPort& address, int backlog,
                                    const SocketTuner& tune) {
  absl::StatusOr<AddressList> resolved = resolve(address, true);
  if (!resolved.ok()) return resolved.status();
  const addrinfo* a = resolved->get();
  UniqueFd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return absl::UnavailableError(std::strerror(errno));
  if (tune) tune(fd.get());
  if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd.get(), backlog) != 0) {
    return absl::UnavailableError(errno == EADDRINUSE
                                      ? "port " + std::to_string(address.port) +
                                            " is already served by another process"
                                      : std::string(std::strerror(errno)));
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return -1;
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                           : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

StopFd::StopFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void StopFd::notify() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof(one));
}

void StopFd::drain() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(fd_.get(), &count, sizeof(count));
}

}  // namespace tg::net
