// Test helpers that play a hostile or careless peer against a real listening socket on
// loopback: plain connections, bytes sent by hand, waiting for the server to close, and a
// process out of file descriptors.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tg::raw {

// A connected blocking TCP socket to 127.0.0.1:port, or -1.
int connect_raw(int port);
// An unconnected TCP socket and the loopback address of `port`, for a connect made later.
int unconnected_socket();
bool connect_to(int fd, int port);
// Sends all of `bytes`; false when the connection refuses them.
bool send_bytes(int fd, const std::string& bytes);
// True when the server closes `fd` (end of stream or reset) within `within`; what the server
// sends before that is read and dropped.
bool closed_by_server(int fd, std::chrono::milliseconds within);
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

}  // namespace tg::raw
