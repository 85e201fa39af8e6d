// A plain TCP connection to a port on 127.0.0.1 for tests that speak to servers the way a
// hostile peer would: raw bytes, half-finished messages, connections left open. Every read
// waits at most until its deadline; the connection closes on destruction.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg::testing {

class RawSocket {
 public:
  // UNAVAILABLE naming the port when the connection is refused.
  static absl::StatusOr<RawSocket> connect(int port);
  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RawSocket& operator=(RawSocket&& other) noexcept;
  ~RawSocket();

  // Sends all of `bytes`; UNAVAILABLE when the peer has closed or reset the connection.
  absl::Status send(std::string_view bytes);
  // Closes the sending half: the peer reads end of file.
  void finish_sending();
  // Everything the peer sends until it closes the connection: DEADLINE_EXCEEDED (with what
  // arrived so far in the message) when it is still open at `timeout`. A reset counts as
  // closed.
  absl::StatusOr<std::string> read_until_closed(std::chrono::milliseconds timeout);

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "host:port" -> port.
int port_of(const std::string& address);

}  // namespace tg::testing
