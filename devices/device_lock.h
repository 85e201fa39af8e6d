// One owner per device: an exclusive, non-blocking flock on a lock file keyed by the device's
// identity, held for the lifetime of a DeviceLock. The holder's pid is written into the file
// so a refused process can say who owns the device. The lock dies with the process, so a
// crashed owner never leaves a device locked. Movable, not copyable; not thread-safe.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace tg {

class DeviceLock {
 public:
  // Creates the lock file's parent directories and the file if needed, takes the lock and
  // writes this process's pid into the file. FAILED_PRECONDITION at once when another open
  // of the file holds it: "device cpu0 is owned by another process (pid 1234, lock FILE)";
  // another error code when the file cannot be created or opened.
  static absl::StatusOr<DeviceLock> acquire(const std::string& lock_path,
                                            const std::string& device_name);

  DeviceLock(DeviceLock&& other) noexcept;
  DeviceLock& operator=(DeviceLock&& other) noexcept;
  DeviceLock(const DeviceLock&) = delete;
  DeviceLock& operator=(const DeviceLock&) = delete;
  // Releases the lock (the file stays, so the next owner reuses it).
  ~DeviceLock();

  const std::string& path() const { return path_; }
  const std::string& device_name() const { return device_; }

 private:
  DeviceLock(int fd, std::string path, std::string device)
      : fd_(fd), path_(std::move(path)), device_(std::move(device)) {}
  int fd_ = -1;
  std::string path_;
  std::string device_;
};

}  // namespace tg
