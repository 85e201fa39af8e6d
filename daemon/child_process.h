// ChildProcess: runs a command in a process group of its own, under a timeout, and leaves
// nothing behind.
//
// The child is the leader of a new process group; everything it starts stays in that group
// unless it moves itself out. When the timeout passes, when kill() is called, or when the
// object is destroyed before the child finished, the whole group gets SIGTERM, then SIGKILL
// after a grace period, and every member is reaped. When the leader exits on its own, any
// members it left running are killed the same way: a command's helpers do not outlive it.
//
// Starting a child makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), so that
// members orphaned by the leader's death are re-parented here and reaped here instead of
// lingering as zombies of an init that may not reap. A process that calls setsid() or
// setpgid() to leave the group escapes all of this.
//
// stdin is /dev/null; stdout and stderr are captured (up to a limit each). Inherited file
// descriptors other than 0-2 are closed in the child.
//
// Thread safety: kill() may be called from any thread at any time; every other method,
// and destruction, from one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

namespace tg {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'.
  std::vector<std::string> env;   // "KEY=VALUE" entries added to (or replacing) the inherited
                                  // environment; with inherit_env false, the whole of it.
  bool inherit_env = true;
  absl::Duration timeout = absl::Seconds(60);    // From start(); must be finite and positive.
  absl::Duration kill_grace = absl::Seconds(2);  // SIGTERM to SIGKILL.
  size_t max_output_bytes = size_t{1} << 20;     // Per stream; the rest is read and dropped.
};

struct ChildResult {
  int exit_code = -1;   // When the leader exited; -1 when it was killed by a signal.
  int term_signal = 0;  // The signal that killed the leader, 0 when it exited.
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;  // A stream passed max_output_bytes.

  bool succeeded() const { return term_signal == 0 && exit_code == 0; }
};

class ChildProcess {
 public:
  // Forks and execs options.argv. INVALID_ARGUMENT for an empty argv or a bad timeout;
  // NOT_FOUND or PERMISSION_DENIED (naming the program) when exec fails; INTERNAL when a
  // system call fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> start(ChildOptions options);

  // Kills and reaps the group unless wait() already did.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Blocks until the leader exits, the timeout passes, or kill() is called, collecting its
  // output; returns once every member of the group is reaped. The result, whatever the
  // exit code, when the leader exited on its own; DEADLINE_EXCEEDED naming the command and
  // the timeout; CANCELLED after kill(); INTERNAL when the group would not die. Call once.
  absl::StatusOr<ChildResult> wait();

  // Asks a running or coming wait() to kill the group (shutdown). Thread-safe; idempotent.
  void kill();

  // The leader's pid, which is also the process group id.
  pid_t pid() const { return pid_; }
  // The command as a shell would show it, for messages.
  const std::string& command() const { return command_; }

 private:
  ChildProcess(ChildOptions options, std::string command, pid_t pid, int pidfd, int out_fd,
               int err_fd, int cancel_fd);

  void read_available(int& fd, std::string& into);
  // SIGTERM to the group, SIGKILL after the grace, reaps every member; reads output while
  // waiting. False when members were still there after the SIGKILL grace.
  bool terminate_group();
  void reap_group_members();
  void drain_output(absl::Time until);
  void close_fds();

  const ChildOptions options_;
  const std::string command_;
  const pid_t pid_;
  const absl::Time deadline_;
  int pidfd_;
  int out_fd_;
  int err_fd_;
  const int cancel_fd_;  // eventfd written by kill().
  bool leader_reaped_ = false;
  bool done_ = false;
  int leader_status_ = 0;
  ChildResult result_;
};

// start() then wait(): the usual way to run a short command.
absl::StatusOr<ChildResult> run_child(ChildOptions options);

}  // namespace tg
