// Deadlines and cancellation reach the daemon's executor: a graph held on a real tgd (its
// kernel named "test_hold...", daemon/test_hold.h) is stopped there within 1 s after its
// caller's deadline passes (calling the daemon directly with the controller's grant, or
// calling the controller), after its caller cancels
// the call, after `tgctl cancel`, and after
// a drain's deadline. Each test shows the daemon itself stopped: the held kernel observed the
// cancellation (it never ran), the daemon logged why, naming the job and the node it stopped
// at; and the daemon then runs the next graph.
#include <absl/strings/match.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "client/graph_builder.h"
#include "pool.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kStopBound = 1000ms;

// y = held(x) + 1 on f32[2]: `held` is a negation named `key` ("test_hold_..."), so on a
// holding daemon the run stays inside that kernel until released or stopped.
v1::Graph held_graph(const std::string& key) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {2});
  v1::Node held;
  held.set_name(key);
  Value h = g.add(v1::OP_NEG, {x}, held);
  g.output(h + g.constant(std::vector<float>{1, 1}, Shape{2}), "y");
  return *g.build();
}

HostTensor f32(std::vector<float> values) {
  HostTensor t(TensorType{v1::DTYPE_F32, {static_cast<int64_t>(values.size())}});
  std::memcpy(t.data(), values.data(), t.bytes());
  return t;
}

std::vector<float> floats(const HostTensor& t) {
  std::vector<float> v(t.elements());
  std::memcpy(v.data(), t.data(), t.bytes());
  return v;
}

class CancelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.hold_kernels_on("node-a");
    ASSERT_TRUE(pool_.start_controller().ok());
    ASSERT_TRUE(pool_.start_daemon("node-a").ok());
    ASSERT_TRUE(pool_.wait_for_node("node-a", v1::NODE_STATE_UP));
    node_ = v1::NodeService::NewStub(make_channel(pool_.daemon_address("node-a")));
  }

  // The held graph placed by the controller (Place) and addressed to its daemon directly,
  // with the controller's grant: the client's direct path (docs/rpc.md).
  v1::RunFragmentsRequest placed_request(const std::string& key, const std::string& job) {
    auto controller = v1::ControllerService::NewStub(make_channel(pool_.controller_address()));
    v1::PlaceRequest place;
    *place.mutable_graph() = held_graph(key);
    v1::PlaceReply placed;
    auto context = context_with_deadline(10s);
    const grpc::Status status = controller->Place(context.get(), place, &placed);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::RunFragmentsRequest request;
    if (!status.ok() || placed.daemons_size() != 1 || placed.inputs_size() != 1) return request;
    request.set_job_id(job);
    *request.mutable_grant() = placed.daemons(0).grant();
    *request.mutable_fragments() = placed.daemons(0).fragments();
    v1::FragmentRun* run = request.add_runs();
    run->set_device_index(placed.daemons(0).device_indices(0));
    v1::NamedTensor* feed = run->add_feeds();
    feed->set_name(placed.inputs(0).pieces(0).node());
    *feed->mutable_tensor() = f32({1, 2}).to_proto();
    return request;
  }

  // The daemon's log so far (spdlog writes to stdout).
  std::string daemon_log() { return pool_.daemon("node-a").stdout_text(); }

  // True once the daemon's log has a line holding `fragment`.
  bool daemon_logged(const std::string& fragment) {
    return wait_until([&] { return absl::StrContains(daemon_log(), fragment); }, 10s);
  }

  // The daemon runs the next graph (no held node) and gets it right: y = -x + 1.
  void expect_next_graph_runs() {
    auto result = pool_.client().run(held_graph("next"), {{"x", f32({3, -4})}});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->outputs.size(), 1u);
    EXPECT_EQ(floats(result->outputs[0]), (std::vector<float>{-2, 5}));
  }

  // The running job's id once the controller lists exactly one (daemons report jobs that
  // clients run directly in their heartbeats); "" if none within 10 s.
  std::string running_job() {
    std::string id;
    wait_until([&] {
      auto jobs = pool_.client().jobs(/*running_only=*/true);
      if (jobs.ok() && jobs->size() == 1) id = jobs->front().job_id();
      return !id.empty();
    }, 10s);
    return id;
  }

  Completed tgctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--controller", pool_.controller_address()});
    return run(pool_.dir(), TGCTL_PATH, args);
  }

  Pool pool_;
  std::unique_ptr<v1::NodeService::Stub> node_;
};

