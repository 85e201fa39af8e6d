// The root cause of a job that failed on several daemons: the lost daemon over the survivors
// that lost it as a peer, whichever error came first; a failure over a cancellation.
#include "controller/job_failure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

NodeOutcome outcome(const std::string& node, absl::Status status, int done_ms, bool lost = false) {
  NodeOutcome out;
  out.node = node;
  out.address = node + ".example:7070";
  tgrack::v1::DeviceRef device;
  device.set_node(node);
  device.set_index(0);
  out.devices.push_back(device);
  out.status = std::move(status);
  out.done = Clock::time_point() + std::chrono::milliseconds(done_ms);
  out.lost = lost;
  return out;
}

TEST(JobFailure, EveryNodeSucceedingIsOk) {
  EXPECT_TRUE(job_failure("job-1", {outcome("a", absl::OkStatus(), 1),
                                    outcome("b", absl::OkStatus(), 2)})
                  .ok());
}

TEST(JobFailure, TheLostNodeIsNamedEvenWhenTheSurvivorsErrorCameFirst) {
  const absl::Status status = job_failure(
      "job-1", {outcome("a", absl::UnavailableError("peer rank 1 at 10.0.0.2:9000 closed"), 1),
                outcome("b", absl::UnavailableError("Socket closed"), 2, /*lost=*/true)});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(),
              HasSubstr("job-1: node 'b' (b/0) at b.example:7070 is unreachable: Socket closed"));
  EXPECT_THAT(status.message(), HasSubstr("a/0 failed too: peer rank 1 at 10.0.0.2:9000 closed"));
  EXPECT_THAT(status.message(), Not(HasSubstr("node 'a'")));
}

TEST(JobFailure, AFailureIsTheCauseOverTheCancellationsItCaused) {
  const absl::Status status =
      job_failure("job-2", {outcome("a", absl::CancelledError("job-2 failed on node 'b'"), 1),
                            outcome("b", absl::InternalError("kernel fault"), 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("job-2: node 'b' (b/0) failed: kernel fault"));
  EXPECT_THAT(status.message(), Not(HasSubstr("a/0")));
}

TEST(JobFailure, AmongLiveNodesTheEarliestFailureIsTheCause) {
  const absl::Status status =
      job_failure("job-3", {outcome("a", absl::InternalError("late"), 5),
                            outcome("b", absl::InvalidArgumentError("early"), 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("job-3: node 'b' (b/0) failed: early; a/0 failed too: late"));
}

}  // namespace
}  // namespace tg
