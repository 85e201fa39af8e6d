// Racks in the cost model: ranks that name two or more racks are grouped by rack, so the
// model's remote links are the rack uplinks, and all-reduce weighs ring against
// hierarchical (one leader per rack for small buffers, the pipelined two-level form for
// larger ones), never the all-to-all algorithms that would put every flow on the uplinks
// at once.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/cost_model.h"
#include "collectives/rack_groups.h"

namespace tg::coll {
namespace {

tgrack::v1::CommunicatorSpec spec_of(const std::vector<std::string>& racks) {
  tgrack::v1::CommunicatorSpec spec;
  for (size_t r = 0; r < racks.size(); ++r) {
    auto* rank = spec.add_ranks();
    rank->set_rank(static_cast<uint32_t>(r));
    rank->mutable_device()->set_node("host-" + std::to_string(r));
    rank->set_data_address("10.77.0." + std::to_string(r + 1) + ":7072");
    rank->set_rack(racks[r]);
  }
  return spec;
}

TEST(RackGroups, GroupsRanksByRackUnderTheRacksLowestRank) {
  auto groups = rack_groups(spec_of({"r1", "r2", "r1", "r2", "r3"}));
  ASSERT_TRUE(groups.has_value());
  EXPECT_EQ(*groups, (std::vector<uint32_t>{0, 1, 0, 1, 4}));
}

TEST(RackGroups, NoGroupsWhenARankNamesNoRackOrAllShareOne) {
  EXPECT_FALSE(rack_groups(spec_of({"r1", "", "r2", "r2"})).has_value());
  EXPECT_FALSE(rack_groups(spec_of({"r1", "r1", "r1"})).has_value());
}

// 2 racks x 2 hosts, one rank per host; links inside a rack at `inside_bytes_per_s`, the
// rack uplinks at 1 Gbit/s.
Topology two_racks(double inside_bytes_per_s) {
  Topology t;
  t.world = 4;
  t.node_of = *rack_groups(spec_of({"r1", "r1", "r2", "r2"}));
  t.local = LinkCost{50e-6, 1 / inside_bytes_per_s};
  t.remote = LinkCost{50e-6, 1 / 125e6};
  t.local_transport = "tcp";
  t.link_shape = "hierarchical";
  return t;
}

std::string choice(const Topology& t, uint64_t bytes) {
  auto chosen = choose_algorithm(t, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes, "");
  EXPECT_TRUE(chosen.ok()) << chosen.status();
  return chosen.ok() ? chosen->algorithm : "";
}

TEST(RackCosts, FastLinksInsideRacksMakeHierarchicalWinAtLargeSizes) {
  // Inside a rack 25 GB/s: reducing to one leader per rack first halves what crosses the
  // uplinks (one full buffer each way instead of ring's 1.5).
  EXPECT_EQ(choice(two_racks(25e9), 64 << 20), "hierarchical");
}

TEST(RackCosts, HostLinksTwiceTheUplinkTakePipelinedHierarchicalAtLargeSizes) {
  // Inside a rack 2 Gbit/s: the pipelined form moves one buffer each way over the uplinks
  // (2(m-1)/m), ring 1.5 (2(n-1)/n), and the steps inside the racks overlap the uplinks'.
  // One leader per rack would receive whole buffers over its host link and lose to ring.
  EXPECT_EQ(choice(two_racks(250e6), 64 << 20), "hierarchical");
}

// 4 racks x 4 hosts, one rank per host: host links at 400 Mbit/s, rack uplinks at 200.
Topology four_by_four() {
  std::vector<std::string> racks;
  for (int r = 0; r < 16; ++r) racks.push_back("r" + std::to_string(r / 4));
  Topology t;
  t.world = 16;
  t.node_of = *rack_groups(spec_of(racks));
  t.local = LinkCost{20e-6, 1 / 50e6};
  t.remote = LinkCost{20e-6, 1 / 25e6};
  t.local_transport = "tcp";
  t.link_shape = "hierarchical";
  return t;
}

TEST(RackCosts, FourRacksOfFourTakeHierarchicalFromSixteenMebibytes) {
  // Ring moves 1.875 buffers over each uplink, the pipelined form 1.5: 20% less.
  for (uint64_t mib : {16, 64, 256}) EXPECT_EQ(choice(four_by_four(), mib << 20), "hierarchical") << mib << " MiB";
}

// The estimate of `algorithm` in a choice's reason (": ring 30.1us, ..., hierarchical
// 1001.8us, ..."), in seconds; -1 when absent.
double estimate(const Choice& choice, const std::string& algorithm) {
  for (const char* before : {": ", ", "}) {
    const std::string key = before + algorithm + " ";
    const size_t at = choice.reason.find(key);
    if (at != std::string::npos) return std::stod(choice.reason.substr(at + key.size())) * 1e-6;
  }
  return -1;
}

TEST(RackCosts, TheFourFlowsOfARackShareItsUplink) {
  // Every rack sends at least 2(m-1)/m = 1.5 buffers over its uplink, whatever the
  // schedule. A model that gave each of a rack's four concurrent flows the whole uplink
  // would estimate the pipelined form below that.
  for (uint64_t mib : {16, 256}) {
    const double bytes = static_cast<double>(mib << 20);
    auto chosen = choose_algorithm(four_by_four(), tgrack::v1::COLLECTIVE_ALL_REDUCE, mib << 20, "");
    ASSERT_TRUE(chosen.ok()) << chosen.status();
    const double hierarchical = estimate(*chosen, "hierarchical");
    EXPECT_GE(hierarchical, 1.5 * bytes / 25e6) << chosen->reason;
    EXPECT_LT(hierarchical, 1.1 * 1.5 * bytes / 25e6) << chosen->reason;
  }
}

TEST(RackCosts, SlowStepsOfAllRanksAtOnceMakeTheLeaderFormWinAtSmallSizes) {
  // 16 ranks on two cores: a step that every rank takes at once costs 400us, not the links'
  // 20us. Ring's 30 such steps then lose to one leader per rack, whose few steps involve a
  // handful of ranks each; with the links' alpha alone ring wins.
  Topology busy = four_by_four();
  EXPECT_EQ(choice(busy, 16 << 10), "ring");
  busy.step_alpha_s = 400e-6;
  EXPECT_EQ(choice(busy, 16 << 10), "hierarchical");
  EXPECT_EQ(choice(busy, 64 << 10), "hierarchical");
}

TEST(RackCosts, PipelineChunksGrowWithTheBufferUntilStepLatencyOutweighsFillAndDrain) {
  // Fill and drain (the first chunk's reduce-scatter and the last one's all-gather inside
  // the racks) cost 6 steps of a chunk; every chunk adds 6 steps' latency across.
  Topology busy = four_by_four();
  busy.step_alpha_s = 283e-6;
  EXPECT_EQ(hierarchical_chunks(busy, 1 << 20), 4u);
  EXPECT_EQ(hierarchical_chunks(busy, 16 << 20), 16u);
  EXPECT_EQ(hierarchical_chunks(busy, 256 << 20), 64u);
  // One chunk at 1 MiB would leave ring ahead; four make the pipelined form win.
  EXPECT_EQ(choice(busy, 1 << 20), "hierarchical");
}

// The 4x4 racks as calibration measures them where tc tbf shapes every link with a 128 KiB
// bucket: sustained rates 400 and 200 Mbit/s, and a step of all 16 ranks on two shared
// cores of 220us (measured at 190-640us, with 4 KiB messages, at load averages of 2-9).
Topology shaped_four_by_four(double burst_bytes) {
  Topology t = four_by_four();
  t.local = LinkCost{17e-6, 1 / 50e6, burst_bytes};
  t.remote = LinkCost{20e-6, 1 / 25e6, burst_bytes};
  t.step_alpha_s = 220e-6;
  return t;
}

TEST(RackCosts, ABurstLetsTheLeaderFormsFewMessagesBeatRingsManyStepsAtSixtyFourKibibytes) {
  // One leader per rack moves 3 whole buffers in and out of it and 1.5 over the uplinks:
  // charged at the sustained rate they cost more than ring's 30 steps of 4 KiB. A 128 KiB
  // burst passes them at once, and what bounds the leader form is then its link's
  // sustained rate over a run (288 KiB at 400 Mbit/s: 5.9 ms); ring's 30 steps cost their
  // latency whatever the burst.
  EXPECT_EQ(choice(shaped_four_by_four(0), 64 << 10), "ring");
  EXPECT_EQ(choice(shaped_four_by_four(128 << 10), 64 << 10), "hierarchical");
}

TEST(RackCosts, ABurstLeavesTheChoiceAtOtherSizesAsMeasuredRight) {
  // Measured on the 4x4 racks: the leader form at 1-16 KiB (ring's 30 steps), the pipelined
  // form from 256 KiB (1.5 buffers over each uplink against ring's 1.875).
  const Topology shaped = shaped_four_by_four(128 << 10);
  for (uint64_t bytes : {uint64_t{1} << 10, uint64_t{4} << 10, uint64_t{16} << 10, uint64_t{256} << 10,
                         uint64_t{1} << 20, uint64_t{4} << 20, uint64_t{16} << 20, uint64_t{256} << 20}) {
    EXPECT_EQ(choice(shaped, bytes), "hierarchical") << bytes << " bytes";
  }
}

TEST(RackCosts, ABurstHidesSmallStepsBytesBehindTheirLatency) {
  // Ring at 16 KiB: 30 steps of 1 KiB. Within the burst each step costs the step latency
  // alone; without it, also 1 KiB at 200 Mbit/s.
  auto with = choose_algorithm(shaped_four_by_four(128 << 10), tgrack::v1::COLLECTIVE_ALL_REDUCE, 16 << 10, "");
  auto without = choose_algorithm(shaped_four_by_four(0), tgrack::v1::COLLECTIVE_ALL_REDUCE, 16 << 10, "");
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_NEAR(estimate(*with, "ring"), 30 * 220e-6, 1e-7) << with->reason;
  EXPECT_NEAR(estimate(*without, "ring"), 30 * (220e-6 + 1024 / 25e6), 1e-7) << without->reason;
}

TEST(RackCosts, NoBurstMakesARunOfCollectivesFasterThanTheLinksSustainedRate) {
  // Collectives back to back find the burst spent: ring at 256 KiB moves 1.875 buffers over
  // each uplink and takes at least that at 200 Mbit/s, though its first 128 KiB pass at once.
  // At 256 MiB the burst is lost in the buffer: estimates within 1% of those without it.
  const double bytes = 256 << 10;
  auto chosen = choose_algorithm(shaped_four_by_four(128 << 10), tgrack::v1::COLLECTIVE_ALL_REDUCE, 256 << 10, "");
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_GE(estimate(*chosen, "ring"), 1.875 * bytes / 25e6) << chosen->reason;
  EXPECT_GE(estimate(*chosen, "hierarchical"), 1.5 * bytes / 25e6) << chosen->reason;
  auto large = choose_algorithm(shaped_four_by_four(128 << 10), tgrack::v1::COLLECTIVE_ALL_REDUCE, 256 << 20, "");
  auto large_unshaped = choose_algorithm(shaped_four_by_four(0), tgrack::v1::COLLECTIVE_ALL_REDUCE, 256 << 20, "");
  ASSERT_TRUE(large.ok() && large_unshaped.ok());
  for (const char* algorithm : {"ring", "hierarchical"}) {
    EXPECT_NEAR(estimate(*large, algorithm) / estimate(*large_unshaped, algorithm), 1, 1e-2) << algorithm;
  }
}

TEST(RackCosts, ALinkLatencyAboveTheStepOfAllRanksCountsAsTheStep) {
  // A calibration whose ping-pongs met a stall of the machine read 5 ms inside the racks,
  // while its ring step, every rank sending at once, took 264 us. One message between two
  // ranks costs no more than such a step: the leader form stays ahead of ring's 30 steps.
  Topology stalled = shaped_four_by_four(128 << 10);
  stalled.local.alpha_s = 5e-3;
  stalled.step_alpha_s = 264e-6;
  EXPECT_EQ(choice(stalled, 4 << 10), "hierarchical");
  EXPECT_EQ(choice(stalled, 64 << 10), "hierarchical");
}

TEST(RackCosts, NeverPicksAllToAllAlgorithmsAcrossRacks) {
  for (uint64_t bytes : {uint64_t{1} << 10, uint64_t{64} << 10, uint64_t{1} << 20}) {
    for (double inside : {250e6, 25e9}) {
      const std::string chosen = choice(two_racks(inside), bytes);
      EXPECT_TRUE(chosen == "ring" || chosen == "hierarchical") << chosen << " at " << bytes;
    }
  }
}

TEST(RackCosts, ReasonNamesTheRackGroups) {
  auto chosen = choose_algorithm(two_racks(250e6), tgrack::v1::COLLECTIVE_ALL_REDUCE, 1 << 20, "");
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_NE(chosen->reason.find("over 4 ranks on 2 link group(s)"), std::string::npos)
      << chosen->reason;
}

}  // namespace
}  // namespace tg::coll
