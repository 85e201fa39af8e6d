// TCP sockets as tgrack's own servers and peers use them, IPv4 and IPv6 alike:
//
//   dial_tcp(address, deadline, tune)   one connect to HOST:PORT (each address the host
//       resolves to, in turn) that ends by `deadline`; the socket is non-blocking.
//       UNAVAILABLE naming the address and why (refused, unreachable, unresolved),
//       DEADLINE_EXCEEDED when time runs out.
//   listen_tcp(address, backlog, tune)  a listening socket bound to HOST:PORT (an empty host
//       or 0.0.0.0: every IPv4 address; "::": every address; port 0: any free port).
//   bound_port(fd)                      the port a socket is bound to.
//   StopFd                              an eventfd a loop polls beside its sockets: notify()
//       from any thread wakes it; drain() in the loop empties it.
//
// `tune`, when given, is called on each new socket before connect or bind (buffer sizes,
// options).
#pragma once

#include <chrono>
#include <functional>

#include <absl/status/statusor.h>

#include "net/host_port.h"
#include "net/unique_fd.h"

namespace tg::net {

using SocketTuner = std::function<void(int fd)>;

absl::StatusOr<UniqueFd> dial_tcp(const HostPort& address,
                                  std::chrono::steady_clock::time_point deadline,
                                  const SocketTuner& tune = {});
absl::StatusOr<UniqueFd> listen_tcp(const HostPort& address, int backlog,
                                    const SocketTuner& tune = {});
int bound_port(int fd);

class StopFd {
 public:
  StopFd();
  int fd() const { return fd_.get(); }
  void notify();
  void drain();

 private:
  UniqueFd fd_;
};

}  // namespace tg::net
