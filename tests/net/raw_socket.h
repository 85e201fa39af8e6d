// Test helpers that play a hostile or careless peer against a real listening socket on
// loopback: a plain TCP connection for raw bytes, half-finished messages and connections
// left open, and a process out of file descriptors. Every read waits at most until its
// deadline; a connection closes on destruction.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace tg::testing {

class RawSocket {
 public:
  // A socket connected to 127.0.0.1:port: UNAVAILABLE naming the port when refused.
  static absl::StatusOr<RawSocket> connect(int port);
  // A socket not yet connected, for a connect made later with connect_to (for example once
  // the process has no descriptor left to create one).
  static absl::StatusOr<RawSocket> unconnected();
  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RawSocket& operator=(RawSocket&& other) noexcept;
  ~RawSocket();

  // Connects to 127.0.0.1:port: UNAVAILABLE naming the port when refused.
  absl::Status connect_to(int port);
  // Sends all of `bytes`; UNAVAILABLE when the peer has closed or reset the connection.
  absl::Status send(std::string_view bytes);
  // Closes the sending half: the peer reads end of file.
  void finish_sending();
  // Everything the peer sends until it closes the connection: DEADLINE_EXCEEDED (with what
  // arrived so far in the message) when it is still open at `timeout`. A reset counts as
  // closed.
  absl::StatusOr<std::string> read_until_closed(std::chrono::milliseconds timeout);
  // The descriptor, for reads the test makes itself; it stays owned by this socket.
  int fd() const { return fd_; }

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// "host:port" -> port.
int port_of(const std::string& address);

// The number of file descriptors this process has open.
int open_descriptors();

// Holds every free file descriptor of this process (under a soft limit lowered to at most
// 1024) until destroyed, then restores the limit.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion();
  ~DescriptorExhaustion();
  DescriptorExhaustion(const DescriptorExhaustion&) = delete;
  DescriptorExhaustion& operator=(const DescriptorExhaustion&) = delete;

 private:
  rlimit saved_{};
  std::vector<int> held_;
};

}  // namespace tg::testing
