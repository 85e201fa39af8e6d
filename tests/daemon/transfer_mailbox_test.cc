// TransferMailbox: early arrivals, bounded waits naming the transfer, cancellation, expiry.
#include "daemon/transfer_mailbox.h"

#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <thread>

namespace tg {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

HostTensor scalar(float v) {
  HostTensor t(TensorType{tgrack::v1::DTYPE_F32, {}});
  t.values<float>()[0] = v;
  return t;
}

TEST(TransferMailbox, EarlyArrivalIsKeptUntilTaken) {
  TransferMailbox box;
  ASSERT_TRUE(box.put("job1", "k", scalar(3)).ok());
  auto got = box.take("job1", "k", "node-a/0", 10ms, nullptr);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->values<float>()[0], 3);
  EXPECT_EQ(box.pending(), 0u);
}

// Returns once a take() is waiting in `box` (or after 5 s, when the test then fails on its
// own assertions), so what follows happens while the take waits.
void wait_for_a_taker(TransferMailbox& box) {
  const auto until = Clock::now() + 5s;
  while (box.waiting() == 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
}

TEST(TransferMailbox, KeysAreSeparatePerJob) {
  TransferMailbox box;
  ASSERT_TRUE(box.put("job1", "k", scalar(1)).ok());
  ASSERT_TRUE(box.put("job2", "k", scalar(2)).ok());
  EXPECT_EQ(box.put("job1", "k", scalar(9)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(box.take("job2", "k", "x/0", 10ms, nullptr)->values<float>()[0], 2);
  EXPECT_EQ(box.take("job1", "k", "x/0", 10ms, nullptr)->values<float>()[0], 1);
}

TEST(TransferMailbox, TakeWaitsForALatePut) {
  TransferMailbox box;
  std::thread sender([&] {
    wait_for_a_taker(box);
    box.put("job1", "k", scalar(7)).IgnoreError();
  });
  auto got = box.take("job1", "k", "node-a/0", 5s, nullptr);
  sender.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->values<float>()[0], 7);
}

TEST(TransferMailbox, NothingArrivingFailsAtTheTimeoutNamingKeyJobAndSender) {
  TransferMailbox box;
  const auto start = Clock::now();
  auto got = box.take("job1", "edge-3", "node-a/1", 100ms, nullptr);
  const auto waited = Clock::now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(got.status().message(),
            "transfer 'edge-3' of job job1 from node-a/1: nothing arrived within 100 ms");
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 2s);
}

TEST(TransferMailbox, CancellationWakesAWaitWithTheReason) {
  TransferMailbox box;
  CancelToken token;
  std::thread canceller([&] {
    wait_for_a_taker(box);
    token.cancel(absl::CancelledError("cancelled: drain of node-b"));
  });
  const auto start = Clock::now();
  auto got = box.take("job1", "k", "node-a/0", 10s, &token);
  canceller.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(got.status().message(), "cancelled: drain of node-b");
  EXPECT_LT(Clock::now() - start, 5s);
  // Already cancelled: no wait at all.
  EXPECT_EQ(box.take("job1", "k", "node-a/0", 10s, &token).status().code(),
            absl::StatusCode::kCancelled);
}

TEST(TransferMailbox, EndOfJobDropsItsUnclaimedValues) {
  TransferMailbox box;
  ASSERT_TRUE(box.put("job1", "a", scalar(1)).ok());
  ASSERT_TRUE(box.put("job2", "b", scalar(2)).ok());
  box.end_job("job1");
  EXPECT_EQ(box.pending(), 1u);
  EXPECT_EQ(box.take("job1", "a", "x/0", 1ms, nullptr).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(box.take("job2", "b", "x/0", 1ms, nullptr)->values<float>()[0], 2);
}

TEST(TransferMailbox, ExpiryDropsAValueNobodyTook) {
  TransferMailbox box(50ms);
  ASSERT_TRUE(box.put("job2", "b", scalar(2)).ok());
  // Gone 50 ms after it was put; waited for with a generous deadline.
  const auto until = Clock::now() + 30s;
  while (box.pending() != 0 && Clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(box.pending(), 0u);
  EXPECT_EQ(box.take("job2", "b", "x/0", 1ms, nullptr).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace tg
