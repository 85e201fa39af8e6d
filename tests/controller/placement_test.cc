#include "controller/placement.h"

#include <map>

#include <gtest/gtest.h>

namespace tg {
namespace {

using tgrack::v1::NodeInfo;
using tgrack::v1::Placement;

NodeInfo node(const std::string& name, tgrack::v1::NodeState state, int devices) {
  NodeInfo info;
  info.set_name(name);
  info.set_address(name + ":1");
  info.set_state(state);
  for (int i = 0; i < devices; ++i) {
    auto* device = info.add_devices();
    device->set_memory_bytes(1000);
    device->set_health(tgrack::v1::HEALTH_HEALTHY);
  }
  return info;
}

Placement on_device(const std::string& node, uint32_t index) {
  Placement placement;
  placement.mutable_device()->set_node(node);
  placement.mutable_device()->set_index(index);
  return placement;
}

Placement on_node(const std::string& node) {
  Placement placement;
  placement.set_node(node);
  return placement;
}

class PlacementTest : public ::testing::Test {
 protected:
  std::vector<NodeInfo> nodes_ = {node("a", tgrack::v1::NODE_STATE_UP, 2),
                                  node("b", tgrack::v1::NODE_STATE_UP, 2),
                                  node("c", tgrack::v1::NODE_STATE_DOWN, 2)};
  std::map<std::string, int> jobs_;
  JobsRunning running_ = [this](const std::string& node, uint32_t index) {
    return jobs_[device_name(node, index)];
  };
  absl::StatusOr<PlacementChoice> place(const Placement& request) {
    return tg::place(nodes_, request, running_);
  }
};

TEST_F(PlacementTest, ExplicitDeviceIsHonoured) {
  auto choice = place(on_device("b", 1));
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->node, "b");
  EXPECT_EQ(choice->index, 1u);
  EXPECT_EQ(choice->address, "b:1");
}

TEST_F(PlacementTest, UnknownDeviceIndexIsNotFoundNamingDevice) {
  auto choice = place(on_device("b", 7));
  EXPECT_EQ(choice.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(choice.status().message().find("b/7"), std::string::npos);
  EXPECT_NE(choice.status().message().find("2 device(s)"), std::string::npos);
}

TEST_F(PlacementTest, UnknownNodeIsNotFoundListingKnownNodes) {
  auto choice = place(on_node("nope"));
  EXPECT_EQ(choice.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(choice.status().message().find("'nope'"), std::string::npos);
  EXPECT_NE(choice.status().message().find("a, b, c"), std::string::npos);
}

TEST_F(PlacementTest, DownNodeIsUnavailableWhetherNodeOrDeviceAsked) {
  for (const Placement& request : {on_node("c"), on_device("c", 0)}) {
    auto choice = place(request);
    EXPECT_EQ(choice.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(choice.status().message().find("'c' is DOWN"), std::string::npos);
  }
}

TEST_F(PlacementTest, UnhealthyDeviceIsRefusedAndSkipped) {
  nodes_[0].mutable_devices(0)->set_health(tgrack::v1::HEALTH_UNHEALTHY);
  nodes_[0].mutable_devices(0)->set_health_reason("ecc errors");
  auto refused = place(on_device("a", 0));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("ecc errors"), std::string::npos);
  auto chosen = place(on_node("a"));
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(chosen->index, 1u);
}

TEST_F(PlacementTest, AnywhereMeansLeastLoadedDeviceOfAnUpNode) {
  jobs_["a/0"] = 1;
  jobs_["a/1"] = 1;
  jobs_["b/0"] = 1;
  auto choice = place(Placement());
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(device_name(choice->node, choice->index), "b/1");
  jobs_["b/1"] = 1;
  nodes_[0].mutable_devices(1)->set_memory_used_bytes(10);
  nodes_[1].mutable_devices(0)->set_memory_used_bytes(500);
  choice = place(Placement());
  EXPECT_EQ(device_name(choice->node, choice->index), "a/0");
}

TEST_F(PlacementTest, NothingUsableIsUnavailable) {
  nodes_ = {node("c", tgrack::v1::NODE_STATE_DOWN, 2)};
  auto choice = place(Placement());
  EXPECT_EQ(choice.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(choice.status().message().find("1 node(s) known, 0 UP"), std::string::npos);
}

NodeInfo in_rack(const std::string& name, const std::string& rack, int devices) {
  NodeInfo info = node(name, tgrack::v1::NODE_STATE_UP, devices);
  info.set_rack(rack);
  return info;
}

std::vector<std::string> names(const std::vector<tgrack::v1::DeviceRef>& refs) {
  std::vector<std::string> out;
  for (const auto& ref : refs) out.push_back(device_name(ref.node(), ref.index()));
  return out;
}

TEST(PlaceDevices, KeepsAJobInsideTheSmallestRackItFits) {
  // Rack b (2 devices) fits 2 and is smaller than rack a (4): a stays whole.
  const std::vector<NodeInfo> nodes = {in_rack("a1", "a", 2), in_rack("a2", "a", 2),
                                       in_rack("b1", "b", 1), in_rack("b2", "b", 1)};
  auto two = place_devices(nodes, 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(names(*two), (std::vector<std::string>{"b1/0", "b2/0"}));
  auto three = place_devices(nodes, 3);
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(names(*three), (std::vector<std::string>{"a1/0", "a1/1", "a2/0"}));
}

TEST(PlaceDevices, SpansRacksRackByRackWhenNoneFits) {
  const std::vector<NodeInfo> nodes = {in_rack("b1", "b", 1), in_rack("a1", "a", 2),
                                       in_rack("c1", "c", 3)};
  auto five = place_devices(nodes, 5);
  ASSERT_TRUE(five.ok()) << five.status();
  EXPECT_EQ(names(*five), (std::vector<std::string>{"c1/0", "c1/1", "c1/2", "a1/0", "a1/1"}));
}

TEST(PlaceDevices, SkipsDownCordonedAndUnhealthyAndSaysHowManyAreUsable) {
  std::vector<NodeInfo> nodes = {in_rack("a1", "a", 2), in_rack("a2", "a", 1),
                                 in_rack("b1", "b", 2)};
  nodes[0].mutable_devices(1)->set_health(tgrack::v1::HEALTH_UNHEALTHY);
  nodes[1].set_cordoned(true);
  nodes[2].set_state(tgrack::v1::NODE_STATE_DOWN);
  auto one = place_devices(nodes, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(names(*one), (std::vector<std::string>{"a1/0"}));
  auto two = place_devices(nodes, 2);
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(two.status().message().find("cannot place 2 device(s): 1 healthy device(s)"),
            std::string::npos)
      << two.status();
}

}  // namespace
}  // namespace tg
