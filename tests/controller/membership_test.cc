#include "controller/membership.h"

#include <gtest/gtest.h>

namespace tg {
namespace {

using namespace std::chrono_literals;
using tgrack::v1::NODE_STATE_DOWN;
using tgrack::v1::NODE_STATE_UP;

class MembershipTest : public ::testing::Test {
 protected:
  Membership::Clock::time_point now_ = Membership::Clock::time_point(100s);
  Membership membership_{400ms, [this] { return now_; }};

  static tgrack::v1::NodeInfo node(const std::string& name, const std::string& address) {
    tgrack::v1::NodeInfo info;
    info.set_name(name);
    info.set_address(address);
    info.add_devices()->set_memory_bytes(1024);
    return info;
  }
  tgrack::v1::NodeState state(const std::string& name) { return membership_.node(name)->state(); }
};

TEST_F(MembershipTest, NodeGoesDownAfterSilenceAndUpWithNextHeartbeat) {
  uint64_t token = *membership_.register_node(node("a", "h:1"));
  now_ += 400ms;
  EXPECT_EQ(state("a"), NODE_STATE_UP);
  now_ += 1ms;
  EXPECT_EQ(state("a"), NODE_STATE_DOWN);
  EXPECT_NEAR(membership_.node("a")->seconds_since_heartbeat(), 0.401, 1e-6);
  ASSERT_TRUE(membership_.heartbeat("a", token, {}).ok());
  EXPECT_EQ(state("a"), NODE_STATE_UP);
}

TEST_F(MembershipTest, HeartbeatKeepsNodeUp) {
  uint64_t token = *membership_.register_node(node("a", "h:1"));
  for (int i = 0; i < 10; ++i) {
    now_ += 300ms;
    ASSERT_TRUE(membership_.heartbeat("a", token, {}).ok());
  }
  EXPECT_EQ(state("a"), NODE_STATE_UP);
}

TEST_F(MembershipTest, UnknownNodeOrStaleTokenMeansRegisterAgain) {
  uint64_t first = *membership_.register_node(node("a", "h:1"));
  uint64_t second = *membership_.register_node(node("a", "h:1"));
  EXPECT_NE(first, second);
  EXPECT_EQ(membership_.heartbeat("a", first, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(membership_.heartbeat("a", second, {}).ok());
  EXPECT_EQ(membership_.heartbeat("b", second, {}).code(), absl::StatusCode::kNotFound);
}

TEST_F(MembershipTest, TokensDifferAcrossControllers) {
  Membership other(400ms, [this] { return now_; });
  EXPECT_NE(*membership_.register_node(node("a", "h:1")), *other.register_node(node("a", "h:1")));
}

TEST_F(MembershipTest, NameHeldByLiveDaemonElsewhereIsRefusedUntilItGoesDown) {
  ASSERT_TRUE(membership_.register_node(node("a", "h:1")).ok());
  auto clash = membership_.register_node(node("a", "h:2"));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(clash.status().message().find("h:1"), std::string::npos);
  now_ += 500ms;
  ASSERT_TRUE(membership_.register_node(node("a", "h:2")).ok());
  EXPECT_EQ(membership_.node("a")->address(), "h:2");
  EXPECT_EQ(state("a"), NODE_STATE_UP);
}

TEST_F(MembershipTest, HeartbeatRefreshesDevicesAndNodesAreSortedByName) {
  membership_.register_node(node("b", "h:2")).IgnoreError();
  uint64_t token = *membership_.register_node(node("a", "h:1"));
  google::protobuf::RepeatedPtrField<tgrack::v1::DeviceInfo> devices;
  devices.Add()->set_memory_used_bytes(77);
  ASSERT_TRUE(membership_.heartbeat("a", token, devices).ok());
  auto nodes = membership_.nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name(), "a");
  EXPECT_EQ(nodes[1].name(), "b");
  EXPECT_EQ(nodes[0].devices(0).memory_used_bytes(), 77u);
}

TEST_F(MembershipTest, UnknownNodeErrorListsKnownNodes) {
  membership_.register_node(node("a", "h:1")).IgnoreError();
  auto missing = membership_.node("zz");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'zz'"), std::string::npos);
  EXPECT_NE(missing.status().message().find("known: a"), std::string::npos);
}

TEST_F(MembershipTest, NodeDownLongerThanForgetDownAfterIsListedOnlyWithAll) {
  Membership forgetting(400ms, [this] { return now_; }, 1000ms);
  ASSERT_TRUE(forgetting.register_node(node("a", "h:1")).ok());
  uint64_t b = *forgetting.register_node(node("b", "h:2"));
  now_ += 1400ms;  // a and b DOWN for 1000 ms: still listed.
  ASSERT_TRUE(forgetting.heartbeat("b", b, {}).ok());
  EXPECT_EQ(forgetting.listed(false).size(), 2u);
  now_ += 1ms;  // a DOWN for longer than 1000 ms.
  ASSERT_EQ(forgetting.listed(false).size(), 1u);
  EXPECT_EQ(forgetting.listed(false)[0].name(), "b");
  ASSERT_EQ(forgetting.listed(true).size(), 2u);
  EXPECT_EQ(forgetting.listed(true)[0].state(), NODE_STATE_DOWN);
  EXPECT_EQ(forgetting.nodes().size(), 2u);  // Placement still sees every node.
}

TEST_F(MembershipTest, RemoveForgetsOnlyDownNodesWithTheirCordon) {
  ASSERT_TRUE(membership_.register_node(node("a", "h:1")).ok());
  ASSERT_TRUE(membership_.cordon("a", "fans").ok());
  absl::Status up = membership_.remove("a");
  EXPECT_EQ(up.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(up.message().find("node 'a' is UP"), std::string::npos) << up;
  absl::Status unknown = membership_.remove("z");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("unknown node 'z'"), std::string::npos) << unknown;
  now_ += 401ms;
  ASSERT_TRUE(membership_.remove("a").ok());
  EXPECT_TRUE(membership_.listed(true).empty());
  EXPECT_EQ(membership_.node("a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(membership_.register_node(node("a", "h:1")).ok());
  EXPECT_FALSE(membership_.node("a")->cordoned());  // Forgotten with the node.
}

TEST_F(MembershipTest, DrainMarksDrainingUntilItEndsAndLeavesTheNodeCordoned) {
  ASSERT_TRUE(membership_.register_node(node("a", "h:1")).ok());
  ASSERT_TRUE(membership_.begin_drain("a", "new fans").ok());
  EXPECT_TRUE(membership_.node("a")->draining());
  EXPECT_TRUE(membership_.node("a")->cordoned());
  membership_.end_drain("a");
  EXPECT_FALSE(membership_.node("a")->draining());
  EXPECT_TRUE(membership_.node("a")->cordoned());
  EXPECT_EQ(membership_.node("a")->cordon_reason(), "new fans");
  EXPECT_EQ(membership_.begin_drain("z", "x").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tg
