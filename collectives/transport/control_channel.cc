#include "collectives/transport/control_channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace tg::coll {
namespace {

constexpr char kBye = 'B';
constexpr char kAbort = 'A';
constexpr size_t kAbortBytes = 5;
constexpr char kKeepAlive = 'K';
constexpr size_t kKeepAliveBytes = 13;

}  // namespace

std::string ControlChannel::Reading::problem() const {
  switch (kind) {
    case Kind::kNothing: return "";
    case Kind::kClosed: return "connection closed (peer process died?)";
    case Kind::kBroken: return "control connection failed: " + what;
    case Kind::kAbort: return "peer aborted the communicator";
    case Kind::kViolation: return "protocol violation on the control connection";
  }
  return "";
}

ControlChannel::ControlChannel(int fd) : fd_(fd) {}

ControlChannel::~ControlChannel() { close(); }

ControlChannel::Reading ControlChannel::read() {
  using Kind = Reading::Kind;
  char buf[64];
  while (!ended_ && !closed_) {
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      if (errno == EINTR) continue;
      if (said_bye_) {
        // A peer that said goodbye and closed with our keep-alives unread resets the
        // connection instead of ending it; it has nothing more to say either way.
        ended_ = true;
        return {};
      }
      return {Kind::kBroken, 0, std::strerror(errno)};
    }
    if (n == 0) {
      if (said_bye_) {
        ended_ = true;
        return {};
      }
      return {Kind::kClosed, 0, {}};
    }
    size_t take;
    if (buf[0] == kBye) {
      said_bye_ = true;
      take = 1;
    } else if (buf[0] == kKeepAlive) {
      if (n < static_cast<ssize_t>(kKeepAliveBytes)) return {};  // The rest is on its way.
      std::memcpy(&heard_.sequence, buf + 1, 8);
      std::memcpy(&heard_.waiting_on, buf + 9, 4);
      heard_.heard = std::chrono::steady_clock::now();
      take = kKeepAliveBytes;
    } else if (buf[0] == kAbort) {
      if (n < static_cast<ssize_t>(kAbortBytes)) return {};
      Reading abort{Kind::kAbort, 0, {}};
      std::memcpy(&abort.culprit, buf + 1, 4);
      [[maybe_unused]] ssize_t r = ::recv(fd_, buf, kAbortBytes, MSG_DONTWAIT);
      return abort;
    } else {
      return {Kind::kViolation, 0, {}};
    }
    [[maybe_unused]] ssize_t r = ::recv(fd_, buf, take, MSG_DONTWAIT);
  }
  return {};
}

void ControlChannel::send(const char* message, size_t size) {
  if (closed_) return;
  unsent_.append(message, size);
  const ssize_t n = ::send(fd_, unsent_.data(), unsent_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) unsent_.erase(0, static_cast<size_t>(n));
}

void ControlChannel::say_goodbye() { send(&kBye, 1); }

void ControlChannel::send_abort(uint32_t culprit) {
  char notice[kAbortBytes] = {kAbort};
  std::memcpy(notice + 1, &culprit, 4);
  send(notice, sizeof(notice));
}

void ControlChannel::send_keepalive(uint64_t sequence, int32_t waiting_on) {
  // A peer that reads nothing for long fills the socket: keep-alives are then dropped whole.
  if (unsent_.size() >= kKeepAliveBytes) return;
  char message[kKeepAliveBytes] = {kKeepAlive};
  std::memcpy(message + 1, &sequence, 8);
  std::memcpy(message + 9, &waiting_on, 4);
  send(message, sizeof(message));
}

void ControlChannel::close() {
  if (closed_) return;
  closed_ = true;
  char unread[64];
  while (::recv(fd_, unread, sizeof(unread), MSG_DONTWAIT) > 0) {
  }
  ::close(fd_);
}

}  // namespace tg::coll
