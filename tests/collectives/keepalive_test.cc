// Keep-alives between ranks while they wait, over real tcp pairs on loopback (two ranks of
// one process, each with its own listener) and over a local pair (two ranks sharing a hub),
// one of them driven step by step by the test. A
// peer that keeps sending keep-alives from an earlier operation is reported behind, with both
// sequence numbers; a peer whose thread is held (sends nothing) is reported silent; either
// report comes at the stall time and the wait goes on until the deadline, whose error
// carries the verdict.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "collectives/flight_recorder.h"
#include "collectives/transport/context.h"
#include "collectives/transport/local/pair.h"
#include "collectives/transport/tcp/connect.h"
#include "collectives/transport/tcp/handshake.h"
#include "collectives/transport/tcp/listener.h"

namespace tg::coll {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStallAfter = 1000ms;
constexpr auto kKeepalive = 50ms;
constexpr auto kDeadAfter = 3000ms;
constexpr auto kHeldPeerTimeout = 60000ms;  // The test ends the held peer's wait itself.

// What the observing rank's stall callback saw.
struct Stall {
  uint32_t peer = 0;
  PeerVerdict verdict;
  Clock::time_point at;
};

// A gate the test opens; the peer's thread waits on it.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, limit, [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard<std::mutex> l(mu_);
    return open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Ranks 0 and 1 linked over the transport named by the parameter ("tcp" or "local"). Rank 0
// reports stalls to `stalls` and records into `recorder`; both send keep-alives every
// kKeepalive while they wait.
class TwoRanks : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ctx_[0] = std::make_unique<Context>(0, 2, kDeadAfter);
    ctx_[1] = std::make_unique<Context>(1, 2, kHeldPeerTimeout);
    ctx_[0]->set_watch({&recorder_, kStallAfter, kKeepalive, [this](uint32_t peer, const PeerVerdict& v) {
                          std::lock_guard<std::mutex> l(mu_);
                          stalls_.push_back({peer, v, Clock::now()});
                        }});
    ctx_[1]->set_watch({nullptr, 0ms, kKeepalive, nullptr});
    if (GetParam() == "local") {
      link_locally();
    } else {
      link_over_tcp();
    }
  }

  void link_locally() {
    auto hub = std::make_shared<local::LocalHub>(std::vector<uint32_t>{0, 1});
    const auto deadline = Clock::now() + 20s;
    absl::Status status[2];
    std::thread other([&] { status[1] = hub->attach(1, ctx_[1]->doorbell(), deadline); });
    status[0] = hub->attach(0, ctx_[0]->doorbell(), deadline);
    other.join();
    ASSERT_TRUE(status[0].ok()) << status[0];
    ASSERT_TRUE(status[1].ok()) << status[1];
    ctx_[0]->set_pair(1, std::make_unique<local::LocalPair>(0, 1, hub, "rank-1"));
    ctx_[1]->set_pair(0, std::make_unique<local::LocalPair>(1, 0, hub, "rank-0"));
  }

  void link_over_tcp() {
    auto addresses = std::make_shared<std::vector<std::string>>();
    for (auto& l : listeners_) {
      l = std::make_unique<tcp::Listener>();
      ASSERT_TRUE(l->start("127.0.0.1", 0, 1 << 20).ok());
      addresses->push_back(l->address());
    }
    const std::string secret = tcp::new_secret().value();
    absl::Status status[2];
    const auto deadline = Clock::now() + 20s;
    std::thread other([&] {
      status[1] = tcp::connect_pairs(*ctx_[1], *listeners_[1], "keepalive", secret, addresses, {0}, {}, deadline);
    });
    status[0] = tcp::connect_pairs(*ctx_[0], *listeners_[0], "keepalive", secret, addresses, {1}, {}, deadline);
    other.join();
    ASSERT_TRUE(status[0].ok()) << status[0];
    ASSERT_TRUE(status[1].ok()) << status[1];
  }

  // Rank 0 enters `operations` operations and waits, in the last, for 8 bytes from rank 1
  // that never come; returns how that wait ended and how long the last operation took.
  absl::Status wait_in_vain(int operations, std::chrono::milliseconds* took) {
    for (int i = 0; i < operations; ++i) {
      if (absl::Status s = ctx_[0]->begin("all_reduce", "ring"); !s.ok()) return s;
    }
    const auto began = Clock::now();
    recorder_.begin(ctx_[0]->sequence(), "all_reduce", "ring", 8);
    char buf[8];
    Op op;
    ctx_[0]->recv(op, 1, buf, sizeof(buf));
    absl::Status s = ctx_[0]->wait(op);
    recorder_.end(s);
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
    return s;
  }

  std::vector<Stall> stalls() {
    std::lock_guard<std::mutex> l(mu_);
    return stalls_;
  }

  std::unique_ptr<tcp::Listener> listeners_[2];
  FlightRecorder recorder_;
  std::mutex mu_;
  std::vector<Stall> stalls_;
  std::unique_ptr<Context> ctx_[2];  // Last: goes first, while what its watch uses remains.
};

