#include "daemon/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include <absl/time/clock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

// No process is left in the group: not running, and not an unreaped zombie either.
bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) == -1 && errno == ESRCH; }

// This test process has no child at all, zombie or alive.
bool no_children() {
  int status;
  return ::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

ChildOptions sh(const std::string& script, absl::Duration timeout = absl::Seconds(30)) {
  ChildOptions options;
  options.argv = {"sh", "-c", script};
  options.timeout = timeout;
  return options;
}

TEST(ChildProcess, CapturesOutputAndExitCode) {
  absl::StatusOr<ChildResult> result = run_child(sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->term_signal, 0);
  EXPECT_FALSE(result->succeeded());
  EXPECT_EQ(result->stdout_text, "out\n");
  EXPECT_EQ(result->stderr_text, "err\n");
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, ReportsTheSignalThatKilledTheLeader) {
  absl::StatusOr<ChildResult> result = run_child(sh("kill -USR1 $$"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->term_signal, SIGUSR1);
  EXPECT_EQ(result->exit_code, -1);
}

TEST(ChildProcess, EnvironmentEntriesOverrideInheritedOnes) {
  ChildOptions options = sh("echo \"$TG_A-$TG_B\"");
  ::setenv("TG_A", "inherited", 1);
  options.env = {"TG_A=override", "TG_B=added"};
  absl::StatusOr<ChildResult> result = run_child(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "override-added\n");

  options.inherit_env = false;
  options.env = {"TG_B=only"};
  options.argv = {"/bin/sh", "-c", "echo \"${TG_A:-unset}-$TG_B\""};
  result = run_child(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "unset-only\n");
  ::unsetenv("TG_A");
}

TEST(ChildProcess, ReadsMoreThanAPipeBufferAndTruncatesAtTheLimit) {
  absl::StatusOr<ChildResult> result = run_child(sh("head -c 1000000 /dev/zero"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text.size(), 1000000u);
  EXPECT_FALSE(result->output_truncated);

  ChildOptions options = sh("head -c 1000000 /dev/zero; echo done >&2");
  options.max_output_bytes = 1000;
  result = run_child(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->succeeded());
  EXPECT_EQ(result->stdout_text.size(), 1000u);
  EXPECT_EQ(result->stderr_text, "done\n");
  EXPECT_TRUE(result->output_truncated);
}

TEST(ChildProcess, TimeoutKillsTheWholeGroupAndReapsIt) {
  const absl::Time begun = absl::Now();  // Before start(), where the timeout starts.
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::start(
      sh("sleep 100 & sleep 100 & echo started >&2; sleep 100", absl::Milliseconds(300)));
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pgid = (*child)->pid();
  absl::StatusOr<ChildResult> result = (*child)->wait();
  EXPECT_GE(absl::Now() - begun, absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - begun, absl::Seconds(20));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_NE(result.status().message().find("sh -c"), std::string::npos);
  EXPECT_NE(result.status().message().find("sleep 100"), std::string::npos);
  EXPECT_NE(result.status().message().find("300ms"), std::string::npos);
  EXPECT_TRUE(group_gone(pgid));
  EXPECT_TRUE(no_children());
}

// Waits up to 30 s for `path` to exist: a child's sign that it is ready.
bool wait_for_file(const std::string& path) {
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (::access(path.c_str(), F_OK) != 0) {
    if (absl::Now() >= until) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(ChildProcess, MembersIgnoringSigtermGetSigkillAfterTheGrace) {
  // The shell and its background sleep ignore SIGTERM from the moment `ready` exists.
  const std::string ready = ::testing::TempDir() + "/tg-child-ready-" + std::to_string(::getpid());
  ::unlink(ready.c_str());
  ChildOptions options = sh("trap '' TERM; sleep 100 & echo > " + ready + "; sleep 100");
  options.kill_grace = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pgid = (*child)->pid();
  ASSERT_TRUE(wait_for_file(ready)) << "the shell never got past its trap";
  ::unlink(ready.c_str());
  const absl::Time begun = absl::Now();
  (*child)->kill();
  EXPECT_EQ((*child)->wait().status().code(), absl::StatusCode::kCancelled);
  // SIGTERM changed nothing: the group lived on until SIGKILL, the grace later.
  EXPECT_GE(absl::Now() - begun, absl::Milliseconds(300));
  EXPECT_TRUE(group_gone(pgid));
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, HelpersLeftRunningByAnExitedLeaderAreKilled) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::start(sh("sleep 100 & echo started"));
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pgid = (*child)->pid();
  absl::StatusOr<ChildResult> result = (*child)->wait();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->succeeded());
  EXPECT_EQ(result->stdout_text, "started\n");
  EXPECT_TRUE(group_gone(pgid));
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, KillCancelsAndLeavesNothing) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::start(sh("sleep 100 & sleep 100"));
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pgid = (*child)->pid();
  (*child)->kill();
  absl::StatusOr<ChildResult> result = (*child)->wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_TRUE(group_gone(pgid));
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, DestroyingARunningChildKillsAndReapsItsGroup) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::start(sh("sleep 100 & sleep 100"));
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pgid = (*child)->pid();
  EXPECT_FALSE(group_gone(pgid));
  child->reset();
  EXPECT_TRUE(group_gone(pgid));
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, MissingProgramIsNotFoundByName) {
  ChildOptions options;
  options.argv = {"tgrack-no-such-program"};
  absl::StatusOr<ChildResult> result = run_child(options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("tgrack-no-such-program"), std::string::npos);

  options.argv = {"/nonexistent/tgrack-prog"};
  result = run_child(options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("/nonexistent/tgrack-prog"), std::string::npos);
  EXPECT_TRUE(no_children());
}

TEST(ChildProcess, RejectsEmptyCommandAndUnboundedTimeout) {
  EXPECT_EQ(run_child(ChildOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run_child(sh("true", absl::InfiniteDuration())).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(run_child(sh("true", absl::ZeroDuration())).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tg
