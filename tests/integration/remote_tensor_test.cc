// Graphs across the pool, end to end through libtgclient: sessions with leases, outputs kept
// on the pool as remote tensors and fetched straight from the daemons, captured plans,
// the job list and cancel. Real tgcontroller and tgd processes on loopback.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/graph_builder.h"
#include "client/session.h"
#include "pool.h"

namespace tg::testing {
namespace {

using tgrack::v1::DTYPE_F32;

HostTensor f32(const Shape& shape, const std::vector<float>& values) {
  HostTensor tensor(TensorType{DTYPE_F32, shape});
  std::copy(values.begin(), values.end(), tensor.values<float>().begin());
  return tensor;
}

std::vector<float> values(const HostTensor& t) {
  return {t.values<float>().begin(), t.values<float>().end()};
}

// y = x * 2 + 1 over f32[shape].
tgrack::v1::Graph affine(const Shape& shape) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, shape);
  g.output(add(mul(x, g.scalar(2)), g.scalar(1)), "y");
  return *g.build();
}

const tgrack::v1::SessionInfo* find_session(const std::vector<tgrack::v1::SessionInfo>& sessions,
                                const std::string& id) {
  for (const auto& s : sessions) if (s.session() == id) return &s;
  return nullptr;
}

class RemoteTensorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }
  Client& client() { return pool_.client(); }
  Pool pool_;
};

TEST_F(RemoteTensorTest, SessionIsRenewedPastItsLeaseAndGoneWhenClosed) {
  auto session = Session::open(client(), 600ms, "renew-test");
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->lease(), 600ms);
  std::this_thread::sleep_for(1500ms);  // Two and a half leases: alive only if renewed.
  EXPECT_TRUE((*session)->last_renewal().ok()) << (*session)->last_renewal();
  auto listed = client().sessions();
  ASSERT_TRUE(listed.ok()) << listed.status();
  const auto* info = find_session(*listed, (*session)->id());
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->client(), "renew-test");
  EXPECT_GT(info->seconds_left(), 0.0);
  EXPECT_LE(info->seconds_left(), 0.6);

  Completed tgctl = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "sessions", "--json"});
  ASSERT_EQ(tgctl.exit_status, 0) << tgctl.err;
  EXPECT_EQ(nlohmann::json::parse(tgctl.out)["sessions"][0]["client"], "renew-test");

  const std::string id = (*session)->id();
  ASSERT_TRUE((*session)->close().ok());
  listed = client().sessions();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(find_session(*listed, id), nullptr);
}

TEST_F(RemoteTensorTest, KeptOutputIsFetchedFedBackAndFreed) {
  auto session = Session::open(client(), 10s, "keep-test");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions options = (*session)->options();
  options.keep = {"y"};
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 2, 3, 4})}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  ASSERT_EQ(ran->outputs.size(), 1u);
  EXPECT_EQ(ran->outputs[0].dtype(), tgrack::v1::DTYPE_UNSPECIFIED);  // Kept, not returned.
  ASSERT_EQ(ran->kept.size(), 1u);
  const RemoteTensor y = ran->kept[0];
  EXPECT_EQ(y.session(), (*session)->id());
  ASSERT_GE(y.pieces_size(), 1);
  EXPECT_EQ(y.pieces(0).address(), pool_.daemon_address(y.pieces(0).device().node()));

  auto fetched = client().fetch(y);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(values(*fetched), (std::vector<float>{3, 5, 7, 9}));

  RunOptions again;
  again.input("x", y);  // Takes y's session.
  auto chained = client().run(affine({4}), {}, again);
  ASSERT_TRUE(chained.ok()) << chained.status();
  EXPECT_EQ(values(chained->outputs.at(0)), (std::vector<float>{7, 11, 15, 19}));

  auto freed = client().free({y.id()});
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_EQ(*freed, 1u);
  EXPECT_EQ(client().fetch(y).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client().free({y.id()}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RemoteTensorTest, ShardedOutputIsAssembledFromBothDaemons) {
  auto session = Session::open(client(), 10s, "shard-test");
  ASSERT_TRUE(session.ok()) << session.status();
  tgrack::v1::Graph graph = affine({4, 2});
  tgrack::v1::Sharding* sharding = graph.mutable_nodes(0)->mutable_sharding();
  for (const char* node : {"node-a", "node-b"}) {
    tgrack::v1::DeviceRef* device = sharding->add_devices();
    device->set_node(node);
    device->set_index(0);
  }
  sharding->set_axis(0);
  RunOptions options = (*session)->options();
  options.keep = {"y"};
  auto ran = client().run(graph, {{"x", f32({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7})}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->devices.size(), 2u);
  ASSERT_EQ(ran->kept.size(), 1u);
  auto fetched = client().fetch(ran->kept[0]);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->type(), (TensorType{DTYPE_F32, {4, 2}}));
  EXPECT_EQ(values(*fetched), (std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15}));
}

