// Helpers for the listening sockets tgrack opens itself.
//
// AcceptGuard: one accept step on a listening socket that stays well-behaved when the
// process is out of file descriptors. accept() failing with EMFILE/ENFILE leaves the
// connection queued and the listener readable, so a poll-then-accept loop would spin at
// 100% of a core. The guard instead gives up a reserve descriptor it holds, accepts the
// queued connection and closes it at once (the peer sees the connection closed rather than
// hanging in the backlog), takes the reserve back, and tells the loop to pause before it
// polls again. Not thread-safe: one guard per accept loop.
#pragma once

#include <chrono>
#include <string>

namespace tg {

class AcceptGuard {
 public:
  // How long an accept loop pauses after running out of descriptors.
  static constexpr std::chrono::milliseconds kOutOfDescriptorsPause{100};

  AcceptGuard();
  ~AcceptGuard();
  AcceptGuard(const AcceptGuard&) = delete;
  AcceptGuard& operator=(const AcceptGuard&) = delete;

  struct Accepted {
    int fd = -1;                         // The new connection, or -1.
    std::chrono::milliseconds pause{0};  // Wait this long before the next poll.
  };
  // accept4(listen_fd, flags) once.
  Accepted accept(int listen_fd, int flags);

 private:
  int reserve_fd_ = -1;
};

// Why bind() to `port` failed with `error`, for a message: "port N is already served by
// another process" for EADDRINUSE (no tgrack listener shares a port), else strerror.
std::string bind_failure_reason(int port, int error);

// Waits `pause` unless `wake_fd` becomes readable first; false when it did (stop).
bool pause_unless_woken(int wake_fd, std::chrono::milliseconds pause);

}  // namespace tg
