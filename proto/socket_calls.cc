#include "socket_calls.h"

#include <poll.h>
#include <unistd.h>

#include "socket_frames.h"

namespace tg {
namespace {

// An idle connection never has anything to read: readable means the server closed it.
bool closed_by_peer(int fd) {
  pollfd watched{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&watched, 1, 0) != 0;
}

}  // namespace

SocketCalls::SocketCalls(std::string address, std::string what)
    : address_(std::move(address)), what_(std::move(what)) {}

SocketCalls::~SocketCalls() {
  for (int fd : idle_) ::close(fd);
}

absl::StatusOr<int> SocketCalls::take(SocketDeadline deadline) {
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty()) {
      const int fd = idle_.back();
      idle_.pop_back();
      if (!closed_by_peer(fd)) return fd;
      ::close(fd);
    }
  }
  auto dialed = dial_socket_call(address_, deadline);
  if (!dialed.ok()) {
    return absl::Status(dialed.status().code(),
                        what_ + ": " + std::string(dialed.status().message()));
  }
  return dialed;
}

absl::StatusOr<std::string> SocketCalls::call(uint32_t method, std::string_view request,
                                              std::chrono::milliseconds timeout) {
  const SocketDeadline deadline = std::chrono::steady_clock::now() + timeout;
  auto fd = take(deadline);
  if (!fd.ok()) return fd.status();
  const absl::Status sent = write_frame(*fd, method, request, deadline);
  absl::StatusOr<Frame> reply = sent.ok() ? read_frame(*fd, deadline) : sent;
  if (!reply.ok()) {
    ::close(*fd);
    if (absl::IsDeadlineExceeded(reply.status())) {
      return absl::DeadlineExceededError(what_ + ": no reply within " +
                                         std::to_string(timeout.count()) + " ms");
    }
    return absl::Status(reply.status().code(),
                        what_ + ": " + std::string(reply.status().message()));
  }
  {
    std::lock_guard lock(mu_);
    idle_.push_back(*fd);
  }
  if (reply->tag == 0) return std::move(reply->payload);
  if (reply->tag > static_cast<uint32_t>(absl::StatusCode::kUnauthenticated)) {
    return absl::InternalError(what_ + ": reply with unknown status code " +
                               std::to_string(reply->tag));
  }
  return absl::Status(static_cast<absl::StatusCode>(reply->tag), reply->payload);
}

}  // namespace tg
