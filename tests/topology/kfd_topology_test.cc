#include "devices/topology/kfd_topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

using ::testing::HasSubstr;

std::string fixture(const std::string& name) { return std::string(TG_KFD_FIXTURES "/") + name; }

TEST(KfdTopology, Mi300xHiveHasOneCpuNodeAndEightGpuNodes) {
  auto t = read_kfd_topology(fixture("mi300x_hive8"));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->nodes.size(), 9u);
  EXPECT_FALSE(t->nodes[0].is_gpu());
  EXPECT_EQ(t->nodes[0].cpu_cores_count, 96u);
  EXPECT_EQ(t->nodes[0].links.size(), 8u);
  for (uint32_t n = 1; n <= 8; ++n) {
    const KfdNode& gpu = t->nodes[n];
    EXPECT_TRUE(gpu.is_gpu());
    EXPECT_EQ(gpu.id, n);
    EXPECT_EQ(gpu.gfx_target_version, 90402u);
    EXPECT_EQ(gpu.hive_id, 0x9A1E3C5B7D2F4E61u);
    EXPECT_EQ(gpu.drm_render_minor, 128u + 8 * (n - 1));
    EXPECT_EQ(gpu.location_id, (0x05u + 0x10 * (n - 1)) << 8);
    EXPECT_NE(gpu.unique_id, 0u);
    EXPECT_EQ(gpu.gpu_id, 0x1000u + 0x111 * n);
    ASSERT_EQ(gpu.links.size(), 8u);  // PCIe to the CPU, XGMI to seven peers.
    EXPECT_EQ(gpu.links[0].type, kKfdLinkTypePcie);
    EXPECT_EQ(gpu.links[0].node_to, 0u);
    int xgmi = 0;
    for (const KfdLink& l : gpu.links) {
      EXPECT_EQ(l.node_from, n);
      if (l.type == kKfdLinkTypeXgmi) {
        ++xgmi;
        EXPECT_EQ(l.weight, 15u);
        EXPECT_EQ(l.max_bandwidth, 64000u);
        EXPECT_FALSE(l.p2p);
      }
    }
    EXPECT_EQ(xgmi, 7);
  }
  EXPECT_EQ(t->nodes[3].links[1].source, "nodes/3/io_links/1/properties");
}

TEST(KfdTopology, PcieBoxReadsPeerLinksFromP2pLinks) {
  auto t = read_kfd_topology(fixture("pcie4"));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->nodes.size(), 5u);
  const KfdNode& gpu = t->nodes[2];
  EXPECT_EQ(gpu.hive_id, 0u);
  EXPECT_EQ(gfx_target_name(gpu.gfx_target_version), "gfx90a");
  ASSERT_EQ(gpu.links.size(), 4u);
  EXPECT_FALSE(gpu.links[0].p2p);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(gpu.links[i].p2p);
    EXPECT_EQ(gpu.links[i].type, kKfdLinkTypePcie);
    EXPECT_EQ(gpu.links[i].weight, 40u);
  }
}

TEST(KfdTopology, OlderTreeWithoutP2pLinksOrTargetVersionIsAccepted) {
  auto t = read_kfd_topology(fixture("legacy_no_p2p2"));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->nodes.size(), 3u);
  EXPECT_EQ(t->nodes[1].gfx_target_version, 0u);
  EXPECT_EQ(t->nodes[1].links.size(), 1u);
}

struct Malformed {
  const char* tree;
  absl::StatusCode code;
  const char* message;
};

class MalformedTree : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedTree, FailsNamingTheFileAndWhy) {
  auto t = read_kfd_topology(fixture(GetParam().tree));
  ASSERT_FALSE(t.ok()) << GetParam().tree << " parsed";
  EXPECT_EQ(t.status().code(), GetParam().code) << t.status();
  EXPECT_THAT(t.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, MalformedTree,
    ::testing::Values(
        Malformed{"bad_missing_node_properties", absl::StatusCode::kNotFound,
                  "nodes/2/properties: missing"},
        Malformed{"bad_number", absl::StatusCode::kInvalidArgument,
                  "nodes/1/properties:2: bad value '4l6' for 'simd_count'"},
        Malformed{"bad_line", absl::StatusCode::kInvalidArgument,
                  "nodes/1/properties:25: expected '<key> <number>', got 'hive_id'"},
        Malformed{"bad_unknown_node", absl::StatusCode::kInvalidArgument,
                  "nodes/2/p2p_links/0/properties:5: node_to 7 names no other node"},
        Malformed{"bad_node_from", absl::StatusCode::kInvalidArgument,
                  "nodes/1/io_links/0/properties:4: node_from 2 but the link belongs to node 1"},
        Malformed{"bad_missing_link", absl::StatusCode::kNotFound,
                  "nodes/1/io_links/1/properties: missing (nodes/1/properties:5 says "
                  "io_links_count 2)"},
        Malformed{"bad_node_gap", absl::StatusCode::kInvalidArgument,
                  "nodes: entries must be numbered 0..2 but 2 is missing"}),
    [](const auto& info) { return std::string(info.param.tree); });

TEST(KfdTopology, MissingRootIsNotFound) {
  auto t = read_kfd_topology(fixture("no_such_tree"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("no_such_tree: nodes: missing"));
}

TEST(KfdTopology, GfxTargetNames) {
  EXPECT_EQ(gfx_target_name(90402), "gfx942");
  EXPECT_EQ(gfx_target_name(90010), "gfx90a");
  EXPECT_EQ(gfx_target_name(110000), "gfx1100");
  EXPECT_EQ(gfx_target_name(0), "");
}

}  // namespace
}  // namespace tg