TEST_F(CancelTest, TheCallersDeadlineStopsTheGraphOnTheDaemon) {
  constexpr auto kDeadline = 2s;
  const v1::RunFragmentsRequest request = placed_request("test_hold_deadline", "job-deadline");
  v1::RunFragmentsReply reply;
  grpc::ClientContext context;
  const auto started = Clock::now();
  context.set_deadline(std::chrono::system_clock::now() + kDeadline);
  const grpc::Status status = node_->RunFragments(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  // The daemon logs the run's end once its executor returned: within 1 s of the deadline.
  const std::string why = "deadline exceeded: the caller's deadline for job job-deadline passed";
  const bool ended = wait_until(
      [&] { return absl::StrContains(daemon_log(), why); },
      std::chrono::duration_cast<std::chrono::milliseconds>(started + kDeadline + kStopBound -
                                                            Clock::now()),
      1ms);
  EXPECT_TRUE(ended) << "the daemon was still running the graph 1 s after the caller's deadline";
  if (pool_.wait_held("node-a", "test_hold_deadline", 1ms)) {  // Reached it before the deadline.
    EXPECT_TRUE(pool_.wait_stopped("node-a", "test_hold_deadline", 1ms))
        << "the held kernel ended without seeing the deadline";
    EXPECT_TRUE(daemon_logged("node 'test_hold_deadline': " + why))
        << daemon_log();
  }
  expect_next_graph_runs();
}

// Through the controller: the caller's deadline bounds the controller's call to the daemon,
// and when it passes the controller stops the job there.
TEST_F(CancelTest, TheCallersDeadlineTravelsThroughTheControllerToTheDaemon) {
  constexpr auto kDeadline = 2s;
  v1::SubmitRequest request;
  *request.mutable_graph() = held_graph("test_hold_relay");
  v1::NamedTensor* feed = request.add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({1, 2}).to_proto();
  auto controller = v1::ControllerService::NewStub(make_channel(pool_.controller_address()));
  v1::SubmitReply reply;
  grpc::ClientContext context;
  const auto started = Clock::now();
  context.set_deadline(std::chrono::system_clock::now() + kDeadline);
  const grpc::Status status = controller->Submit(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  // The controller's call to the daemon carries what was left of the caller's deadline.
  const std::string why = "deadline exceeded: the caller's deadline for job";
  const bool ended = wait_until(
      [&] { return absl::StrContains(daemon_log(), why); },
      std::chrono::duration_cast<std::chrono::milliseconds>(started + kDeadline + kStopBound -
                                                            Clock::now()),
      1ms);
  EXPECT_TRUE(ended) << "the daemon was still running the graph 1 s after the caller's deadline:\n"
                     << daemon_log();
  if (pool_.wait_held("node-a", "test_hold_relay", 1ms)) {
    EXPECT_TRUE(pool_.wait_stopped("node-a", "test_hold_relay", 1ms));
    EXPECT_TRUE(daemon_logged("node 'test_hold_relay': " + why));
  }
  expect_next_graph_runs();
}

TEST_F(CancelTest, ACallerThatGivesUpStopsItsFragmentsOnTheDaemon) {
  const v1::RunFragmentsRequest request = placed_request("test_hold_gone", "job-gone");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto running = std::async(std::launch::async, [&] {
    v1::RunFragmentsReply reply;
    return node_->RunFragments(&context, request, &reply);
  });
  const bool held = pool_.wait_held("node-a", "test_hold_gone");
  const auto cancelled_at = Clock::now();
  context.TryCancel();
  const bool stopped = held && pool_.wait_stopped("node-a", "test_hold_gone", kStopBound);
  const auto stop_latency =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - cancelled_at);
  RecordProperty("stopped_after_us", std::to_string(stop_latency.count()));
  const grpc::Status status = running.get();
  ASSERT_TRUE(held) << "the run never reached its held kernel: " << status.error_message();
  EXPECT_TRUE(stopped) << "the daemon was still running the held kernel 1 s after the cancel";
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(daemon_logged("job job-gone, device node-a/0: node 'test_hold_gone': cancelled: "
                            "the caller of job job-gone gave up"))
      << daemon_log();
  expect_next_graph_runs();
}

TEST_F(CancelTest, TgctlCancelStopsTheGraphOnTheDaemon) {
  auto result = std::async(std::launch::async, [&] {
    return pool_.client().run(held_graph("test_hold_cancel"), {{"x", f32({1, 2})}});
  });
  const bool held = pool_.wait_held("node-a", "test_hold_cancel");
  const std::string job = held ? running_job() : "";
  Completed cancel;
  if (!job.empty()) cancel = tgctl({"cancel", job, "--reason", "operator says stop"});
  const bool stopped = !job.empty() && pool_.wait_stopped("node-a", "test_hold_cancel", kStopBound);
  if (!stopped) pool_.release("node-a", "test_hold_cancel");  // So the run ends either way.
  auto ran = result.get();
  ASSERT_TRUE(held) << "the graph never reached its held kernel: " << ran.status();
  ASSERT_FALSE(job.empty()) << "the held graph is not the one running job";
  EXPECT_EQ(cancel.exit_status, 0) << cancel.err;
  EXPECT_TRUE(stopped) << "the daemon was still running the held kernel 1 s after tgctl cancel";
  ASSERT_EQ(ran.status().code(), absl::StatusCode::kCancelled) << ran.status();
  EXPECT_THAT(ran.status().message(), HasSubstr("operator says stop"));
  EXPECT_TRUE(daemon_logged("job " + job + ", device node-a/0: node 'test_hold_cancel': cancelled: "
                            "operator says stop"))
      << daemon_log();
  expect_next_graph_runs();
}

TEST_F(CancelTest, ADrainsDeadlineStopsTheGraphOnTheDaemon) {
  auto result = std::async(std::launch::async, [&] {
    return pool_.client().run(held_graph("test_hold_drain"), {{"x", f32({1, 2})}});
  });
  const bool held = pool_.wait_held("node-a", "test_hold_drain");
  Completed drain;
  if (held) drain = tgctl({"drain", "node-a", "--deadline", "100ms"});
  const bool stopped = held && pool_.wait_stopped("node-a", "test_hold_drain", kStopBound);
  if (!stopped) pool_.release("node-a", "test_hold_drain");
  auto ran = result.get();
  ASSERT_TRUE(held) << "the graph never reached its held kernel: " << ran.status();
  ASSERT_EQ(drain.exit_status, 0) << drain.err;
  EXPECT_THAT(drain.out, HasSubstr("0 job(s) finished, 1 cancelled"));
  EXPECT_TRUE(stopped) << "the daemon was still running the held kernel 1 s after the drain";
  ASSERT_EQ(ran.status().code(), absl::StatusCode::kCancelled) << ran.status();
  EXPECT_TRUE(daemon_logged("node 'test_hold_drain': cancelled: "));
  EXPECT_TRUE(
      daemon_logged("node 'node-a' is being drained and the drain deadline of 100 ms passed"))
      << daemon_log();
  Completed uncordon = tgctl({"uncordon", "node-a"});
  ASSERT_EQ(uncordon.exit_status, 0) << uncordon.err;
  expect_next_graph_runs();
}

}  // namespace
}  // namespace tg::testing