TEST_P(TwoRanks, PeerStillInAnEarlierOperationIsReportedBehindWithBothSequenceNumbers) {
  // Rank 1 is stuck in its operation #1 (waiting for rank 0, as the test holds it) and keeps
  // sending keep-alives; rank 0 has moved on to #2 and waits for rank 1's bytes.
  Gate entered, release;
  absl::Status peer_status;
  std::thread peer([&] {
    peer_status = ctx_[1]->begin("all_reduce", "ring");
    if (!peer_status.ok()) return;
    peer_status = ctx_[1]->wait_until(
        [&] {
          entered.open();
          return release.is_open();
        },
        [] { return 0u; }, 0);
  });
  ASSERT_TRUE(entered.wait(20s));

  std::chrono::milliseconds took;
  const absl::Status s = wait_in_vain(2, &took);
  release.open();
  ctx_[1]->doorbell()->ring();
  peer.join();

  // Reported once, at the stall time, as behind: its #1 against this rank's #2.
  const std::vector<Stall> seen = stalls();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].peer, 1u);
  EXPECT_EQ(peer_state_name(seen[0].verdict.state), std::string("behind"));
  EXPECT_EQ(seen[0].verdict.sequence, 1u);
  EXPECT_EQ(seen[0].verdict.waiting_on, 0);
  EXPECT_EQ(describe_verdict(seen[0].verdict, 2),
            "it is alive but behind: at its operation #1, waiting for rank 0 while this rank is at #2");
  // Not declared dead before dead-after: the wait failed only at its deadline, and with the verdict.
  EXPECT_GE(took, kDeadAfter);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("waiting for peer rank 1 at"), std::string::npos) << s;
  EXPECT_NE(s.message().find("it is alive but behind: at its operation #1"), std::string::npos) << s;
  // The flight recorder holds the verdict on the link.
  const auto ops = recorder_.ops();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(ops[0].stalled());
  EXPECT_EQ(ops[0].waiting_on(), 1);
  EXPECT_EQ(ops[0].peer_state(), "behind");
  EXPECT_EQ(ops[0].peer_sequence(), 1u);
  EXPECT_EQ(ops[0].link(), GetParam());
}

TEST_P(TwoRanks, PeerWhoseThreadIsHeldIsReportedSilent) {
  // Rank 1's thread never waits: it sends nothing while the test holds it.
  Gate release;
  std::thread peer([&] { release.wait(60s); });

  std::chrono::milliseconds took;
  const absl::Status s = wait_in_vain(1, &took);
  release.open();
  peer.join();

  const std::vector<Stall> seen = stalls();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].peer, 1u);
  EXPECT_EQ(peer_state_name(seen[0].verdict.state), std::string("silent"));
  EXPECT_EQ(seen[0].verdict.sequence, 0u);  // Never heard.
  EXPECT_GE(seen[0].verdict.silent_for, kStallAfter);
  EXPECT_GE(took, kDeadAfter);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("it is silent: nothing heard for"), std::string::npos) << s;
  const auto ops = recorder_.ops();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].peer_state(), "silent");
  EXPECT_GE(ops[0].peer_silent_ms(), kStallAfter.count());
  EXPECT_EQ(ops[0].link(), GetParam());
}

