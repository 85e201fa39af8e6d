#include "daemon/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>

extern char** environ;

namespace tg {
namespace {

// Longest pause while waiting for group members other than the leader, which have no
// descriptor to wait on.
constexpr absl::Duration kReapPoll = absl::Milliseconds(10);
constexpr size_t kStderrTail = 512;

absl::Status errno_status(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

std::string shell_quote(const std::string& arg) {
  const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./=:,+-@%", c);
  });
  if (plain) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The environment the child gets: the inherited one (optionally) with `env` laid over it.
std::vector<std::string> child_environment(const ChildOptions& options) {
  std::vector<std::string> result;
  auto key_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  if (options.inherit_env) {
    for (char** e = environ; *e != nullptr; ++e) result.emplace_back(*e);
  }
  for (const std::string& entry : options.env) {
    const std::string key = key_of(entry);
    std::erase_if(result, [&](const std::string& old) { return key_of(old) == key; });
    result.push_back(entry);
  }
  return result;
}

// argv[0] as execve needs it: a path. NOT_FOUND when PATH has no executable of that name.
absl::StatusOr<std::string> resolve_program(const std::string& program,
                                            const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos) return program;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& entry : env) {
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    const std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("program '", program, "' not found in PATH ", path));
}

absl::Status exec_error(int err, const std::string& program) {
  const std::string message = absl::StrCat("cannot run '", program, "': ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// In the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_child(const char* path, char* const argv[], char* const envp[], int stdin_fd,
                             int out_fd, int err_fd, int report_fd) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (::dup2(stdin_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    const int err = errno;
    (void)!::write(report_fd, &err, sizeof err);
    ::_exit(127);
  }
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(path, argv, envp);
  const int err = errno;
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::start(ChildOptions options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("child command is empty");
  const std::string command =
      absl::StrJoin(options.argv, " ",
                    [](std::string* out, const std::string& a) { out->append(shell_quote(a)); });
  if (options.timeout <= absl::ZeroDuration() || options.timeout == absl::InfiniteDuration() ||
      options.kill_grace < absl::ZeroDuration() || options.kill_grace == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command '", command, "' needs a finite positive timeout and grace"));
  }

  std::vector<std::string> env = child_environment(options);
  absl::StatusOr<std::string> path = resolve_program(options.argv[0], env);
  if (!path.ok()) return path.status();
  std::vector<char*> argv_ptrs;
  for (std::string& arg : options.argv) argv_ptrs.push_back(arg.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (std::string& entry : env) env_ptrs.push_back(entry.data());
  env_ptrs.push_back(nullptr);

  // Orphaned members of the group come back to this process to be reaped.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return errno_status("PR_SET_CHILD_SUBREAPER");

  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int cancel_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto close_all = [&] {
    for (int fd : {out[0], out[1], err[0], err[1], report[0], report[1], devnull, cancel_fd}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (devnull < 0 || cancel_fd < 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
      ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    absl::Status status = errno_status("cannot set up pipes for '" + command + "'");
    close_all();
    return status;
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    absl::Status status = errno_status("cannot fork for '" + command + "'");
    close_all();
    return status;
  }
  if (pid == 0) {
    exec_child(path->c_str(), argv_ptrs.data(), env_ptrs.data(), devnull, out[1], err[1],
               report[1]);
  }
  // Also here, so the group exists before anyone signals it (EACCES once the child has
  // exec'd, by which time it has done so itself).
  ::setpgid(pid, pid);
  for (int* fd : {&out[1], &err[1], &report[1]}) {
    ::close(*fd);
    *fd = -1;
  }
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof exec_errno) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close_all();
    return exec_error(exec_errno, options.argv[0]);
  }
  // glibc 2.36 declares pidfd_open without C linkage; the system call is the same.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    absl::Status status = errno_status("pidfd_open for '" + command + "'");
    ::kill(-pid, SIGKILL);
    int wstatus;
    while (::waitpid(-pid, &wstatus, 0) > 0 || errno == EINTR) {
    }
    close_all();
    return status;
  }
  ::close(report[0]);
  ::close(devnull);
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(std::move(options), command, pid, pidfd, out[0], err[0], cancel_fd));
}

ChildProcess::ChildProcess(ChildOptions options, std::string command, pid_t pid, int pidfd,
                           int out_fd, int err_fd, int cancel_fd)
    : options_(std::move(options)),
      command_(std::move(command)),
      pid_(pid),
      deadline_(absl::Now() + options_.timeout),
      pidfd_(pidfd),
      out_fd_(out_fd),
      err_fd_(err_fd),
      cancel_fd_(cancel_fd) {}

ChildProcess::~ChildProcess() {
  if (!done_) {
    terminate_group();
    close_fds();
  }
  ::close(cancel_fd_);
}

void ChildProcess::kill() {
  const uint64_t one = 1;
  (void)!::write(cancel_fd_, &one, sizeof one);
}

absl::StatusOr<ChildResult> ChildProcess::wait() {
  if (done_) return absl::FailedPreconditionError("wait() was already called for " + command_);
  enum { kExited, kTimedOut, kCancelled } outcome;
  for (;;) {
    const absl::Duration left = deadline_ - absl::Now();
    if (left <= absl::ZeroDuration()) {
      outcome = kTimedOut;
      break;
    }
    pollfd fds[4] = {
        {pidfd_, POLLIN, 0}, {cancel_fd_, POLLIN, 0}, {out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
    if (::poll(fds, 4, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      outcome = kCancelled;  // Cannot wait any more; do not leave the group behind.
      break;
    }
    if (fds[2].revents != 0) read_available(out_fd_, result_.stdout_text);
    if (fds[3].revents != 0) read_available(err_fd_, result_.stderr_text);
    if (fds[0].revents != 0) {
      int status = 0;
      pid_t reaped;
      do {
        reaped = ::waitpid(pid_, &status, 0);
      } while (reaped < 0 && errno == EINTR);
      leader_reaped_ = true;
      leader_status_ = status;
      outcome = kExited;
      break;
    }
    if (fds[1].revents != 0) {
      outcome = kCancelled;
      break;
    }
  }

  const bool group_gone = terminate_group();
  drain_output(absl::Now() + std::max(options_.kill_grace, absl::Seconds(1)));
  close_fds();
  done_ = true;

  if (!group_gone) {
    return absl::InternalError(absl::StrCat("process group ", pid_, " of '", command_,
                                            "' still has members after SIGKILL"));
  }
  std::string tail(absl::StripAsciiWhitespace(
      absl::string_view(result_.stderr_text)
          .substr(result_.stderr_text.size() - std::min(result_.stderr_text.size(), kStderrTail))));
  if (!tail.empty()) tail = absl::StrCat("; stderr: ", tail);
  switch (outcome) {
    case kTimedOut:
      return absl::DeadlineExceededError(absl::StrCat("command '", command_, "' timed out after ",
                                                      absl::FormatDuration(options_.timeout),
                                                      "; its process group was killed", tail));
    case kCancelled:
      return absl::CancelledError(
          absl::StrCat("command '", command_, "' was killed before it finished", tail));
    case kExited:
      break;
  }
  if (WIFEXITED(leader_status_)) {
    result_.exit_code = WEXITSTATUS(leader_status_);
  } else if (WIFSIGNALED(leader_status_)) {
    result_.term_signal = WTERMSIG(leader_status_);
  }
  return std::move(result_);
}

void ChildProcess::read_available(int& fd, std::string& into) {
  char buffer[65536];
  ssize_t n;
  do {
    n = ::read(fd, buffer, sizeof buffer);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    ::close(fd);
    fd = -1;
    return;
  }
  const size_t room = options_.max_output_bytes - std::min(options_.max_output_bytes, into.size());
  if (static_cast<size_t>(n) > room) result_.output_truncated = true;
  into.append(buffer, std::min(static_cast<size_t>(n), room));
}

void ChildProcess::reap_group_members() {
  for (;;) {
    int status;
    const pid_t reaped = ::waitpid(-pid_, &status, WNOHANG);
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped <= 0) return;
    if (reaped == pid_) {
      leader_reaped_ = true;
      leader_status_ = status;
    }
  }
}

bool ChildProcess::terminate_group() {
  // A zombie still counts as a member, so an empty group means every member was reaped.
  auto group_empty = [this] { return ::kill(-pid_, 0) < 0 && errno == ESRCH; };
  reap_group_members();
  if (group_empty()) return true;
  for (int sig : {SIGTERM, SIGKILL}) {
    ::kill(-pid_, sig);
    const absl::Time until = absl::Now() + std::max(options_.kill_grace, kReapPoll);
    for (;;) {
      reap_group_members();
      if (group_empty()) return true;
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      // Wakes early for output and for the leader's exit; other members are polled.
      pollfd fds[3] = {
          {leader_reaped_ ? -1 : pidfd_, POLLIN, 0}, {out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      const int timeout_ms =
          static_cast<int>(absl::ToInt64Milliseconds(std::min(left, kReapPoll)) + 1);
      if (::poll(fds, 3, timeout_ms) > 0) {
        if (fds[1].revents != 0) read_available(out_fd_, result_.stdout_text);
        if (fds[2].revents != 0) read_available(err_fd_, result_.stderr_text);
      }
    }
  }
  return false;
}

void ChildProcess::drain_output(absl::Time until) {
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return;
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left) + 1));
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) read_available(out_fd_, result_.stdout_text);
    if (fds[1].revents != 0) read_available(err_fd_, result_.stderr_text);
  }
}

void ChildProcess::close_fds() {
  for (int* fd : {&pidfd_, &out_fd_, &err_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

absl::StatusOr<ChildResult> run_child(ChildOptions options) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::start(std::move(options));
  if (!child.ok()) return child.status();
  return (*child)->wait();
}

}  // namespace tg
