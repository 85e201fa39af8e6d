// Framed messages on a connected TCP socket, the wire of socket calls (socket_calls.h).
//
// A frame is a 4-byte payload length, a 4-byte tag and the payload, integers little-endian.
// A request's tag names the method (call_methods.h); a reply's tag is the status code, its
// payload the serialized reply when the code is OK and the error message otherwise. A
// connection starts with a hello frame from the caller: tag 0, payload kSocketCallHello.
// Payloads are limited to kMaxMessageBytes, as gRPC messages are, and a reader may set a lower
// limit (the hello's is its own size). A reader never allocates on the header's word alone:
// the payload buffer grows as its bytes arrive.
//
// Every function waits at most until its deadline. Errors: DEADLINE_EXCEEDED when the
// deadline passes, UNAVAILABLE when the peer closed or reset the connection,
// RESOURCE_EXHAUSTED for an oversized frame; messages name what was being done.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace tg {

using SocketDeadline = std::chrono::steady_clock::time_point;

// The first bytes a caller sends on a new connection: the protocol and its version.
inline constexpr std::string_view kSocketCallHello = "TGCALL/1";

inline constexpr uint32_t kMaxFramePayload = 1u << 30;  // kMaxMessageBytes (rpc.h).
inline constexpr size_t kFrameHeaderBytes = 8;

struct Frame {
  uint32_t tag = 0;
  std::string payload;
};

absl::Status write_frame(int fd, uint32_t tag, std::string_view payload, SocketDeadline deadline);
// A frame whose payload is at most `max_payload` bytes; RESOURCE_EXHAUSTED naming the size
// and the limit for a larger one, before any of its payload is read.
absl::StatusOr<Frame> read_frame(int fd, SocketDeadline deadline,
                                 uint32_t max_payload = kMaxFramePayload);

// Exactly `size` bytes into `data`, or the error.
absl::Status read_exactly(int fd, char* data, size_t size, SocketDeadline deadline);

// Waits until `fd` is readable, `wake_fd` is, or `timeout` passes (negative = no timeout);
// true only when `fd` became readable.
bool wait_readable(int fd, int wake_fd,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

// A TCP connection to host:port with TCP_NODELAY, that has sent kSocketCallHello; UNAVAILABLE
// naming the address when it cannot be made by the deadline.
absl::StatusOr<int> dial_socket_call(const std::string& address, SocketDeadline deadline);

}  // namespace tg