TEST_F(RemoteTensorTest, LeaseExpiryFreesTheSessionsTensors) {
  auto session = Session::open(client(), 300ms, "expiry-test");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions options = (*session)->options();
  options.keep = {"y"};
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 2, 3, 4})}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  const RemoteTensor y = ran->kept.at(0);
  ASSERT_TRUE(client().fetch(y).ok());

  (*session)->stop_renewing();
  EXPECT_TRUE(wait_until([&] { return client().fetch(y).status().code() == absl::StatusCode::kNotFound; },
                         5s))
      << "still fetchable 5 s after a 300 ms lease stopped being renewed";
  auto listed = client().sessions();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(find_session(*listed, (*session)->id()), nullptr);
}

TEST_F(RemoteTensorTest, CapturedPlanReplaysWithNewInputsUntilDropped) {
  RunOptions options;
  options.capture = true;
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 1, 1, 1})}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  ASSERT_FALSE(ran->plan_id.empty());
  auto replayed = client().replay(ran->plan_id, {{"x", f32({4}, {0, 1, 2, 3})}});
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->plan_id, ran->plan_id);
  EXPECT_EQ(values(replayed->outputs.at(0)), (std::vector<float>{1, 3, 5, 7}));
  // A different shape would need a different plan: refused.
  EXPECT_FALSE(client().replay(ran->plan_id, {{"x", f32({2}, {0, 1})}}).ok());
  ASSERT_TRUE(client().drop_plan(ran->plan_id).ok());
  EXPECT_EQ(client().replay(ran->plan_id, {{"x", f32({4}, {0, 1, 2, 3})}}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RemoteTensorTest, JobsListsAFinishedJobWithItsDevice) {
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 2, 3, 4})}});
  ASSERT_TRUE(ran.ok()) << ran.status();
  auto jobs = client().jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  const tgrack::v1::JobInfo* job = nullptr;
  for (const auto& j : *jobs) if (j.job_id() == ran->job_id) job = &j;
  ASSERT_NE(job, nullptr) << ran->job_id << " not listed";
  EXPECT_EQ(job->state(), tgrack::v1::JOB_STATE_SUCCEEDED);
  ASSERT_EQ(job->devices_size(), 1);
  ASSERT_EQ(ran->devices.size(), 1u);
  EXPECT_EQ(job->devices(0).node(), ran->devices[0].node());
  EXPECT_EQ(job->devices(0).index(), ran->devices[0].index());

  auto running = client().jobs(/*running_only=*/true);
  ASSERT_TRUE(running.ok());
  for (const auto& j : *running) EXPECT_NE(j.job_id(), ran->job_id);

  Completed tgctl = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "jobs", "--json"});
  ASSERT_EQ(tgctl.exit_status, 0) << tgctl.err;
  bool listed = false;
  const nlohmann::json out = nlohmann::json::parse(tgctl.out);
  for (const auto& j : out["jobs"]) {
    if (j["job_id"] == ran->job_id) listed = j["state"] == "succeeded";
  }
  EXPECT_TRUE(listed) << tgctl.out;
}

TEST_F(RemoteTensorTest, CancelOfAnUnknownJobIsNotFound) {
  EXPECT_EQ(client().cancel("job-does-not-exist", "test").code(), absl::StatusCode::kNotFound);
  Completed tgctl = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "cancel",
                         "job-does-not-exist", "--reason", "test"});
  EXPECT_EQ(tgctl.exit_status, 1);
  EXPECT_NE(tgctl.err.find("NOT_FOUND"), std::string::npos) << tgctl.err;
  EXPECT_NE(tgctl.err.find("job-does-not-exist"), std::string::npos) << tgctl.err;
}

}  // namespace
}  // namespace tg::testing
