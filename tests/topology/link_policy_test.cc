#include "devices/topology/link_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

LinkMatrix two_devices() {
  std::vector<TopologyDevice> devices(2);
  devices[0].name = "d0";
  devices[1].name = "d1";
  return LinkMatrix(devices);
}

Link make_link(LinkClass link_class, uint32_t weight, double bandwidth, double latency) {
  Link link;
  link.link_class = link_class;
  link.weight = weight;
  link.bandwidth = bandwidth;
  link.latency = latency;
  return link;
}

LinkPolicy policy_for(const std::string& tree) {
  auto m = read_kfd_link_matrix(std::string(TG_KFD_FIXTURES "/") + tree);
  EXPECT_TRUE(m.ok()) << m.status();
  return LinkPolicy(m.ok() ? *m : LinkMatrix());
}

TEST(LinkPolicy, ChoosesXgmiThenPciePeerThenHost) {
  EXPECT_EQ(policy_for("mi300x_hive8").choose(0, 7), LinkClass::kXgmi);
  EXPECT_EQ(policy_for("pcie4").choose(3, 1), LinkClass::kPcie);
  EXPECT_EQ(policy_for("legacy_no_p2p2").choose(0, 1), LinkClass::kHost);
  LinkPolicy two = policy_for("two_hives_4x2");
  EXPECT_EQ(two.choose(1, 2), LinkClass::kXgmi);
  EXPECT_EQ(two.choose(2, 6), LinkClass::kPcie);
}

TEST(LinkPolicy, APairIsOnlyAsGoodAsItsWeakerDirection) {
  LinkMatrix m = two_devices();
  m.set_link(0, 1, make_link(LinkClass::kXgmi, 15, 0, 0));
  m.set_link(1, 0, make_link(LinkClass::kPcie, 40, 0, 0));
  LinkPolicy p(m);
  EXPECT_EQ(p.choose(0, 1), LinkClass::kPcie);
  EXPECT_EQ(p.choose(1, 0), LinkClass::kPcie);
  EXPECT_THAT(p.explain(0, 1), HasSubstr("asymmetric: d0 -> d1 XGMI, d1 -> d0 PCIe peer"));
  EXPECT_FALSE(p.require_link(0, 1, LinkClass::kXgmi).ok());
}

TEST(LinkPolicy, RequireLinkFailsNamingThePairAndWhatWasFound) {
  LinkPolicy p = policy_for("two_hives_4x2");
  absl::Status s = p.require_link(0, 4, LinkClass::kXgmi);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("required link xgmi not available between GPU0 and GPU4"));
  EXPECT_THAT(s.message(), HasSubstr("found GPU0 <-> GPU4: PCIe peer (no XGMI link; weight 40"));
  EXPECT_TRUE(p.require_link(0, 4, LinkClass::kPcie).ok());
  EXPECT_TRUE(p.require_link(0, 4, LinkClass::kHost).ok());
  EXPECT_TRUE(p.require_link(0, 3, LinkClass::kXgmi).ok());
  // A better class than asked for satisfies the requirement.
  EXPECT_TRUE(p.require_link(0, 3, LinkClass::kPcie).ok());
}

TEST(LinkPolicy, RequirePcieOnHostStagedPairFails) {
  absl::Status s = policy_for("legacy_no_p2p2").require_link(1, 0, LinkClass::kPcie);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("GPU1 <-> GPU0: host-staged (no XGMI or PCIe peer link)"));
}

TEST(LinkPolicy, RequireLinkOverASetReportsTheFirstFailingPair) {
  LinkPolicy p = policy_for("two_hives_4x2");
  const std::vector<size_t> hive = {0, 1, 2, 3};
  EXPECT_TRUE(p.require_link(hive, LinkClass::kXgmi).ok());
  const std::vector<size_t> mixed = {0, 1, 5};
  absl::Status s = p.require_link(mixed, LinkClass::kXgmi);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("between GPU0 and GPU5"));
}

