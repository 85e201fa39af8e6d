// The cost model fed by a host's link matrix picks the algorithm the links suit: a full XGMI
// mesh -> mesh, PCIe only -> ring, two XGMI hives joined by PCIe -> hierarchical. And a
// required link is checked per pair from the matrices nodes report. Over tcp a rank's thread
// drives each message, so mesh pays one alpha per peer.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/cost_model.h"
#include "collectives/link_costs.h"
#include "collectives/link_requirement.h"
#include "devices/topology/link_matrix.h"
#include "devices/topology/topology_config.h"
#include "devices/topology/topology_proto.h"

namespace tg::coll {
namespace {

LinkPolicy fixture(const std::string& tree) {
  auto matrix = read_kfd_link_matrix(std::string(TG_KFD_FIXTURES "/") + tree);
  EXPECT_TRUE(matrix.ok()) << matrix.status();
  return LinkPolicy(std::move(*matrix));
}

std::string all_reduce_choice(const std::string& tree, uint64_t bytes) {
  const LinkPolicy links = fixture(tree);
  const Topology topo = link_topology(links, links.all_devices());
  auto choice = choose_algorithm(topo, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes, "");
  EXPECT_TRUE(choice.ok()) << choice.status();
  return choice.ok() ? choice->algorithm : "";
}

TEST(LinkCosts, FullXgmiMeshChoosesMeshAtEverySize) {
  for (uint64_t bytes : {uint64_t{4}, uint64_t{64} << 10, uint64_t{256} << 20}) {
    EXPECT_EQ(all_reduce_choice("mi300x_hive8", bytes), "mesh") << bytes << " bytes";
  }
}

TEST(LinkCosts, PcieOnlyChoosesRingAtEverySize) {
  for (uint64_t bytes : {uint64_t{4}, uint64_t{64} << 10, uint64_t{256} << 20}) {
    EXPECT_EQ(all_reduce_choice("pcie4", bytes), "ring") << bytes << " bytes";
  }
}

TEST(LinkCosts, TwoHivesChooseHierarchical) {
  EXPECT_EQ(all_reduce_choice("two_hives_4x2", 64 << 10), "hierarchical");
  const LinkPolicy links = fixture("two_hives_4x2");
  const Topology topo = link_topology(links, links.all_devices());
  EXPECT_EQ(topo.nodes(), 2u);  // One group per hive.
  EXPECT_EQ(topo.node_of[0], topo.node_of[1]);
  EXPECT_NE(topo.node_of[0], topo.node_of[7]);
  EXPECT_GT(topo.remote.time(1 << 20), topo.local.time(1 << 20));  // PCIe slower than XGMI.
}

TEST(LinkCosts, HiveSubsetIsAMesh) {
  const LinkPolicy links = fixture("two_hives_4x2");
  const std::vector<size_t> hive = {0, 1, 2, 3};
  const Topology topo = link_topology(links, hive);
  auto choice = choose_algorithm(topo, tgrack::v1::COLLECTIVE_ALL_REDUCE, 1 << 20, "");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->algorithm, "mesh");
}

// Two daemons with four ranks each: by default the intra-daemon steps cost the configured
// local link; with each daemon's matrix they cost its XGMI hive, which makes hierarchical the
// cheapest all-reduce for large messages.
TEST(DaemonLinkCosts, IntraDaemonPairsUseTheirDaemonsMatrix) {
  const LinkPolicy links = fixture("two_hives_4x2");
  Topology base;
  base.world = 8;
  base.node_of = {0, 0, 0, 0, 1, 1, 1, 1};
  // Without the matrix, copies inside a daemon are taken as host-staged: slower than the
  // network, so hierarchical's steps inside the daemons would cost more than ring's.
  base.local = LinkCost{2e-6, 1 / 1e9};
  const std::vector<size_t> hive = {0, 1, 2, 3, 0, 1, 2, 3};
  const std::vector<const LinkPolicy*> both = {&links, &links};
  const Topology topo = daemon_link_topology(both, hive, base);
  const LinkCost xgmi{links.estimate(0, 1).latency, 1 / links.estimate(0, 1).bandwidth};
  EXPECT_DOUBLE_EQ(topo.local.alpha_s, xgmi.alpha_s);
  EXPECT_DOUBLE_EQ(topo.local.beta_s_per_byte, xgmi.beta_s_per_byte);
  EXPECT_DOUBLE_EQ(topo.remote.alpha_s, base.remote.alpha_s);  // Between daemons: unchanged.
  EXPECT_EQ(topo.node_of, base.node_of);
  const uint64_t bytes = uint64_t{64} << 20;
  auto before = choose_algorithm(base, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes, "");
  auto after = choose_algorithm(topo, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes, "");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_NE(before->algorithm, "hierarchical") << before->reason;
  EXPECT_EQ(after->algorithm, "hierarchical") << after->reason;
}

TEST(DaemonLinkCosts, SlowestPairOfAnyDaemonAndUnknownPairsCostTheDefault) {
  const LinkPolicy links = fixture("two_hives_4x2");
  Topology base;
  base.world = 4;
  base.node_of = {0, 0, 1, 1};
  // Daemon 0's ranks sit on different hives (PCIe), daemon 1's on one hive (XGMI).
  const std::vector<size_t> devices = {0, 5, 0, 1};
  const std::vector<const LinkPolicy*> both = {&links, &links};
  const Topology topo = daemon_link_topology(both, devices, base);
  EXPECT_DOUBLE_EQ(topo.local.alpha_s, links.estimate(0, 5).latency);
  EXPECT_GT(topo.local.time(1 << 20), LinkCost({links.estimate(0, 1).latency,
                                                1 / links.estimate(0, 1).bandwidth})
                                           .time(1 << 20));
  // Daemon 1 without a matrix: its pair costs base.local, slower than daemon 0's XGMI pair.
  const std::vector<const LinkPolicy*> one = {&links, nullptr};
  const Topology partial = daemon_link_topology(one, std::vector<size_t>{0, 1, 0, 1}, base);
  EXPECT_DOUBLE_EQ(partial.local.alpha_s, base.local.alpha_s);
  EXPECT_DOUBLE_EQ(partial.local.beta_s_per_byte, base.local.beta_s_per_byte);
}

// Four daemons, one rank each, with the model's default links between daemons.
Topology four_daemons(const std::string& transport) {
  Topology t;
  t.world = 4;
  t.node_of = {0, 1, 2, 3};
  t.remote_transport = transport;
  return t;
}

std::string choice_over(const Topology& topo, tgrack::v1::CollectiveKind kind, uint64_t bytes) {
  auto choice = choose_algorithm(topo, kind, bytes, "");
  EXPECT_TRUE(choice.ok()) << choice.status();
  return choice.ok() ? choice->algorithm : "";
}

// The rank's thread sends mesh's three messages one after another over tcp: at 64 KiB that
// costs more than halving-doubling's four single-peer steps. The same links driven by the
// hardware (ibverbs) overlap the three messages and keep mesh.
TEST(CostModel, TcpMeshPaysOneAlphaPerPeer) {
  const uint64_t bytes = uint64_t{64} << 10;
  EXPECT_EQ(choice_over(four_daemons("tcp"), tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes), "halving_doubling");
  EXPECT_EQ(choice_over(four_daemons("ibverbs"), tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes), "mesh");
  EXPECT_EQ(choice_over(four_daemons("tcp"), tgrack::v1::COLLECTIVE_REDUCE_SCATTER, bytes), "ring");
  EXPECT_EQ(choice_over(four_daemons("ibverbs"), tgrack::v1::COLLECTIVE_REDUCE_SCATTER, bytes), "mesh");
}

// Ranks of one daemon forced onto tcp sockets pay the same per-peer alpha as across daemons.
TEST(CostModel, LocalLinksOverTcpPayOneAlphaPerPeer) {
  Topology topo = four_daemons("tcp");
  topo.node_of = {0, 0, 0, 0};
  topo.local = topo.remote;
  const uint64_t bytes = uint64_t{64} << 10;
  EXPECT_EQ(choice_over(topo, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes), "mesh");
  topo.local_transport = "tcp";
  EXPECT_EQ(choice_over(topo, tgrack::v1::COLLECTIVE_ALL_REDUCE, bytes), "halving_doubling");
}

tgrack::v1::NodeInfo node_with(const std::string& name, const LinkPolicy& links) {
  tgrack::v1::NodeInfo node;
  node.set_name(name);
  for (size_t i = 0; i < links.size(); ++i) {
    auto* device = node.add_devices();
    device->mutable_ref()->set_node(name);
    device->mutable_ref()->set_index(static_cast<uint32_t>(i));
    device->set_kind(tgrack::v1::DEVICE_KIND_HIP);
  }
  *node.mutable_topology() = topology_to_proto(links, "test");
  return node;
}

tgrack::v1::DeviceRef ref(const std::string& node, uint32_t index) {
  tgrack::v1::DeviceRef r;
  r.set_node(node);
  r.set_index(index);
  return r;
}

TEST(RequiredLink, MetInsideAnXgmiHive) {
  std::map<std::string, tgrack::v1::NodeInfo> nodes{{"a", node_with("a", fixture("two_hives_4x2"))}};
  EXPECT_TRUE(check_required_link({ref("a", 0), ref("a", 1), ref("a", 3)}, nodes, "xgmi").ok());
  EXPECT_TRUE(check_required_link({ref("a", 0), ref("a", 5)}, nodes, "pcie").ok());
  EXPECT_TRUE(check_required_link({ref("a", 0), ref("a", 5)}, nodes, "").ok());
}

TEST(RequiredLink, XgmiAcrossHivesFailsNamingThePair) {
  std::map<std::string, tgrack::v1::NodeInfo> nodes{{"a", node_with("a", fixture("two_hives_4x2"))}};
  absl::Status s = check_required_link({ref("a", 0), ref("a", 1), ref("a", 5)}, nodes, "xgmi");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("a:0 and a:5"), std::string::npos) << s;
  EXPECT_NE(s.message().find("PCIe peer"), std::string::npos) << s;
}

TEST(RequiredLink, AcrossNodesOnlyTheNetwork) {
  const LinkPolicy links = fixture("mi300x_hive8");
  std::map<std::string, tgrack::v1::NodeInfo> nodes{{"a", node_with("a", links)},
                                                    {"b", node_with("b", links)}};
  absl::Status s = check_required_link({ref("a", 0), ref("b", 0)}, nodes, "pcie");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("a:0 and b:0"), std::string::npos) << s;
  EXPECT_NE(s.message().find("network"), std::string::npos) << s;
}

TEST(RequiredLink, UnknownClassIsInvalid) {
  std::map<std::string, tgrack::v1::NodeInfo> nodes{{"a", node_with("a", fixture("pcie4"))}};
  EXPECT_EQ(check_required_link({ref("a", 0), ref("a", 1)}, nodes, "nvlink").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tg::coll
