#include "client/elastic_devices.h"

#include <gtest/gtest.h>

#include "client/device_name.h"

namespace tg {
namespace {

namespace v1 = tgrack::v1;

v1::NodeInfo node(const std::string& name, uint32_t pid, int devices,
                  v1::NodeState state = v1::NODE_STATE_UP) {
  v1::NodeInfo info;
  info.set_name(name);
  info.set_pid(pid);
  info.set_state(state);
  for (int i = 0; i < devices; ++i) {
    v1::DeviceInfo* device = info.add_devices();
    device->mutable_ref()->set_node(name);
    device->mutable_ref()->set_index(i);
    device->set_health(v1::HEALTH_HEALTHY);
  }
  return info;
}

std::string names(const std::vector<v1::DeviceRef>& devices) {
  std::string text;
  for (const auto& d : devices) text += (text.empty() ? "" : ",") + format_device_name(d);
  return text;
}

TEST(FailedNode, NamesTheLostNodeOfAnUnavailableRun) {
  EXPECT_EQ(failed_node(absl::UnavailableError(
                "job-7: node 'node-b' (node-b/0,node-b/1) at 127.0.0.1:4242 is unreachable: "
                "connection refused; node-a/0 failed too: peer 'node-b' gone")),
            "node-b");
  EXPECT_EQ(failed_node(absl::UnavailableError("node 'node-c' is DOWN (no heartbeat for 3.0 s)")),
            "node-c");
}

TEST(FailedNode, IsNoneForOtherErrorsAndMessagesWithoutANode) {
  // A bad graph that happens to name a node is not a lost node.
  EXPECT_EQ(failed_node(absl::InvalidArgumentError("job-7: node 'node-b' (node-b/0) failed: bad")),
            std::nullopt);
  EXPECT_EQ(failed_node(absl::UnavailableError("controller unreachable")), std::nullopt);
  EXPECT_EQ(failed_node(absl::UnavailableError("node '' is odd")), std::nullopt);
  EXPECT_EQ(failed_node(absl::UnavailableError("node 'unterminated")), std::nullopt);
  EXPECT_EQ(failed_node(absl::OkStatus()), std::nullopt);
}

TEST(UsableDevices, SkipsDownCordonedUnhealthyAndLostNodesInListingOrder) {
  std::vector<v1::NodeInfo> nodes = {node("a", 10, 2), node("b", 11, 2, v1::NODE_STATE_DOWN),
                                     node("c", 12, 2), node("d", 13, 1), node("e", 14, 1)};
  nodes[2].set_cordoned(true);
  nodes[3].mutable_devices(0)->set_health(v1::HEALTH_UNHEALTHY);
  EXPECT_EQ(names(usable_devices(nodes, {})), "a/0,a/1,e/0");
  EXPECT_EQ(names(usable_devices(nodes, {{"a", 10}})), "e/0");
  EXPECT_EQ(names(usable_devices(nodes, {}, 2)), "a/0,a/1");
}

TEST(UsableDevices, ALostNodeIsBackOnlyWithANewDaemon) {
  const std::vector<v1::NodeInfo> same = {node("a", 10, 1), node("b", 11, 1)};
  EXPECT_EQ(names(usable_devices(same, {{"b", 11}})), "a/0");  // Still listed: the dead daemon.
  const std::vector<v1::NodeInfo> restarted = {node("a", 10, 1), node("b", 99, 1)};
  EXPECT_EQ(names(usable_devices(restarted, {{"b", 11}})), "a/0,b/0");
}

}  // namespace
}  // namespace tg
