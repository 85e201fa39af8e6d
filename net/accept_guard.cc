#include "net/accept_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tg {
namespace {

int open_reserve() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

AcceptGuard::AcceptGuard() : reserve_fd_(open_reserve()) {}

AcceptGuard::~AcceptGuard() {
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

AcceptGuard::Accepted AcceptGuard::accept(int listen_fd, int flags) {
  const int fd = ::accept4(listen_fd, nullptr, nullptr, flags);
  if (fd >= 0) {
    if (reserve_fd_ < 0) reserve_fd_ = open_reserve();
    return {fd, std::chrono::milliseconds(0)};
  }
  if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) {
    return {};  // The peer gave up (ECONNABORTED) or a signal came: nothing to wait for.
  }
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    if (const int refused = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC); refused >= 0) {
      ::close(refused);
    }
    reserve_fd_ = open_reserve();
  }
  return {-1, kOutOfDescriptorsPause};
}

std::string bind_failure_reason(int port, int error) {
  if (error == EADDRINUSE) {
    return "port " + std::to_string(port) + " is already served by another process";
  }
  return std::strerror(error);
}

bool pause_unless_woken(int wake_fd, std::chrono::milliseconds pause) {
  pollfd watched{wake_fd, POLLIN, 0};
  while (true) {
    const int ready = ::poll(&watched, 1, static_cast<int>(pause.count()));
    if (ready < 0 && errno == EINTR) continue;
    return ready == 0;
  }
}

}  // namespace tg
