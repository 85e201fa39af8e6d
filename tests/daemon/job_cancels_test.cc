// JobCancels and CancelToken: cancel by job id, callbacks once, late starts refused.
#include "daemon/job_cancels.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

TEST(JobCancels, CancelReachesEveryRunOfTheJobOnly) {
  JobCancels cancels;
  auto a1 = cancels.enter("a");
  auto a2 = cancels.enter("a");
  auto b = cancels.enter("b");
  int woken = 0;
  a1->token()->on_cancel([&] { ++woken; });
  EXPECT_TRUE(cancels.cancel("a", "drain of node-a"));
  EXPECT_EQ(a1->token()->status(), absl::CancelledError("cancelled: drain of node-a"));
  EXPECT_TRUE(a2->token()->cancelled());
  EXPECT_FALSE(b->token()->cancelled());
  EXPECT_EQ(woken, 1);
  a1->token()->cancel(absl::CancelledError("again"));  // The first cancel wins; no rerun.
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(a1->token()->status().message(), "cancelled: drain of node-a");
}

TEST(JobCancels, UnknownJobIsNotFoundButARunStartingLateIsCancelled) {
  JobCancels cancels;
  EXPECT_FALSE(cancels.cancel("late", "user asked"));
  auto run = cancels.enter("late");
  EXPECT_EQ(run->token()->status().message(), "cancelled: user asked");
}

TEST(JobCancels, ATenantCancelsOnlyItsOwnRunsAndLateStarts) {
  JobCancels cancels;
  auto theirs = cancels.enter("job-x", "tenant-b");
  EXPECT_FALSE(cancels.cancel("job-x", "not yours", "tenant-a"));
  EXPECT_FALSE(theirs->token()->cancelled());
  auto late_theirs = cancels.enter("job-x", "tenant-b");  // A's cancel is not remembered for B.
  EXPECT_FALSE(late_theirs->token()->cancelled());
  auto late_own = cancels.enter("job-x", "tenant-a");
  EXPECT_EQ(late_own->token()->status().message(), "cancelled: not yours");
  EXPECT_TRUE(cancels.cancel("job-x", "owner asked", "tenant-b"));
  EXPECT_EQ(theirs->token()->status().message(), "cancelled: owner asked");
  EXPECT_TRUE(late_theirs->token()->cancelled());
}

TEST(JobCancels, TheDaemonsOwnCancelReachesEveryTenant) {
  JobCancels cancels;
  auto a = cancels.enter("job-y", "tenant-a");
  auto b = cancels.enter("job-y", "tenant-b");
  EXPECT_TRUE(cancels.cancel("job-y", "drain"));
  EXPECT_TRUE(a->token()->cancelled());
  EXPECT_TRUE(b->token()->cancelled());
}

TEST(JobCancels, FinishedRunsAreForgotten) {
  JobCancels cancels;
  { auto run = cancels.enter("done"); }
  EXPECT_FALSE(cancels.cancel("done", "too late"));
}

TEST(CancelToken, RemovedCallbackNeverRunsAndLateCallbackRunsAtOnce) {
  CancelToken token;
  int runs = 0;
  const uint64_t handle = token.on_cancel([&] { ++runs; });
  token.remove(handle);
  token.cancel(absl::CancelledError("x"));
  EXPECT_EQ(runs, 0);
  token.on_cancel([&] { ++runs; });
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace tg
