#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace tg::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") + "/tgrack-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<Process>> Process::spawn(
    const std::string& path, const std::vector<std::string>& args,
    const std::string& stdout_path, const std::string& stderr_path,
    const std::map<std::string, std::string>& env) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_strings = {path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) env_strings.emplace_back(*entry);
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    return absl::InternalError("cannot create output files for " + path);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execve(path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
  if (pid < 0) return absl::InternalError("fork failed for " + path);
  setpgid(pid, pid);  // Also here, so the group exists before spawn() returns.
  return std::unique_ptr<Process>(new Process(pid, stdout_path, stderr_path));
}

Process::~Process() { kill(SIGKILL); }

// Reaps the leader once it has exited, first killing whatever is left in its group: until
// the leader is reaped its pid, and so the group id, cannot be reused by another process.
std::optional<int> Process::try_reap() {
  if (exit_status_) return exit_status_;
  siginfo_t info{};
  if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid_) {
    return std::nullopt;
  }
  ::kill(-pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  std::optional<int> status;
  wait_until([&] { return (status = try_reap()).has_value(); }, timeout, 5ms);
  return status;
}

int Process::kill(int signal, std::chrono::milliseconds grace) {
  if (exit_status_) return *exit_status_;
  ::kill(-pid_, signal);
  if (auto status = wait_exit(signal == SIGKILL ? 10s : grace)) return *status;
  ::kill(-pid_, SIGKILL);
  if (auto status = wait_exit(10s)) return *status;
  int status = 0;  // Unkillable only in theory; block rather than leave a zombie.
  waitpid(pid_, &status, 0);
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return *exit_status_;
}

std::string Process::stdout_text() const { return read_file(stdout_path_); }
std::string Process::stderr_text() const { return read_file(stderr_path_); }

Completed run(const TempDir& dir, const std::string& path, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout, const std::map<std::string, std::string>& env) {
  static int counter = 0;
  const std::string stem = dir.file("run-" + std::to_string(counter++));
  Completed completed;
  auto process = Process::spawn(path, args, stem + ".out", stem + ".err", env);
  if (!process.ok()) {
    completed.err = process.status().ToString();
    return completed;
  }
  if (auto status = (*process)->wait_exit(timeout)) completed.exit_status = *status;
  (*process)->kill();
  completed.out = (*process)->stdout_text();
  completed.err = (*process)->stderr_text();
  return completed;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
}

absl::StatusOr<std::string> read_port_file(const std::string& path, Process& process,
                                           std::chrono::milliseconds timeout) {
  std::string line;
  std::optional<int> exited;
  const bool found = wait_until(
      [&] {
        std::string text = read_file(path);
        if (const auto end = text.find('\n'); end != std::string::npos && end > 0) {
          line = text.substr(0, end);
          return true;
        }
        exited = process.wait_exit(0ms);
        return exited.has_value();
      },
      timeout);
  if (!line.empty()) return line;
  if (exited) {
    return absl::FailedPreconditionError("process exited with status " + std::to_string(*exited) +
                                         " before writing " + path + ": " + process.stderr_text());
  }
  (void)found;
  return absl::DeadlineExceededError("no address in " + path + " after " +
                                     std::to_string(timeout.count()) + " ms");
}

}  // namespace tg::testing
