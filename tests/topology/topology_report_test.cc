#include "devices/topology/topology_report.h"

#include "devices/topology/topology_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <absl/strings/str_split.h>

namespace tg {
namespace {

using ::testing::HasSubstr;

LinkPolicy policy_for(const std::string& tree) {
  auto m = read_kfd_link_matrix(std::string(TG_KFD_FIXTURES "/") + tree);
  EXPECT_TRUE(m.ok()) << m.status();
  return LinkPolicy(m.ok() ? *m : LinkMatrix());
}

std::vector<std::string> cells(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

TEST(TopologyReport, MatrixShowsEachPairsClassAndDeviceFacts) {
  const std::string text = format_topology_matrix(policy_for("two_hives_4x2"));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_GE(lines.size(), 9u);
  EXPECT_EQ(cells(lines[0]),
            (std::vector<std::string>{"GPU0", "GPU1", "GPU2", "GPU3", "GPU4", "GPU5", "GPU6",
                                      "GPU7", "Hive", "Target", "Render"}));
  EXPECT_EQ(cells(lines[1]),
            (std::vector<std::string>{"GPU0", "X", "XGMI", "XGMI", "XGMI", "PCIE", "PCIE", "PCIE",
                                      "PCIE", "0x9a1e3c5b7d2f4e61", "gfx90a", "renderD128"}));
  EXPECT_EQ(cells(lines[6]),
            (std::vector<std::string>{"GPU5", "PCIE", "PCIE", "PCIE", "PCIE", "XGMI", "X", "XGMI",
                                      "XGMI", "0x51c0ffee12345678", "gfx90a", "renderD168"}));
  EXPECT_THAT(text, HasSubstr("Legend:"));
  EXPECT_THAT(text, HasSubstr("  HOST = No peer path"));
  EXPECT_THAT(text, HasSubstr("Collective shape: hierarchical (2 XGMI meshes of 4 devices"));
}

TEST(TopologyReport, MatrixMarksHostStagedPairsAndMissingFacts) {
  const std::string text = format_topology_matrix(policy_for("legacy_no_p2p2"));
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_EQ(cells(lines[2]),
            (std::vector<std::string>{"GPU1", "HOST", "X", "-", "-", "renderD136"}));
  EXPECT_THAT(text, HasSubstr("Collective shape: ring"));
}

TEST(TopologyReport, JsonCarriesDevicesPairsAndShape) {
  auto j = nlohmann::json::parse(format_topology_json(policy_for("mi300x_hive8")));
  ASSERT_EQ(j["devices"].size(), 8u);
  EXPECT_EQ(j["devices"][7]["name"], "GPU7");
  EXPECT_EQ(j["devices"][7]["kfd_node"], 8);
  EXPECT_EQ(j["devices"][7]["gfx_target"], "gfx942");
  EXPECT_EQ(j["devices"][0]["hive_id"], "0x9a1e3c5b7d2f4e61");
  ASSERT_EQ(j["pairs"].size(), 28u);
  EXPECT_EQ(j["pairs"][0]["a"], 0);
  EXPECT_EQ(j["pairs"][0]["b"], 1);
  EXPECT_EQ(j["pairs"][0]["class"], "xgmi");
  EXPECT_DOUBLE_EQ(j["pairs"][0]["bandwidth_bytes_per_s"].get<double>(), 64e9);
  EXPECT_EQ(j["collective_shape"], "mesh");
  EXPECT_EQ(j["full_xgmi_mesh"], true);
}

TEST(TopologyReport, JsonForPcieBoxSaysRing) {
  auto j = nlohmann::json::parse(format_topology_json(policy_for("pcie4")));
  EXPECT_EQ(j["pairs"].size(), 6u);
  EXPECT_EQ(j["pairs"][5]["class"], "pcie");
  EXPECT_EQ(j["collective_shape"], "ring");
  EXPECT_EQ(j["full_xgmi_mesh"], false);
}

TEST(TopologyReport, CpuDevicesFromConfigPrintTheirNamesAndHives) {
  auto m = parse_topology_config(R"({
    "devices": [{"name": "cpu0", "hive": "a"}, {"name": "cpu1", "hive": "a"}, {"name": "cpu2"}],
    "links": [{"between": [0, 1], "class": "xgmi"}, {"between": [1, 2], "class": "pcie"}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  LinkPolicy policy(*m);
  std::vector<std::string> lines = absl::StrSplit(format_topology_matrix(policy), '\n');
  EXPECT_EQ(cells(lines[1]), (std::vector<std::string>{"cpu0", "X", "XGMI", "HOST", "a", "-", "-"}));
  EXPECT_EQ(cells(lines[3]), (std::vector<std::string>{"cpu2", "HOST", "PCIE", "X", "-", "-", "-"}));
  auto j = nlohmann::json::parse(format_topology_json(policy));
  EXPECT_EQ(j["pairs"][1]["class"], "host");
  EXPECT_DOUBLE_EQ(j["pairs"][1]["bandwidth_bytes_per_s"].get<double>(), kDefaultHost.bandwidth);
  EXPECT_EQ(j["collective_shape"], "ring");
}

}  // namespace
}  // namespace tg
