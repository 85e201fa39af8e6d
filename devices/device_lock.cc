#include "devices/device_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/strip.h>

namespace tg {
namespace {

std::string read_holder(int fd) {
  char text[32] = {};
  const ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  int pid = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(text, n)), &pid)) {
    return "unknown";
  }
  return std::to_string(pid);
}

}  // namespace

absl::StatusOr<DeviceLock> DeviceLock::acquire(const std::string& lock_path,
                                               const std::string& device_name) {
  std::error_code error;
  const std::filesystem::path parent = std::filesystem::path(lock_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat("device ", device_name, ": cannot create ",
                                                    parent.string(), ": ", error.message()));
  }
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("device ", device_name, ": cannot open lock ", lock_path));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string holder = read_holder(fd);
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat("device ", device_name,
                                                        " is owned by another process (pid ",
                                                        holder, ", lock ", lock_path, ")"));
    }
    close(fd);
    return absl::ErrnoToStatus(err,
                               absl::StrCat("device ", device_name, ": cannot lock ", lock_path));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err,
                               absl::StrCat("device ", device_name, ": cannot write ", lock_path));
  }
  return DeviceLock(fd, lock_path, device_name);
}

DeviceLock::DeviceLock(DeviceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      device_(std::move(other.device_)) {}

DeviceLock& DeviceLock::operator=(DeviceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    device_ = std::move(other.device_);
  }
  return *this;
}

DeviceLock::~DeviceLock() {
  if (fd_ >= 0) close(fd_);  // Closing the only descriptor releases the flock.
}

}  // namespace tg
