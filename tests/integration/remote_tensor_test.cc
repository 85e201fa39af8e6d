// Graphs across the pool, end to end through libtgclient: sessions with leases, outputs kept
// on the pool as remote tensors and fetched straight from the daemons, captured plans,
// the job list and cancel. Real tgcontroller and tgd processes on loopback.
#include <optional>

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
  constexpr auto kLease = 2s;
  auto session = Session::open(client(), kLease, "renew-test");
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->lease(), kLease);
  // The controller's count-down of the lease goes back up at each renewal. Seen rising twice
  // and still listed more than two leases after it opened, the session lives because it is
  // renewed.
  const auto seconds_left = [&]() -> std::optional<double> {
    auto listed = client().sessions();
    if (!listed.ok()) return std::nullopt;
    const auto* info = find_session(*listed, (*session)->id());
    if (info == nullptr) return std::nullopt;
    EXPECT_EQ(info->client(), "renew-test");
    return info->seconds_left();
  };
  const auto opened = std::chrono::steady_clock::now();
  std::optional<double> left = seconds_left(), previous = left;
  int rises = 0;
  wait_until(
      [&] {
        left = seconds_left();
        if (!left) return true;
        if (*left > *previous) ++rises;
        previous = left;
        return rises >= 2 && std::chrono::steady_clock::now() - opened > 2 * kLease;
      },
      60s, 50ms);
  ASSERT_TRUE(left.has_value()) << "the session expired after " << rises << " renewal(s) seen";
  EXPECT_GE(rises, 2);
  EXPECT_GT(*left, 0.0);
  EXPECT_LE(*left, 2.0);
  EXPECT_TRUE((*session)->last_renewal().ok()) << (*session)->last_renewal();

  Completed tgctl = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "sessions", "--json"});
  ASSERT_EQ(tgctl.exit_status, 0) << tgctl.err;
  EXPECT_EQ(nlohmann::json::parse(tgctl.out)["sessions"][0]["client"], "renew-test");

  const std::string id = (*session)->id();
  ASSERT_TRUE((*session)->close().ok());
  auto listed = client().sessions();
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
  const absl::Status gone = client().fetch(y).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound) << gone;
  EXPECT_NE(gone.message().find("holds no tensor '" + y.pieces(0).tensor_id() + "'"),
            std::string::npos)
      << gone;
  const absl::Status again_freed = client().free({y.id()}).status();
  EXPECT_EQ(again_freed.code(), absl::StatusCode::kNotFound) << again_freed;
  EXPECT_NE(again_freed.message().find(y.id()), std::string::npos) << again_freed;
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
  // Long enough that renewals keep it alive on a loaded machine until they stop.
  auto session = Session::open(client(), 2s, "expiry-test");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions options = (*session)->options();
  options.keep = {"y"};
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 2, 3, 4})}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  const RemoteTensor y = ran->kept.at(0);
  ASSERT_TRUE(client().fetch(y).ok());

  (*session)->stop_renewing();
  EXPECT_TRUE(wait_until([&] { return client().fetch(y).status().code() == absl::StatusCode::kNotFound; },
                         30s))
      << "still fetchable 30 s after a 2 s lease stopped being renewed";
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
  const absl::Status reshaped = client().replay(ran->plan_id, {{"x", f32({2}, {0, 1})}}).status();
  EXPECT_EQ(reshaped.code(), absl::StatusCode::kInvalidArgument) << reshaped;
  EXPECT_NE(reshaped.message().find("input 'x': expected f32[4], got f32[2]"), std::string::npos)
      << reshaped;
  ASSERT_TRUE(client().drop_plan(ran->plan_id).ok());
  const absl::Status dropped =
      client().replay(ran->plan_id, {{"x", f32({4}, {0, 1, 2, 3})}}).status();
  EXPECT_EQ(dropped.code(), absl::StatusCode::kNotFound) << dropped;
  EXPECT_NE(dropped.message().find(ran->plan_id), std::string::npos) << dropped;
}

TEST_F(RemoteTensorTest, JobsListsAFinishedJobWithItsDevice) {
  auto ran = client().run(affine({4}), {{"x", f32({4}, {1, 2, 3, 4})}});
  ASSERT_TRUE(ran.ok()) << ran.status();
  // The client ran it on the daemon directly; the controller learns of it from the daemon's
  // next heartbeat.
  absl::StatusOr<std::vector<tgrack::v1::JobInfo>> jobs;
  const tgrack::v1::JobInfo* job = nullptr;
  wait_until(
      [&] {
        jobs = client().jobs();
        job = nullptr;
        if (jobs.ok()) {
          for (const auto& j : *jobs) if (j.job_id() == ran->job_id) job = &j;
        }
        return job != nullptr;
      },
      std::chrono::seconds(30));
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
    if (j["id"] == ran->job_id) listed = j["state"] == "succeeded";
  }
  EXPECT_TRUE(listed) << tgctl.out;
}

TEST_F(RemoteTensorTest, CancelOfAnUnknownJobIsNotFound) {
  const absl::Status unknown = client().cancel("job-does-not-exist", "test");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound) << unknown;
  EXPECT_EQ(unknown.message(), "job 'job-does-not-exist' is not running (unknown job)");
  Completed tgctl = run(pool_.dir(), TGCTL_PATH,
                        {"--controller", pool_.controller_address(), "cancel",
                         "job-does-not-exist", "--reason", "test"});
  EXPECT_EQ(tgctl.exit_status, 1);
  EXPECT_NE(tgctl.err.find("NOT_FOUND"), std::string::npos) << tgctl.err;
  EXPECT_NE(tgctl.err.find("job-does-not-exist"), std::string::npos) << tgctl.err;
}

}  // namespace
}  // namespace tg::testing
