// Failure in bounded time: a peer that drops its links mid-run, a peer that stalls, a rank
// that never joins. Every surviving rank must fail within the timeout with an error naming
// the rank at fault; the communicator then refuses work at once, and a new one works.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <regex>

#include <gtest/gtest.h>

#include "tests/collectives/world.h"

namespace tg::coll {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kTimeoutMs = 1500;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Waits (bounded) until `count` ranks have reported.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void done() {
    std::lock_guard<std::mutex> l(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  bool wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(20), [&] { return left_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
};

absl::Status big_all_reduce(Communicator& comm) {
  std::vector<float> data(4 << 20, 1.0f);
  auto* p = reinterpret_cast<std::byte*>(data.data());
  return comm.all_reduce(p, p, data.size(), tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, "ring");
}

absl::Status checked_all_reduce(Communicator& comm) {
  std::vector<int32_t> data(10001, static_cast<int32_t>(comm.rank()) + 1);
  auto* p = reinterpret_cast<std::byte*>(data.data());
  if (auto s = comm.all_reduce(p, p, data.size(), tgrack::v1::DTYPE_I32, tgrack::v1::REDUCE_OP_SUM); !s.ok()) return s;
  const int32_t want = static_cast<int32_t>(comm.size() * (comm.size() + 1) / 2);
  for (int32_t v : data) {
    if (v != want) return absl::InternalError("wrong all-reduce result");
  }
  return absl::OkStatus();
}

// `status` is a poisoned communicator's refusal, carrying the failure `first` that poisoned it.
void expect_poisoned_by(const absl::Status& status, const std::string& first) {
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(std::string(status.message()), "communicator poisoned by an earlier failure: " + first)
      << status;
}

// Whether `message` names rank `rank` ("rank 1 never connected", "peer rank 1 at ...",
// "local ranks 0,1 never joined"); addresses such as 127.0.0.1 do not count.
bool names_rank(const std::string& message, uint32_t rank) {
  const std::regex pattern("\\branks? ([0-9]+,)*" + std::to_string(rank) + "(?![0-9.])");
  return std::regex_search(message, pattern);
}

TEST(FailureTest, NamesRankFindsTheRankNotAnAddress) {
  EXPECT_TRUE(names_rank("rank 1 never connected to rank 0 of communicator c", 1));
  EXPECT_TRUE(names_rank("peer rank 1 at 127.0.0.1:4000 never acknowledged", 1));
  EXPECT_TRUE(names_rank("local ranks 0,1 never joined", 1));
  EXPECT_FALSE(names_rank("peer rank 2 at 127.0.0.1:4001 never acknowledged", 1));
  EXPECT_FALSE(names_rank("rank 12 never connected to rank 0", 1));
}

class DeadPeerTest : public ::testing::TestWithParam<bool> {};

TEST_P(DeadPeerTest, EveryRankFailsFastNamingTheDeadRankAndANewCommunicatorWorks) {
  const bool mixed = GetParam();
  testing::World world(mixed ? testing::World::halves(4) : testing::World::spread(4), kTimeoutMs);
  std::vector<double> elapsed(4, 0), after_elapsed(4, 0);
  std::vector<absl::Status> after(4);
  Countdown entered(3);
  auto statuses = world.run(world.spec("doomed"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    if (auto s = comm.barrier(); !s.ok()) return s;
    if (rank == 2) {
      entered.wait();  // The others are inside the all-reduce.
      comm.drop();     // Like a crash: links close with no goodbye.
      return absl::OkStatus();
    }
    entered.done();
    auto t0 = Clock::now();
    absl::Status s = big_all_reduce(comm);
    elapsed[rank] = ms_since(t0);
    t0 = Clock::now();
    after[rank] = comm.barrier();
    after_elapsed[rank] = ms_since(t0);
    return s;
  });
  for (uint32_t r : {0u, 1u, 3u}) {
    ASSERT_FALSE(statuses[r].ok()) << "rank " << r;
    const std::string msg(statuses[r].message());
    EXPECT_NE(msg.find("peer rank 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(r) + ": all_reduce #2 (ring)"), std::string::npos) << msg;
    EXPECT_LT(elapsed[r], kTimeoutMs) << msg;  // Death is detected, not waited out.
    // The communicator refuses the next operation with the first failure, without waiting.
    expect_poisoned_by(after[r], msg);
    EXPECT_LT(after_elapsed[r], kTimeoutMs) << after[r];
  }
  auto fresh = world.run(world.spec("fresh"), [](uint32_t, Communicator& comm) { return checked_all_reduce(comm); });
  for (uint32_t r = 0; r < 4; ++r) EXPECT_TRUE(fresh[r].ok()) << fresh[r];
}

INSTANTIATE_TEST_SUITE_P(Layouts, DeadPeerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "TcpAndLocal" : "Tcp"; });

TEST(FailureTest, StalledPeerMakesEveryRankFailWithinTheTimeout) {
  testing::World world(testing::World::spread(3), kTimeoutMs);
  Countdown others(2);
  std::vector<double> elapsed(3, 0);
  auto statuses = world.run(world.spec("stalled"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    if (rank == 1) {  // Alive but never joins the operation.
      others.wait();
      return absl::OkStatus();
    }
    auto t0 = Clock::now();
    std::vector<float> data(1000, 1.0f);
    auto* p = reinterpret_cast<std::byte*>(data.data());
    absl::Status s = comm.all_reduce(p, p, data.size(), tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, "ring");
    elapsed[rank] = ms_since(t0);
    others.done();
    return s;
  });
  bool named = false;
  for (uint32_t r : {0u, 2u}) {
    ASSERT_FALSE(statuses[r].ok());
    const std::string msg(statuses[r].message());
    named |= msg.find("peer rank 1") != std::string::npos;
    EXPECT_NE(msg.find("all_reduce #1"), std::string::npos) << msg;
    EXPECT_LT(elapsed[r], kTimeoutMs + 1000) << msg;
    EXPECT_GE(elapsed[r], kTimeoutMs * 0.9) << msg;
  }
  EXPECT_TRUE(named) << statuses[0] << " / " << statuses[2];
}

// Every rank in one process: all-reduce takes the direct path (ranks read each other's
// buffers), small sizes with one flag exchange and larger ones with two.
class InOneProcessTest : public ::testing::TestWithParam<size_t> {};

absl::Status direct_all_reduce(Communicator& comm, size_t floats) {
  std::vector<float> data(floats, 1.0f);
  auto* p = reinterpret_cast<std::byte*>(data.data());
  return comm.all_reduce(p, p, data.size(), tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM);
}

TEST_P(InOneProcessTest, ADroppedRankFailsTheOthersAtOnceNamingIt) {
  testing::World world(testing::World::together(3), kTimeoutMs);
  std::vector<double> elapsed(3, 0), after_elapsed(3, 0);
  std::vector<absl::Status> after(3);
  Countdown entered(2);
  auto statuses = world.run(world.spec("doomed"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    if (auto s = direct_all_reduce(comm, GetParam()); !s.ok()) return s;
    if (rank == 2) {
      entered.wait();
      comm.drop();
      return absl::OkStatus();
    }
    entered.done();
    auto t0 = Clock::now();
    absl::Status s = direct_all_reduce(comm, GetParam());
    elapsed[rank] = ms_since(t0);
    t0 = Clock::now();
    after[rank] = direct_all_reduce(comm, GetParam());
    after_elapsed[rank] = ms_since(t0);
    return s;
  });
  for (uint32_t r : {0u, 1u}) {
    ASSERT_FALSE(statuses[r].ok()) << "rank " << r;
    const std::string msg(statuses[r].message());
    EXPECT_NE(msg.find("rank " + std::to_string(r) + ": all_reduce #2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("peer rank 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("local"), std::string::npos) << msg;
    EXPECT_LT(elapsed[r], kTimeoutMs) << msg;
    expect_poisoned_by(after[r], msg);
    EXPECT_LT(after_elapsed[r], kTimeoutMs) << after[r];
  }
}

TEST_P(InOneProcessTest, AStalledRankFailsTheOthersWithinTheTimeout) {
  testing::World world(testing::World::together(3), kTimeoutMs);
  std::vector<double> elapsed(3, 0);
  Countdown others(2);
  auto statuses = world.run(world.spec("stalled"), [&](uint32_t rank, Communicator& comm) -> absl::Status {
    if (rank == 2) {  // Alive but never joins the operation.
      others.wait();
      return absl::OkStatus();
    }
    auto t0 = Clock::now();
    absl::Status s = direct_all_reduce(comm, GetParam());
    elapsed[rank] = ms_since(t0);
    others.done();
    return s;
  });
  for (uint32_t r : {0u, 1u}) {
    ASSERT_FALSE(statuses[r].ok()) << "rank " << r;
    const std::string msg(statuses[r].message());
    EXPECT_NE(msg.find("all_reduce #1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("peer rank 2"), std::string::npos) << msg;
    EXPECT_GE(elapsed[r], kTimeoutMs * 0.9) << msg;
    EXPECT_LT(elapsed[r], kTimeoutMs + 1000) << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, InOneProcessTest, ::testing::Values(size_t{256}, size_t{1} << 18),
                         [](const auto& info) { return info.param == 256 ? "1KiB" : "1MiB"; });

class NeverJoinsTest : public ::testing::TestWithParam<bool> {};

TEST_P(NeverJoinsTest, CreationFailsInBoundedTimeNamingTheMissingRank) {
  const bool mixed = GetParam();
  testing::World world(mixed ? testing::World::halves(4) : testing::World::spread(3), kTimeoutMs);
  std::vector<double> elapsed(world.size(), 0);
  const auto t0 = Clock::now();
  auto statuses = world.run(world.spec("lonely"), [](uint32_t, Communicator&) { return absl::OkStatus(); }, {1});
  const double total = ms_since(t0);
  for (uint32_t r = 0; r < world.size(); ++r) {
    if (r == 1) continue;
    ASSERT_FALSE(statuses[r].ok()) << "rank " << r;
    const std::string msg(statuses[r].message());
    EXPECT_TRUE(names_rank(msg, 1)) << msg;
    EXPECT_NE(msg.find("lonely"), std::string::npos) << msg;
    if (mixed && r >= 2) {
      // Ranks 2 and 3 live on the other daemon. Rank 0, on rank 1's daemon, connects to them
      // while it waits for rank 1, so they blame rank 1 and not rank 0.
      EXPECT_NE(msg.find("rank 1 never connected to rank " + std::to_string(r)), std::string::npos)
          << msg;
      EXPECT_EQ(msg.find("rank 0 never connected"), std::string::npos) << msg;
    }
  }
  EXPECT_LT(total, kTimeoutMs + 1500);
  auto fresh = world.run(world.spec("fresh"), [](uint32_t, Communicator& comm) { return checked_all_reduce(comm); });
  for (uint32_t r = 0; r < world.size(); ++r) EXPECT_TRUE(fresh[r].ok()) << fresh[r];
}

INSTANTIATE_TEST_SUITE_P(Layouts, NeverJoinsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "TcpAndLocal" : "Tcp"; });

}  // namespace
}  // namespace tg::coll
