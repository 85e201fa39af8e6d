// The direct path through real processes: the controller places, clients run on the daemons
// under grants the controller signed (docs/rpc.md). A daemon refuses work without a valid
// grant, naming why; replays go on while the controller is stopped and restarted, and so do
// runs of a graph placed once; the controller still lists jobs that clients ran directly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "net/grant.h"
#include "pool.h"
#include "net/rpc.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

v1::Tensor f32(const std::vector<float>& values) {
  v1::Tensor t;
  t.set_dtype(v1::DTYPE_F32);
  t.add_shape(static_cast<int64_t>(values.size()));
  t.set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t;
}

// y = x + 1 on f32[4].
v1::Graph plus_one() {
  v1::Graph g;
  v1::Node* x = g.add_nodes();
  x->set_name("x");
  x->set_op(v1::OP_INPUT);
  x->set_dtype(v1::DTYPE_F32);
  x->add_shape(4);
  v1::Node* one = g.add_nodes();
  one->set_name("one");
  one->set_op(v1::OP_CONSTANT);
  *one->mutable_value() = f32({1, 1, 1, 1});
  v1::Node* y = g.add_nodes();
  y->set_name("y");
  y->set_op(v1::OP_ADD);
  y->add_inputs("x");
  y->add_inputs("one");
  g.add_outputs("y");
  return g;
}

HostTensor host(const std::vector<float>& values) {
  auto tensor = HostTensor::from_proto(f32(values), "test input");
  return *std::move(tensor);
}

std::vector<float> floats(const HostTensor& t) {
  const v1::Tensor proto = t.to_proto();
  std::vector<float> v(proto.data().size() / 4);
  std::memcpy(v.data(), proto.data().data(), proto.data().size());
  return v;
}

class Direct : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool.start_default().ok());
    daemon = v1::NodeService::NewStub(make_channel(pool.daemon_address("node-a")));
    auto loaded = GrantSigner::load_or_create(pool.grant_key_file());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    signer = std::make_unique<GrantSigner>(*std::move(loaded));
  }

  // y = x + 1 as an inline fragment on node-a's `device`.
  static v1::RunFragmentsRequest request(uint32_t device) {
    v1::RunFragmentsRequest r;
    r.set_job_id("job-direct");
    v1::Fragment* fragment = r.add_fragments();
    fragment->set_device_index(device);
    *fragment->mutable_graph() = plus_one();
    v1::FragmentRun* run = r.add_runs();
    run->set_device_index(device);
    v1::NamedTensor* feed = run->add_feeds();
    feed->set_name("x");
    *feed->mutable_tensor() = f32({1, 2, 3, 4});
    return r;
  }

  // A grant for node-a's `devices`, good for a minute.
  static v1::Grant grant(std::vector<uint32_t> devices, const std::string& node = "node-a") {
    v1::Grant g;
    g.set_grant_id("g-test");
    g.set_tenant("default");
    g.set_node(node);
    for (uint32_t d : devices) g.add_device_indices(d);
    g.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + std::chrono::minutes(1)));
    return g;
  }

  grpc::Status run(const v1::RunFragmentsRequest& r, v1::RunFragmentsReply* reply = nullptr) {
    v1::RunFragmentsReply ignored;
    auto context = context_with_deadline(std::chrono::seconds(10));
    return daemon->RunFragments(context.get(), r, reply != nullptr ? reply : &ignored);
  }

  Pool pool;
  std::unique_ptr<v1::NodeService::Stub> daemon;
  std::unique_ptr<GrantSigner> signer;
};

TEST_F(Direct, AGrantSignedByTheControllerRunsTheFragment) {
  v1::RunFragmentsRequest r = request(1);
  *r.mutable_grant() = signer->sign(grant({1}));
  v1::RunFragmentsReply reply;
  grpc::Status status = run(r, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reply.fragments_size(), 1);
  ASSERT_EQ(reply.fragments(0).outputs_size(), 1);
  EXPECT_EQ(reply.fragments(0).outputs(0).tensor().data(), f32({2, 3, 4, 5}).data());
}

TEST_F(Direct, ADaemonRefusesWorkWithoutAGrant) {
  grpc::Status status = run(request(0));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "RunFragments on node 'node-a' refused: no grant: ask the controller to place the "
            "work (Place) and send its grant");
}

