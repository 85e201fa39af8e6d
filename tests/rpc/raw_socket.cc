#include "raw_socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace tg::raw {

int unconnected_socket() { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }

bool connect_to(int fd, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

int connect_raw(int port) {
  const int fd = unconnected_socket();
  if (fd >= 0 && !connect_to(fd, port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_bytes(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

bool closed_by_server(int fd, std::chrono::milliseconds within) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    pollfd watched{fd, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&watched, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) continue;
    char buffer[256];
    if (::recv(fd, buffer, sizeof(buffer), 0) <= 0) return true;
  }
  return false;
}

int open_descriptors() {
  DIR* listing = ::opendir("/proc/self/fd");
  int count = 0;
  while (dirent* entry = ::readdir(listing)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(listing);
  return count - 1;  // The listing's own descriptor.
}

DescriptorExhaustion::DescriptorExhaustion() {
  ::getrlimit(RLIMIT_NOFILE, &saved_);
  rlimit lowered = saved_;
  lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 1024);
  ::setrlimit(RLIMIT_NOFILE, &lowered);
  while (true) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    held_.push_back(fd);
  }
}

DescriptorExhaustion::~DescriptorExhaustion() {
  for (int fd : held_) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved_);
}

}  // namespace tg::raw