TEST_P(TwoRanks, PeerSilentAfterItsKeepalivesStopIsSilentAtItsLastOperation) {
  // Rank 1 waits in #1, sending keep-alives, until rank 0 has heard one; then its thread is
  // held (as a stopped process) while rank 0 waits in #1 for its bytes.
  Gate heard, release;
  std::thread peer([&] {
    if (!ctx_[1]->begin("all_reduce", "ring").ok()) return;
    ctx_[1]->wait_until([&] { return heard.is_open(); }, [] { return 0u; }, 0).IgnoreError();
    release.wait(60s);
  });
  const auto deadline = Clock::now() + 20s;
  while (ctx_[0]->pair(1)->liveness().sequence != 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // Polls a condition with a deadline; nothing to wake on.
  }
  ASSERT_EQ(ctx_[0]->pair(1)->liveness().sequence, 1u);
  heard.open();
  ctx_[1]->doorbell()->ring();

  std::chrono::milliseconds took;
  const absl::Status s = wait_in_vain(1, &took);
  release.open();
  peer.join();

  const std::vector<Stall> seen = stalls();
  ASSERT_EQ(seen.size(), 1u);
  // Heard last in #1: once silence passes the stall time it is silent, naming that operation.
  const auto ops = recorder_.ops();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].peer_state(), "silent");
  EXPECT_EQ(ops[0].peer_sequence(), 1u);
  EXPECT_GT(ops[0].peer_heard_unix_ms(), 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("it is silent: nothing heard for"), std::string::npos) << s;
  EXPECT_NE(s.message().find("last at its operation #1, waiting for rank 0"), std::string::npos) << s;
  EXPECT_GE(took, kDeadAfter);
}

INSTANTIATE_TEST_SUITE_P(Transports, TwoRanks, ::testing::Values("tcp", "local"),
                         [](const auto& info) { return info.param; });

TEST(PeerVerdict, JudgesFromTheKeepalivesAndTheStallTime) {
  const auto now = Clock::now();
  const PeerLiveness none;
  EXPECT_EQ(judge_peer(none, 0, 4, now - 5s, 1s, now).state, PeerState::kUnknown);
  PeerLiveness heard{.supported = true, .heard = now - 100ms, .sequence = 4, .waiting_on = 2};
  EXPECT_EQ(judge_peer(heard, 0, 4, now - 5s, 1s, now).state, PeerState::kWaiting);
  heard.waiting_on = 0;  // Waits for the judging rank itself.
  EXPECT_EQ(judge_peer(heard, 0, 4, now - 5s, 1s, now).state, PeerState::kAlive);
  EXPECT_EQ(judge_peer(heard, 0, 5, now - 5s, 1s, now).state, PeerState::kBehind);
  heard.heard = now - 1500ms;
  const PeerVerdict silent = judge_peer(heard, 0, 5, now - 5s, 1s, now);
  EXPECT_EQ(silent.state, PeerState::kSilent);
  EXPECT_EQ(silent.silent_for, 1500ms);
  const PeerLiveness never{.supported = true};
  const PeerVerdict quiet = judge_peer(never, 0, 1, now - 1200ms, 1s, now);
  EXPECT_EQ(quiet.state, PeerState::kSilent);
  EXPECT_EQ(quiet.silent_for, 1200ms);
  EXPECT_EQ(describe_verdict(quiet, 1), "it is silent: nothing heard for 1.2 s (no keep-alive yet)");
}

}  // namespace
}  // namespace tg::coll