TEST_F(Direct, ADaemonRefusesAGrantSignedByAnotherKey) {
  auto forger = GrantSigner::generate();
  ASSERT_TRUE(forger.ok());
  v1::RunFragmentsRequest r = request(0);
  *r.mutable_grant() = forger->sign(grant({0}));
  grpc::Status status = run(r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("grant signature does not verify with the controller's key"),
            std::string::npos)
      << status.error_message();
}

TEST_F(Direct, ADaemonRefusesAGrantAlteredAfterSigning) {
  v1::RunFragmentsRequest r = request(1);
  *r.mutable_grant() = signer->sign(grant({0}));
  // Widen the signed grant to device 1 without signing again.
  v1::Grant widened;
  ASSERT_TRUE(widened.ParseFromString(r.grant().grant()));
  widened.add_device_indices(1);
  r.mutable_grant()->set_grant(widened.SerializeAsString());
  grpc::Status status = run(r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("does not verify"), std::string::npos)
      << status.error_message();
}

TEST_F(Direct, ADaemonRefusesAnExpiredGrantNamingWhenItExpired) {
  v1::Grant expired = grant({0});
  expired.set_expires_unix_ms(1700000000000);  // 2023-11-14T22:13:20Z.
  v1::RunFragmentsRequest r = request(0);
  *r.mutable_grant() = signer->sign(expired);
  grpc::Status status = run(r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "RunFragments on node 'node-a' refused: grant g-test expired at "
            "2023-11-14T22:13:20.000Z; ask the controller for a fresh one");
}

TEST_F(Direct, ADaemonRefusesDevicesNodesAndPlansNotGranted) {
  v1::RunFragmentsRequest device = request(1);
  *device.mutable_grant() = signer->sign(grant({0}));
  grpc::Status status = run(device);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "RunFragments on node 'node-a' refused: grant g-test does not cover device node-a/1 "
            "(granted: 0)");

  v1::RunFragmentsRequest node = request(0);
  *node.mutable_grant() = signer->sign(grant({0}, "node-b"));
  status = run(node);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "RunFragments on node 'node-a' refused: grant g-test is for node 'node-b', not "
            "'node-a'");

  v1::Grant for_plan = grant({0});
  for_plan.set_plan_id("plan-7");
  v1::RunFragmentsRequest plan = request(0);
  *plan.mutable_grant() = signer->sign(for_plan);
  status = run(plan);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "RunFragments on node 'node-a' refused: grant g-test is for plan plan-7, not "
            "fragments carried in the request");
}

// Waits until the controller lists job `id` as finished with `state`.
bool listed(Client& client, const std::string& id, v1::JobState state) {
  return wait_until(
      [&] {
        auto jobs = client.jobs();
        if (!jobs.ok()) return false;
        for (const v1::JobInfo& job : *jobs) {
          if (job.job_id() == id) return job.state() == state;
        }
        return false;
      },
      std::chrono::seconds(30));
}

TEST_F(Direct, TheControllerListsJobsClientsRanDirectly) {
  Client client(pool.controller_address(), std::chrono::seconds(10));
  auto ran = client.run(plus_one(), {{"x", host({1, 2, 3, 4})}});
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(floats(ran->outputs.at(0)), (std::vector<float>{2, 3, 4, 5}));
  EXPECT_TRUE(listed(client, ran->job_id, v1::JOB_STATE_SUCCEEDED)) << ran->job_id;

  // tgctl jobs shows it too.
  Completed jobs = testing::run(pool.dir(), TGCTL_PATH,
                                {"--controller", pool.controller_address(), "jobs"});
  EXPECT_EQ(jobs.exit_status, 0) << jobs.err;
  EXPECT_NE(jobs.out.find(ran->job_id), std::string::npos) << jobs.out;
}

// Jobs a client runs directly are named by the client: "job-" and 128 random bits, so two
// clients (or processes) never pick the same id and no tenant guesses another's.
TEST_F(Direct, JobsClientsRunDirectlyCarry128RandomBitsAndNeverRepeat) {
  std::set<std::string> ids;
  for (int c = 0; c < 2; ++c) {
    Client client(pool.controller_address(), std::chrono::seconds(10));
    for (int i = 0; i < 3; ++i) {
      auto ran = client.run(plus_one(), {{"x", host({1, 2, 3, 4})}});
      ASSERT_TRUE(ran.ok()) << ran.status();
      EXPECT_THAT(ran->job_id, ::testing::MatchesRegex("job-[0-9a-f]{32}"));
      ids.insert(ran->job_id);
    }
  }
  EXPECT_EQ(ids.size(), 6u);
  Client lister(pool.controller_address(), std::chrono::seconds(10));
  EXPECT_TRUE(listed(lister, *ids.begin(), v1::JOB_STATE_SUCCEEDED));  // The daemons' report.
}

