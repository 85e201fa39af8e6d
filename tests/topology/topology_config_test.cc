#include "devices/topology/topology_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tg {
namespace {

using ::testing::HasSubstr;

TEST(TopologyConfig, ListedPairsSetBothDirectionsAndOthersTakeTheDefault) {
  auto m = parse_topology_config(R"({
    "devices": [{"name": "cpu0", "hive": "a"}, {"name": "cpu1", "hive": "a"}, {"name": "cpu2"}],
    "default_link": {"class": "host", "bandwidth_gbytes_per_s": 10, "latency_us": 20},
    "links": [{"between": [1, 0], "class": "XGMI", "bandwidth_gbytes_per_s": 64, "latency_us": 2}]
  })");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ(m->device(1).name, "cpu1");
  EXPECT_EQ(m->device(1).hive_id, "a");
  EXPECT_EQ(m->device(2).hive_id, "");
  for (auto [a, b] : {std::pair{0, 1}, {1, 0}}) {
    EXPECT_EQ(m->link(a, b).link_class, LinkClass::kXgmi);
    EXPECT_DOUBLE_EQ(m->link(a, b).bandwidth, 64e9);
    EXPECT_DOUBLE_EQ(m->link(a, b).latency, 2e-6);
  }
  EXPECT_EQ(m->link(2, 0).link_class, LinkClass::kHost);
  EXPECT_DOUBLE_EQ(m->link(2, 0).bandwidth, 10e9);
  EXPECT_DOUBLE_EQ(m->link(0, 2).latency, 20e-6);
}

TEST(TopologyConfig, DeviceCountNamesCpuDevicesAndLeavesLinksHostStaged) {
  auto m = parse_topology_config(R"({"devices": 2})");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ(m->device(0).name, "cpu0");
  EXPECT_EQ(m->link(0, 1).link_class, LinkClass::kHost);
  EXPECT_EQ(m->link(0, 1).bandwidth, 0);
}

struct BadConfig {
  const char* json;
  const char* message;
};

class BadTopologyConfig : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadTopologyConfig, IsRejectedNamingWhere) {
  auto m = parse_topology_config(GetParam().json);
  ASSERT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << GetParam().json;
  EXPECT_THAT(m.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadTopologyConfig,
    ::testing::Values(
        BadConfig{R"({"devices": 2, )", "<json>"},
        BadConfig{R"({"links": []})", "devices: required"},
        BadConfig{R"({"devices": 2, "link": []})", "<root>: unknown key 'link'"},
        BadConfig{R"({"devices": 2, "links": [{"between": [0, 1], "class": "nvlink"}]})",
                  "links[0].class: unknown link class 'nvlink'"},
        BadConfig{R"({"devices": 2, "links": [{"between": [0, 2], "class": "pcie"}]})",
                  "links[0].between: device index out of range (2 devices)"},
        BadConfig{R"({"devices": 2, "links": [{"between": [1, 1], "class": "pcie"}]})",
                  "links[0].between: a device cannot link to itself"},
        BadConfig{R"({"devices": 2, "links": [{"between": [0, 1], "class": "pcie"},
                                              {"between": [1, 0], "class": "xgmi"}]})",
                  "links[1].between: pair 1-0 listed twice"},
        BadConfig{R"({"devices": 2, "links": [{"between": [0, 1], "class": "pcie",
                                               "latency_us": -1}]})",
                  "links[0].latency_us: expected a number >= 0"},
        BadConfig{R"({"devices": [{"name": "a"}, {"name": "a"}]})",
                  "devices[1].name: duplicate name 'a'"},
        BadConfig{R"({"devices": [{"hive": "x"}]})", "devices[0].name: required"}));

TEST(TopologyConfig, UnreadableFileIsNotFound) {
  auto m = load_topology_config(TG_KFD_FIXTURES "/no_such_config.json");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("no_such_config.json"));
}

}  // namespace
}  // namespace tg
