#include "devices/topology/link_matrix.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

std::string fixture(const std::string& name) { return std::string(TG_KFD_FIXTURES "/") + name; }

LinkMatrix read(const std::string& name) {
  auto m = read_kfd_link_matrix(fixture(name));
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : LinkMatrix();
}

TEST(LinkMatrix, Mi300xHiveIsAllXgmiBetweenGpusAndLeavesTheCpuOut) {
  LinkMatrix m = read("mi300x_hive8");
  ASSERT_EQ(m.size(), 8u);
  for (size_t a = 0; a < 8; ++a) {
    EXPECT_EQ(m.device(a).name, "GPU" + std::to_string(a));
    EXPECT_EQ(m.device(a).kfd_node, a + 1);
    EXPECT_EQ(m.device(a).hive_id, "0x9a1e3c5b7d2f4e61");
    EXPECT_EQ(m.device(a).drm_render_minor, static_cast<int64_t>(128 + 8 * a));
    for (size_t b = 0; b < 8; ++b) {
      if (a == b) continue;
      const Link& l = m.link(a, b);
      EXPECT_EQ(l.link_class, LinkClass::kXgmi) << a << "->" << b;
      EXPECT_EQ(l.weight, 15u);
      EXPECT_DOUBLE_EQ(l.bandwidth, 64e9);
    }
  }
}

TEST(LinkMatrix, PcieBoxIsAllPciePeer) {
  LinkMatrix m = read("pcie4");
  ASSERT_EQ(m.size(), 4u);
  for (size_t a = 0; a < 4; ++a) {
    EXPECT_EQ(m.device(a).hive_id, "");
    for (size_t b = 0; b < 4; ++b) {
      if (a == b) continue;
      EXPECT_EQ(m.link(a, b).link_class, LinkClass::kPcie) << a << "->" << b;
      EXPECT_EQ(m.link(a, b).weight, 40u);
      EXPECT_DOUBLE_EQ(m.link(a, b).bandwidth, 31504e6);
      EXPECT_DOUBLE_EQ(m.link(a, b).min_bandwidth, 312e6);
    }
  }
}

TEST(LinkMatrix, TwoHivesAreXgmiInsideAndPcieAcross) {
  LinkMatrix m = read("two_hives_4x2");
  ASSERT_EQ(m.size(), 8u);
  EXPECT_NE(m.device(0).hive_id, m.device(4).hive_id);
  EXPECT_EQ(m.device(0).hive_id, m.device(3).hive_id);
  for (size_t a = 0; a < 8; ++a) {
    for (size_t b = 0; b < 8; ++b) {
      if (a == b) continue;
      const LinkClass want = (a < 4) == (b < 4) ? LinkClass::kXgmi : LinkClass::kPcie;
      EXPECT_EQ(m.link(a, b).link_class, want) << a << "->" << b;
    }
  }
  EXPECT_EQ(m.link(5, 1).source, "nodes/6/p2p_links/1/properties");
}

TEST(LinkMatrix, WithoutPeerLinksEveryPairIsHostStaged) {
  LinkMatrix m = read("legacy_no_p2p2");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.link(0, 1).link_class, LinkClass::kHost);
  EXPECT_EQ(m.link(1, 0).link_class, LinkClass::kHost);
  EXPECT_EQ(m.link(0, 1).source, "");
}

KfdNode gpu(uint32_t id) {
  KfdNode n;
  n.id = id;
  n.simd_count = 4;
  return n;
}

KfdLink kfd_link(uint32_t type, uint32_t from, uint32_t to, uint64_t bandwidth) {
  KfdLink link;
  link.type = type;
  link.node_from = from;
  link.node_to = to;
  link.weight = 1;
  link.max_bandwidth = bandwidth;
  link.source = "s" + std::to_string(bandwidth);
  return link;
}

TEST(LinkMatrix, BestOfSeveralLinksWinsThenHigherBandwidth) {
  KfdTopology t;
  t.nodes = {gpu(0), gpu(1), gpu(2)};
  t.nodes[0].links = {kfd_link(kKfdLinkTypePcie, 0, 1, 100), kfd_link(kKfdLinkTypeXgmi, 0, 1, 10),
                      kfd_link(kKfdLinkTypePcie, 0, 2, 5), kfd_link(kKfdLinkTypePcie, 0, 2, 7),
                      kfd_link(5, 0, 2, 999)};
  auto m = link_matrix_from_kfd(t);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->link(0, 1).link_class, LinkClass::kXgmi);
  EXPECT_EQ(m->link(0, 1).source, "s10");
  EXPECT_EQ(m->link(0, 2).link_class, LinkClass::kPcie);
  EXPECT_EQ(m->link(0, 2).source, "s7");  // The unknown type 5 link is not used.
  EXPECT_EQ(m->link(1, 0).link_class, LinkClass::kHost);
}

TEST(LinkMatrix, NoGpuNodesIsAnError) {
  KfdTopology t;
  t.nodes.resize(1);
  EXPECT_EQ(link_matrix_from_kfd(t).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tg
