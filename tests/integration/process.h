// A test harness for real processes. Every child runs in its own process group with its
// stdout and stderr in files; teardown kills the whole group and reaps the child, so a test
// leaves no orphans even when it fails half-way. Every wait takes a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

namespace tg::testing {

using namespace std::chrono_literals;

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// One running child process.
class Process {
 public:
  // Starts `path` with `args` (argv[1..]) as the leader of a new process group; stdout and
  // stderr go to `stdout_path` and `stderr_path`. `env` entries are added to the environment.
  static absl::StatusOr<std::unique_ptr<Process>> spawn(
      const std::string& path, const std::vector<std::string>& args,
      const std::string& stdout_path, const std::string& stderr_path,
      const std::map<std::string, std::string>& env = {});
  ~Process();  // kill(SIGKILL).
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the whole group, waits up to `grace` for the leader to exit, then
  // SIGKILLs the group and reaps. Returns the exit status as exit_status() describes.
  // Idempotent: once reaped, returns the recorded status and signals nothing.
  int kill(int signal = 9, std::chrono::milliseconds grace = 5s);

  // Waits up to `timeout` for the child to exit by itself. Returns its exit code, or
  // 128 + signal number when a signal ended it; nullopt while it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  Process(pid_t pid, std::string stdout_path, std::string stderr_path)
      : pid_(pid), stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {}
  std::optional<int> try_reap();

  pid_t pid_;
  std::string stdout_path_, stderr_path_;
  std::optional<int> exit_status_;
};

// Result of a command run to completion.
struct Completed {
  int exit_status = -1;  // As Process::wait_exit; -1 when it was killed for running too long.
  std::string out;
  std::string err;
};

// Runs a command to completion within `timeout` (killed and reaped after it); output files go
// into `dir`.
Completed run(const TempDir& dir, const std::string& path, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = 20s,
              const std::map<std::string, std::string>& env = {});

// Polls `condition` every `period` until it holds (true) or `timeout` passes (false).
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period = 20ms);

// Waits for `path` to hold one non-empty line and returns it (without the newline). Fails
// at once, with the process's stderr, if `process` exits first; DEADLINE_EXCEEDED after
// `timeout`.
absl::StatusOr<std::string> read_port_file(const std::string& path, Process& process,
                                           std::chrono::milliseconds timeout = 20s);

std::string read_file(const std::string& path);

}  // namespace tg::testing
