#include "devices/device_lock.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace tg {
namespace {

class DeviceLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tgrack-lock-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string lock_path() const { return (dir_ / "locks" / "cpu0.lock").string(); }
  std::filesystem::path dir_;
};

// Reads one byte from fd, waiting at most 10 s.
bool read_byte(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c;
  return poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1;
}

TEST_F(DeviceLockTest, SecondOwnerIsRefusedWithThePid) {
  auto first = DeviceLock::acquire(lock_path(), "cpu0");  // Creates the parent directories.
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = DeviceLock::acquire(lock_path(), "cpu0");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "device cpu0 is owned by another process (pid " +
                                           std::to_string(getpid()) + ", lock " + lock_path() +
                                           ")");
}

TEST_F(DeviceLockTest, ReleasedOnDestructionAndMovable) {
  {
    auto first = DeviceLock::acquire(lock_path(), "cpu0");
    ASSERT_TRUE(first.ok());
    DeviceLock moved = *std::move(first);
    EXPECT_EQ(moved.device_name(), "cpu0");
    EXPECT_FALSE(DeviceLock::acquire(lock_path(), "cpu0").ok());
  }
  EXPECT_TRUE(DeviceLock::acquire(lock_path(), "cpu0").ok());
}

TEST_F(DeviceLockTest, LockHeldByAnotherProcessNamesItsPid) {
  int to_child[2], to_parent[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(to_parent), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = DeviceLock::acquire(lock_path(), "cpu0");
    const char ok = lock.ok() ? 'y' : 'n';
    if (write(to_parent[1], &ok, 1) != 1) _exit(2);
    read_byte(to_child[0]);  // Hold the lock until the parent has looked.
    _exit(lock.ok() ? 0 : 1);
  }
  ASSERT_TRUE(read_byte(to_parent[0]));
  auto refused = DeviceLock::acquire(lock_path(), "cpu0");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("(pid " + std::to_string(child) + ", lock "),
            std::string::npos)
      << refused.status();
  ASSERT_EQ(write(to_child[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The child is gone, and its lock with it.
  EXPECT_TRUE(DeviceLock::acquire(lock_path(), "cpu0").ok());
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) close(fd);
}

TEST_F(DeviceLockTest, UncreatableDirectoryIsAnError) {
  auto lock = DeviceLock::acquire("/proc/self/no/such/dir/cpu0.lock", "cpu0");
  EXPECT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("cpu0"), std::string::npos);
}

}  // namespace
}  // namespace tg
