#include "socket_frames.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "rpc.h"

namespace tg {

static_assert(kMaxFramePayload == static_cast<uint32_t>(kMaxMessageBytes));

namespace {

int millis_until(SocketDeadline deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// Waits for `events` on fd; DEADLINE_EXCEEDED when the deadline passes first.
absl::Status wait_for(int fd, short events, SocketDeadline deadline, const char* doing) {
  while (true) {
    pollfd watched{fd, events, 0};
    const int ready = ::poll(&watched, 1, millis_until(deadline));
    if (ready > 0) return absl::OkStatus();
    if (ready == 0) return absl::DeadlineExceededError(std::string("timed out ") + doing);
    if (errno != EINTR) return absl::UnavailableError(std::string(doing) + ": " + std::strerror(errno));
  }
}

// After a send or receive that moved nothing: waits for the socket when it would have
// blocked; otherwise the connection broke.
absl::Status after_stalled_io(int fd, short events, SocketDeadline deadline, const char* doing) {
  if (errno == EAGAIN || errno == EINTR) return wait_for(fd, events, deadline, doing);
  return absl::UnavailableError(std::string("connection broke while ") + doing + ": " +
                                std::strerror(errno));
}

// Payload bytes read into the buffer at a time: a header claiming a large payload costs
// memory only as the payload actually arrives.
constexpr size_t kPayloadChunk = 1 << 20;

void put_le32(unsigned char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(value >> (8 * i));
}

uint32_t get_le32(const unsigned char* in) {
  return uint32_t{in[0]} | uint32_t{in[1]} << 8 | uint32_t{in[2]} << 16 | uint32_t{in[3]} << 24;
}

absl::Status over_limit(size_t size, size_t limit) {
  return absl::ResourceExhaustedError("message of " + std::to_string(size) +
                                      " bytes is over the limit of " + std::to_string(limit));
}

}  // namespace

absl::Status write_frame(int fd, uint32_t tag, std::string_view payload, SocketDeadline deadline) {
  if (payload.size() > kMaxFramePayload) return over_limit(payload.size(), kMaxFramePayload);
  unsigned char header[kFrameHeaderBytes];
  put_le32(header, static_cast<uint32_t>(payload.size()));
  put_le32(header + 4, tag);
  iovec parts[2] = {{header, sizeof(header)},
                    {const_cast<char*>(payload.data()), payload.size()}};
  size_t sent = 0;
  const size_t total = sizeof(header) + payload.size();
  while (sent < total) {
    iovec left[2];
    int count = 0;
    size_t offset = sent;
    for (const iovec& part : parts) {
      if (offset >= part.iov_len) {
        offset -= part.iov_len;
        continue;
      }
      left[count++] = {static_cast<char*>(part.iov_base) + offset, part.iov_len - offset};
      offset = 0;
    }
    msghdr message{};
    message.msg_iov = left;
    message.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (absl::Status status = after_stalled_io(fd, POLLOUT, deadline, "sending");
               !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status read_exactly(int fd, char* data, size_t size, SocketDeadline deadline) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(fd, data + got, size - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0) {
      return absl::UnavailableError("connection closed by the peer");
    } else if (absl::Status status = after_stalled_io(fd, POLLIN, deadline, "receiving");
               !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Frame> read_frame(int fd, SocketDeadline deadline, uint32_t max_payload) {
  unsigned char header[kFrameHeaderBytes];
  if (absl::Status status = read_exactly(fd, reinterpret_cast<char*>(header), sizeof(header),
                                         deadline);
      !status.ok()) {
    return status;
  }
  const uint32_t size = get_le32(header);
  if (size > max_payload) return over_limit(size, max_payload);
  Frame frame;
  frame.tag = get_le32(header + 4);
  while (frame.payload.size() < size) {
    const size_t start = frame.payload.size();
    frame.payload.resize(start + std::min<size_t>(kPayloadChunk, size - start));
    if (absl::Status status =
            read_exactly(fd, frame.payload.data() + start, frame.payload.size() - start, deadline);
        !status.ok()) {
      return status;
    }
  }
  return frame;
}

bool wait_readable(int fd, int wake_fd, std::chrono::milliseconds timeout) {
  const bool forever = timeout.count() < 0;
  const SocketDeadline deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pollfd watched[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int ready = ::poll(watched, 2, forever ? -1 : millis_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0 && watched[1].revents == 0;
  }
}

absl::StatusOr<int> dial_socket_call(const std::string& address, SocketDeadline deadline) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("bad address '" + address + "': needs HOST:PORT");
  }
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError("cannot resolve " + address + ": " + gai_strerror(rc));
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  absl::Status status;
  if (rc != 0 && errno != EINPROGRESS) {
    status = absl::UnavailableError("cannot connect to " + address + ": " + std::strerror(errno));
  } else if (rc != 0) {
    status = wait_for(fd, POLLOUT, deadline, "connecting");
    int error = 0;
    socklen_t length = sizeof(error);
    if (status.ok() && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0) {
      status = absl::UnavailableError("cannot connect to " + address + ": " + std::strerror(error));
    }
  }
  if (status.ok()) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    status = write_frame(fd, 0, kSocketCallHello, deadline);
  }
  if (!status.ok()) {
    ::close(fd);
    if (absl::IsDeadlineExceeded(status)) {
      return absl::UnavailableError("cannot connect to " + address + ": " +
                                    std::string(status.message()));
    }
    return status;
  }
  return fd;
}

}  // namespace tg
