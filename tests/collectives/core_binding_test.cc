// Rank threads of one communicator that share a machine are bound one per CPU when they fit,
// and left alone when they do not: the slot counts only ranks on the same host, and binding
// pins the calling thread to the CPU of its slot.
#include <pthread.h>
#include <sched.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/core_binding.h"

namespace tg::coll {
namespace {

tgrack::v1::CommunicatorSpec spec_of(const std::vector<std::string>& addresses) {
  tgrack::v1::CommunicatorSpec spec;
  for (size_t r = 0; r < addresses.size(); ++r) {
    auto* info = spec.add_ranks();
    info->set_rank(static_cast<uint32_t>(r));
    info->set_data_address(addresses[r]);
  }
  return spec;
}

size_t allowed_cpus() {
  cpu_set_t allowed;
  EXPECT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  return static_cast<size_t>(CPU_COUNT(&allowed));
}

// Runs `body` on a fresh thread (whose affinity the test may change) and returns its CPU set.
template <typename Body>
cpu_set_t on_thread(Body body) {
  cpu_set_t after;
  std::thread t([&] {
    body();
    pthread_getaffinity_np(pthread_self(), sizeof(after), &after);
  });
  t.join();
  return after;
}

TEST(CoreBinding, SlotCountsOnlyRanksOnTheSameHost) {
  const auto spec = spec_of({"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.1:7001", "[::1]:7000",
                             "10.0.0.1:7002"});
  HostSlot first = host_slot(spec, 0);
  EXPECT_EQ(first.index, 0u);
  EXPECT_EQ(first.count, 3u);
  HostSlot third = host_slot(spec, 2);
  EXPECT_EQ(third.index, 1u);
  EXPECT_EQ(third.count, 3u);
  HostSlot last = host_slot(spec, 4);
  EXPECT_EQ(last.index, 2u);
  HostSlot alone = host_slot(spec, 1);
  EXPECT_EQ(alone.index, 0u);
  EXPECT_EQ(alone.count, 1u);
  HostSlot v6 = host_slot(spec, 3);
  EXPECT_EQ(v6.count, 1u);
}

TEST(CoreBinding, RanksThatFitTheCpusAreBoundOneEach) {
  if (allowed_cpus() < 2) GTEST_SKIP() << "needs 2 CPUs, this process may use " << allowed_cpus();
  std::vector<int> cpus(2, -1);
  for (size_t index = 0; index < 2; ++index) {
    const cpu_set_t after = on_thread([&] { cpus[index] = bind_to_core(HostSlot{index, 2}); });
    ASSERT_GE(cpus[index], 0) << "slot " << index;
    EXPECT_EQ(CPU_COUNT(&after), 1) << "slot " << index;
    EXPECT_TRUE(CPU_ISSET(cpus[index], &after)) << "slot " << index;
  }
  EXPECT_NE(cpus[0], cpus[1]);
}

TEST(CoreBinding, MoreRanksThanCpusOrALoneRankStayUnbound) {
  const size_t cpus = allowed_cpus();
  for (HostSlot slot : {HostSlot{0, cpus + 1}, HostSlot{0, 1}}) {
    int bound = 0;
    const cpu_set_t after = on_thread([&] { bound = bind_to_core(slot); });
    EXPECT_EQ(bound, -1) << slot.count << " ranks on the host";
    EXPECT_EQ(static_cast<size_t>(CPU_COUNT(&after)), cpus) << slot.count << " ranks on the host";
  }
}

}  // namespace
}  // namespace tg::coll