TEST(LinkPolicy, RequireLinkRejectsBadIndices) {
  LinkPolicy p = policy_for("pcie4");
  EXPECT_EQ(p.require_link(1, 1, LinkClass::kHost).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.require_link(0, 4, LinkClass::kHost).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LinkPolicy, EstimatesUseReportedSpeedsElseClassDefaults) {
  AlphaBeta x = policy_for("mi300x_hive8").estimate(2, 5);
  EXPECT_DOUBLE_EQ(x.bandwidth, 64e9);
  EXPECT_DOUBLE_EQ(x.latency, kDefaultXgmi.latency);  // KFD reports no latency.
  AlphaBeta pcie = policy_for("pcie4").estimate(0, 1);
  EXPECT_DOUBLE_EQ(pcie.bandwidth, 31504e6);
  AlphaBeta host = policy_for("legacy_no_p2p2").estimate(0, 1);
  EXPECT_DOUBLE_EQ(host.bandwidth, kDefaultHost.bandwidth);
  EXPECT_DOUBLE_EQ(host.latency, kDefaultHost.latency);
  EXPECT_DOUBLE_EQ(host.time(10e9), kDefaultHost.latency + 1.0);
}

TEST(LinkPolicy, EstimateTakesTheSlowerDirection) {
  LinkMatrix m = two_devices();
  m.set_link(0, 1, make_link(LinkClass::kPcie, 40, 20e9, 1e-6));
  m.set_link(1, 0, make_link(LinkClass::kPcie, 40, 30e9, 3e-6));
  AlphaBeta e = LinkPolicy(m).estimate(1, 0);
  EXPECT_DOUBLE_EQ(e.bandwidth, 20e9);
  EXPECT_DOUBLE_EQ(e.latency, 3e-6);
}

TEST(LinkPolicy, FullXgmiHiveIsAMesh) {
  LinkPolicy p = policy_for("mi300x_hive8");
  MeshAnalysis a = p.analyze(p.all_devices());
  EXPECT_EQ(a.shape, CollectiveShape::kMesh);
  EXPECT_TRUE(a.full_xgmi_mesh);
  EXPECT_EQ(a.xgmi_groups.size(), 1u);
  EXPECT_EQ(a.reason, "8 devices fully connected by XGMI");
}

TEST(LinkPolicy, PcieBoxIsARing) {
  LinkPolicy p = policy_for("pcie4");
  MeshAnalysis a = p.analyze(p.all_devices());
  EXPECT_EQ(a.shape, CollectiveShape::kRing);
  EXPECT_FALSE(a.full_xgmi_mesh);
  EXPECT_EQ(a.xgmi_groups.size(), 4u);
  EXPECT_THAT(a.reason, HasSubstr("not a full XGMI mesh: GPU0 <-> GPU1: PCIe peer"));
}

TEST(LinkPolicy, TwoHivesAreHierarchicalAndEachHiveAMesh) {
  LinkPolicy p = policy_for("two_hives_4x2");
  MeshAnalysis a = p.analyze(p.all_devices());
  EXPECT_EQ(a.shape, CollectiveShape::kHierarchical);
  EXPECT_FALSE(a.full_xgmi_mesh);
  ASSERT_EQ(a.xgmi_groups.size(), 2u);
  EXPECT_THAT(a.xgmi_groups[0], ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(a.xgmi_groups[1], ElementsAre(4, 5, 6, 7));
  const std::vector<size_t> hive_b = {7, 5, 4};
  EXPECT_TRUE(p.is_full_xgmi_mesh(hive_b));
  EXPECT_EQ(p.analyze(hive_b).shape, CollectiveShape::kMesh);
  // Unequal parts of two hives are neither a mesh nor a clean hierarchy.
  const std::vector<size_t> uneven = {0, 1, 4};
  EXPECT_EQ(p.analyze(uneven).shape, CollectiveShape::kRing);
}

TEST(LinkPolicy, ReportHasALinePerPairAndCounts) {
  const std::string r = policy_for("two_hives_4x2").report();
  EXPECT_THAT(r, HasSubstr("GPU0 <-> GPU1: XGMI (weight 15, 50.0 GB/s)\n"));
  EXPECT_THAT(r, HasSubstr("GPU3 <-> GPU4: PCIe peer (no XGMI link; weight 40, 31.5 GB/s)\n"));
  EXPECT_THAT(r, HasSubstr("pairs: 12 XGMI, 16 PCIe peer, 0 host-staged\n"));
}

}  // namespace
}  // namespace tg