TEST_F(Direct, ReplaysGoOnWhileTheControllerIsStoppedAndRestarted) {
  Client client(pool.controller_address(), std::chrono::seconds(10));
  RunOptions capture;
  capture.capture = true;
  auto captured = client.run(plus_one(), {{"x", host({0, 0, 0, 0})}}, capture);
  ASSERT_TRUE(captured.ok()) << captured.status();
  ASSERT_FALSE(captured->plan_id.empty());

  const std::string address = pool.controller_address();
  pool.controller().kill(9);
  auto replayed = client.replay(captured->plan_id, {{"x", host({1, 2, 3, 4})}});
  ASSERT_TRUE(replayed.ok()) << "controller stopped: " << replayed.status();
  EXPECT_EQ(floats(replayed->outputs.at(0)), (std::vector<float>{2, 3, 4, 5}));
  const std::string while_down = replayed->job_id;

  ASSERT_TRUE(pool.start_controller(address).ok());
  replayed = client.replay(captured->plan_id, {{"x", host({5, 6, 7, 8})}});
  ASSERT_TRUE(replayed.ok()) << "controller restarted: " << replayed.status();
  EXPECT_EQ(floats(replayed->outputs.at(0)), (std::vector<float>{6, 7, 8, 9}));
  ASSERT_TRUE(pool.wait_for_node("node-a", v1::NODE_STATE_UP));
  replayed = client.replay(captured->plan_id, {{"x", host({9, 9, 9, 9})}});
  ASSERT_TRUE(replayed.ok()) << "node registered again: " << replayed.status();
  EXPECT_EQ(floats(replayed->outputs.at(0)), (std::vector<float>{10, 10, 10, 10}));

  // The daemon kept the report of the job run while the controller was away, and hands it
  // to the new controller.
  EXPECT_TRUE(listed(client, while_down, v1::JOB_STATE_SUCCEEDED)) << while_down;
}

TEST_F(Direct, AGraphPlacedOnceRunsManyTimesWithoutTheController) {
  Client client(pool.controller_address(), std::chrono::seconds(10));
  auto placed = client.place(plus_one());
  ASSERT_TRUE(placed.ok()) << placed.status();

  // Runs go straight to the daemon under the placement's grant: the controller is not asked.
  pool.controller().kill(9);
  std::set<std::string> jobs;
  for (float base : {1.0f, 10.0f, 100.0f}) {
    auto ran = client.run(*placed, {{"x", host({base, base + 1, base + 2, base + 3})}});
    ASSERT_TRUE(ran.ok()) << "controller stopped: " << ran.status();
    EXPECT_EQ(floats(ran->outputs.at(0)),
              (std::vector<float>{base + 1, base + 2, base + 3, base + 4}));
    ASSERT_EQ(ran->devices.size(), 1u);
    EXPECT_EQ(ran->devices[0].node(), "node-a");
    EXPECT_TRUE(ran->plan_id.empty()) << "nothing is captured on the controller";
    jobs.insert(ran->job_id);
  }
  EXPECT_EQ(jobs.size(), 3u) << "every run is a job of its own";

  auto wrong = client.run(*placed, {{"x", host({1, 2})}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument) << wrong.status();
  EXPECT_NE(wrong.status().message().find("input 'x': expected f32[4]"), std::string::npos)
      << wrong.status();
}

TEST_F(Direct, AGraphTheControllerMustRunIsNotPlacedOnce) {
  Client client(pool.controller_address(), std::chrono::seconds(10));
  RunOptions keep;
  keep.keep = {"y"};
  auto placed = client.place(plus_one(), keep);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.status().code(), absl::StatusCode::kFailedPrecondition) << placed.status();
  EXPECT_NE(placed.status().message().find("reads or keeps remote tensors"), std::string::npos)
      << placed.status();
  EXPECT_FALSE(client.run(PlacedGraph(), {{"x", host({1, 2, 3, 4})}}).ok());
}

}  // namespace
}  // namespace tg::testing
