// Graphs across the pool, daemon side: a controller and two real tgd processes on loopback,
// driven through NodeService directly (RunFragments, PushTensor between daemons, the tensor
// store, CancelJob) as the controller's plan runner drives them, each run under a grant the
// test signs with the controller's key.
#include <absl/strings/match.h>
#include <gtest/gtest.h>

#include <future>

#include "net/grant.h"
#include "pool.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"
#include "test_security.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using Clock = std::chrono::steady_clock;

v1::Tensor f32(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  v1::Tensor t;
  t.set_dtype(v1::DTYPE_F32);
  for (int64_t d : shape) t.add_shape(d);
  t.set_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t;
}

std::vector<float> floats(const v1::Tensor& t) {
  std::vector<float> v(t.data().size() / 4);
  std::memcpy(v.data(), t.data().data(), t.data().size());
  return v;
}

v1::Node* add(v1::Graph& g, const std::string& name, v1::OpKind op,
              std::vector<std::string> inputs = {}) {
  v1::Node* n = g.add_nodes();
  n->set_name(name);
  n->set_op(op);
  for (const std::string& in : inputs) n->add_inputs(in);
  return n;
}

v1::Node* declared(v1::Graph& g, const std::string& name, v1::OpKind op,
                   std::vector<int64_t> shape) {
  v1::Node* n = add(g, name, op);
  n->set_dtype(v1::DTYPE_F32);
  for (int64_t d : shape) n->add_shape(d);
  return n;
}

void set_peer(v1::Node* n, const std::string& key, const std::string& node, uint32_t index,
              const std::string& address = "") {
  n->mutable_transfer()->set_key(key);
  n->mutable_transfer()->mutable_peer()->set_node(node);
  n->mutable_transfer()->mutable_peer()->set_index(index);
  if (!address.empty()) n->mutable_transfer()->set_peer_address(address);
}

class Fragments : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool.start_default().ok());
    // Daemons are driven as the controller drives them, with its certificate.
    use_certificate(net::Role::kController, "controller");
    for (const char* name : {"node-a", "node-b"}) {
      stubs[name] = v1::NodeService::NewStub(make_channel(pool.daemon_address(name), true));
    }
    auto loaded = GrantSigner::load_or_create(pool.grant_key_file());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    signer = std::make_unique<GrantSigner>(*std::move(loaded));
    use_client_certificate();
  }

  // `request` with a grant for its devices on node `name`.
  v1::RunFragmentsRequest granted(const std::string& name, v1::RunFragmentsRequest request) {
    v1::Grant grant;
    grant.set_grant_id("test-grant");
    grant.set_node(name);
    for (const v1::FragmentRun& run : request.runs()) grant.add_device_indices(run.device_index());
    grant.set_plan_id(request.plan_id());
    grant.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + std::chrono::minutes(5)));
    *request.mutable_grant() = signer->sign(grant);
    return request;
  }

  // A grant on node `name` naming no tenant, as the runs' grants: for FetchTensor, CancelJob.
  v1::SignedGrant node_grant(const std::string& name) {
    v1::Grant grant;
    grant.set_grant_id("test-node-grant");
    grant.set_node(name);
    grant.set_expires_unix_ms(unix_ms(std::chrono::system_clock::now() + std::chrono::minutes(5)));
    return signer->sign(grant);
  }

  v1::NodeService::Stub& node(const std::string& name) { return *stubs.at(name); }

  absl::StatusOr<v1::RunFragmentsReply> run(const std::string& name,
                                            const v1::RunFragmentsRequest& request) {
    v1::RunFragmentsReply reply;
    auto context = context_with_deadline(std::chrono::seconds(30));
    grpc::Status status = node(name).RunFragments(context.get(), granted(name, request), &reply);
    if (!status.ok()) return from_grpc(status);
    return reply;
  }

  // A request running `graph` as the fragment of device `index`, with optional bindings.
  static v1::RunFragmentsRequest request(const std::string& job, uint32_t index,
                                         const v1::Graph& graph) {
    v1::RunFragmentsRequest r;
    r.set_job_id(job);
    v1::Fragment* f = r.add_fragments();
    f->set_device_index(index);
    *f->mutable_graph() = graph;
    r.add_runs()->set_device_index(index);
    return r;
  }

  Pool pool;
  std::map<std::string, std::unique_ptr<v1::NodeService::Stub>> stubs;
  std::unique_ptr<GrantSigner> signer;
};

TEST_F(Fragments, SendToAnotherDaemonIsReceivedComputedAndReturned) {
  // node-a/0: y = x * x, sent to node-b/1. node-b/1: z = -received.
  v1::Graph a;
  declared(a, "x", v1::OP_INPUT, {3});
  add(a, "y", v1::OP_MUL, {"x", "x"});
  set_peer(add(a, "s", v1::OP_SEND, {"y"}), "y->z", "node-b", 1, pool.daemon_address("node-b"));
  a.add_outputs("s");
  v1::Graph b;
  set_peer(declared(b, "r", v1::OP_RECV, {3}), "y->z", "node-a", 0);
  add(b, "z", v1::OP_NEG, {"r"});
  b.add_outputs("z");

  v1::RunFragmentsRequest ra = request("job-t", 0, a);
  v1::NamedTensor* feed = ra.mutable_runs(0)->add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({3}, {1, -2, 3});
  // Receiver and sender run at once, in either order: the receiving daemon keeps a value that
  // arrives early, and a receive waits for a late one (the TransferMailbox tests pin each).
  auto receiver =
      std::async(std::launch::async, [&] { return run("node-b", request("job-t", 1, b)); });
  auto sent = run("node-a", ra);
  auto received = receiver.get();
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(received.ok()) << received.status();
  ASSERT_EQ(received->fragments_size(), 1);
  EXPECT_EQ(received->fragments(0).device_index(), 1u);
  ASSERT_EQ(received->fragments(0).outputs_size(), 1);
  EXPECT_EQ(received->fragments(0).outputs(0).name(), "z");
  EXPECT_EQ(floats(received->fragments(0).outputs(0).tensor()), (std::vector<float>{-1, -4, -9}));
  // SEND's output is its input.
  EXPECT_EQ(floats(sent->fragments(0).outputs(0).tensor()), (std::vector<float>{1, 4, 9}));
}

TEST_F(Fragments, AllReduceAndAllGatherAcrossDaemonsOnAControllerCommunicator) {
  auto controller = v1::ControllerService::NewStub(make_channel(pool.controller_address()));
  v1::CreateCommunicatorRequest create;
  for (const char* name : {"node-a", "node-b"}) {
    v1::DeviceRef* ref = create.add_devices();
    ref->set_node(name);
    ref->set_index(0);
  }
  v1::CreateCommunicatorReply created;
  auto context = context_with_deadline(std::chrono::seconds(20));
  grpc::Status status = controller->CreateCommunicator(context.get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string comm = created.spec().comm_id();
  std::map<std::string, uint32_t> rank;
  for (const auto& r : created.spec().ranks()) rank[r.device().node()] = r.rank();

  v1::Graph g;
  declared(g, "x", v1::OP_INPUT, {2});
  v1::Node* ar = add(g, "sum", v1::OP_ALL_REDUCE, {"x"});
  ar->mutable_collective()->set_comm_id(comm);
  ar->mutable_collective()->set_op(v1::REDUCE_OP_SUM);
  v1::Node* ag = add(g, "all", v1::OP_ALL_GATHER, {"x"});
  ag->mutable_collective()->set_comm_id(comm);
  ag->mutable_collective()->set_world_size(2);
  g.add_outputs("sum");
  g.add_outputs("all");
  const std::map<std::string, std::vector<float>> x = {{"node-a", {1, 2}}, {"node-b", {10, 20}}};
  std::map<std::string, std::future<absl::StatusOr<v1::RunFragmentsReply>>> runs;
  for (const auto& [name, values] : x) {
    v1::RunFragmentsRequest r = request("job-ar", 0, g);
    v1::NamedTensor* feed = r.mutable_runs(0)->add_feeds();
    feed->set_name("x");
    *feed->mutable_tensor() = f32({2}, values);
    runs[name] = std::async(std::launch::async, [this, name, r] { return run(name, r); });
  }
  std::vector<float> gathered(4);
  for (const auto& [name, values] : x) {
    std::copy(values.begin(), values.end(), gathered.begin() + 2 * rank[name]);
  }
  for (auto& [name, future] : runs) {
    auto reply = future.get();
    ASSERT_TRUE(reply.ok()) << name << ": " << reply.status();
    const auto& outputs = reply->fragments(0).outputs();
    EXPECT_EQ(floats(outputs[0].tensor()), (std::vector<float>{11, 22})) << name;
    EXPECT_EQ(floats(outputs[1].tensor()), gathered) << name;
  }
}

TEST_F(Fragments, KeptOutputIsStoredFetchedReusedListedAndFreed) {
  v1::Graph g;
  declared(g, "x", v1::OP_INPUT, {2});
  add(g, "y", v1::OP_NEG, {"x"});
  g.add_outputs("y");
  v1::InstallPlanRequest install;
  install.set_plan_id("plan-neg");
  v1::Fragment* f = install.add_fragments();
  f->set_device_index(1);
  *f->mutable_graph() = g;
  v1::InstallPlanReply installed;
  auto context = context_with_deadline(std::chrono::seconds(5));
  ASSERT_TRUE(node("node-a").InstallPlan(context.get(), install, &installed).ok());

  v1::RunFragmentsRequest r;
  r.set_job_id("job-keep");
  r.set_plan_id("plan-neg");
  r.set_session("s1");
  v1::FragmentRun* binding = r.add_runs();
  binding->set_device_index(1);
  v1::NamedTensor* feed = binding->add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({2}, {1.5, -4});
  v1::NamedTensorId* keep = binding->add_keep();
  keep->set_name("y");
  keep->set_tensor_id("t-y");
  auto reply = run("node-a", r);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->fragments(0).outputs_size(), 0);  // Kept, not returned.

  v1::ListTensorsReply list;
  context = context_with_deadline(std::chrono::seconds(5));
  ASSERT_TRUE(node("node-a").ListTensors(context.get(), {}, &list).ok());
  ASSERT_EQ(list.tensors_size(), 1);
  EXPECT_EQ(list.tensors(0).tensor_id(), "t-y");
  EXPECT_EQ(list.tensors(0).device_index(), 1u);
  EXPECT_EQ(list.tensors(0).session(), "s1");
  EXPECT_EQ(list.tensors(0).bytes(), 8u);

  v1::FetchTensorRequest fetch;
  fetch.set_tensor_id("t-y");
  *fetch.mutable_grant() = node_grant("node-a");
  v1::FetchTensorReply fetched;
  context = context_with_deadline(std::chrono::seconds(5));
  ASSERT_TRUE(node("node-a").FetchTensor(context.get(), fetch, &fetched).ok());
  EXPECT_EQ(floats(fetched.tensor()), (std::vector<float>{-1.5, 4}));

  // The stored tensor feeds the next run in place of a value: -(-x) = x.
  v1::RunFragmentsRequest again = r;
  again.set_job_id("job-keep-2");
  again.mutable_runs(0)->clear_feeds();
  again.mutable_runs(0)->clear_keep();
  v1::NamedTensorId* input = again.mutable_runs(0)->add_inputs();
  input->set_name("x");
  input->set_tensor_id("t-y");
  reply = run("node-a", again);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(floats(reply->fragments(0).outputs(0).tensor()), (std::vector<float>{1.5, -4}));

  v1::FreeTensorsRequest free;
  free.set_session("s1");
  v1::FreeTensorsReply freed;
  context = context_with_deadline(std::chrono::seconds(5));
  ASSERT_TRUE(node("node-a").FreeTensors(context.get(), free, &freed).ok());
  EXPECT_EQ(freed.freed(), 1u);
  context = context_with_deadline(std::chrono::seconds(5));
  grpc::Status gone = node("node-a").FetchTensor(context.get(), fetch, &fetched);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(gone.error_message(), "node node-a holds no tensor 't-y'");
}

TEST_F(Fragments, ReceiveWithNothingSentFailsAtTheTimeoutNamingKeyAndSender) {
  v1::Graph g;
  set_peer(declared(g, "r", v1::OP_RECV, {2}), "never", "node-a", 1);
  g.add_outputs("r");
  v1::RunFragmentsRequest r = request("job-silent", 0, g);
  r.set_timeout_ms(300);
  const auto start = Clock::now();
  auto reply = run("node-b", r);
  const auto took = Clock::now() - start;
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_EQ(reply.status().message(),
            "job job-silent, device node-b/0: node 'r': transfer 'never' of job job-silent from "
            "node-a/1: nothing arrived within 300 ms");
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(3));
}

// The daemons of Fragments with node-b holding "test_hold..." kernels until released
// (daemon/test_hold.h).
class HeldFragments : public Fragments {
 protected:
  void SetUp() override {
    pool.hold_kernels_on("node-b");
    Fragments::SetUp();
  }
};

// A run held mid-graph is registered under its job, so CancelJob finds it; the held kernel
// sees the cancel, and the run stops there, before its next node (a receive that would wait
// 20 s), with the reason. (A receive already waiting wakes on the cancel too:
// transfer_mailbox_test.)
TEST_F(HeldFragments, CancelJobStopsARunningRunWithTheReason) {
  v1::Graph g;
  declared(g, "x", v1::OP_INPUT, {2});
  add(g, "test_hold_run", v1::OP_NEG, {"x"});
  set_peer(declared(g, "r", v1::OP_RECV, {2}), "later", "node-a", 0);
  add(g, "y", v1::OP_ADD, {"test_hold_run", "r"});
  g.add_outputs("y");
  v1::RunFragmentsRequest r = request("job-cancel", 1, g);
  v1::NamedTensor* feed = r.mutable_runs(0)->add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({2}, {1, 2});
  r.set_timeout_ms(20000);
  auto running = std::async(std::launch::async, [&] { return run("node-b", r); });
  const bool held = pool.wait_held("node-b", "test_hold_run");
  v1::CancelJobRequest cancel;
  cancel.set_job_id("job-cancel");
  cancel.set_reason("drain of node-b");
  *cancel.mutable_grant() = node_grant("node-b");
  v1::CancelJobReply cancelled;
  auto context = context_with_deadline(std::chrono::seconds(5));
  const grpc::Status sent = node("node-b").CancelJob(context.get(), cancel, &cancelled);
  pool.release("node-b", "test_hold_run");
  auto reply = running.get();
  ASSERT_TRUE(held) << "the run never reached its held kernel: " << reply.status();
  ASSERT_TRUE(sent.ok()) << sent.error_message();
  EXPECT_TRUE(cancelled.found());
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kCancelled) << reply.status();
  EXPECT_EQ(reply.status().message(),
            "job job-cancel, device node-b/1: node 'test_hold_run': cancelled: drain of node-b");
}

TEST_F(Fragments, OneFailingFragmentCancelsItsSiblingsAndIsTheErrorReported) {
  // node-a/0 waits for a value that never comes; node-a/1 fails at once on an unknown
  // communicator. The run ends with node-a/1's error, long before the receive's timeout.
  v1::Graph waits;
  set_peer(declared(waits, "r", v1::OP_RECV, {2}), "never", "node-b", 0);
  waits.add_outputs("r");
  v1::Graph fails;
  declared(fails, "x", v1::OP_INPUT, {2});
  v1::Node* ar = add(fails, "ar", v1::OP_ALL_REDUCE, {"x"});
  ar->mutable_collective()->set_comm_id("no-such-comm");
  ar->mutable_collective()->set_op(v1::REDUCE_OP_SUM);
  fails.add_outputs("ar");
  v1::RunFragmentsRequest r = request("job-two", 0, waits);
  v1::Fragment* second = r.add_fragments();
  second->set_device_index(1);
  *second->mutable_graph() = fails;
  v1::FragmentRun* binding = r.add_runs();
  binding->set_device_index(1);
  v1::NamedTensor* feed = binding->add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({2}, {1, 2});
  r.set_timeout_ms(20000);
  const auto start = Clock::now();
  auto reply = run("node-a", r);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(reply.status().code(), absl::StatusCode::kNotFound) << reply.status();
  EXPECT_EQ(reply.status().message(),
            "job job-two, device node-a/1: node 'ar': no communicator no-such-comm on node node-a "
            "(asked for device node-a/1)");
}

TEST_F(Fragments, StoredTensorOfAResetDeviceIsLost) {
  v1::Graph g;
  declared(g, "x", v1::OP_INPUT, {2});
  g.add_outputs("x");
  v1::RunFragmentsRequest r = request("job-store", 1, g);
  r.set_session("s");
  v1::NamedTensor* feed = r.mutable_runs(0)->add_feeds();
  feed->set_name("x");
  *feed->mutable_tensor() = f32({2}, {1, 2});
  v1::NamedTensorId* keep = r.mutable_runs(0)->add_keep();
  keep->set_name("x");
  keep->set_tensor_id("t-x");
  ASSERT_TRUE(run("node-a", r).ok());
  v1::ResetDevicesRequest reset;
  reset.add_device_indices(1);
  reset.set_reason("test");
  v1::ResetDevicesReply reset_reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  grpc::Status status = node("node-a").ResetDevices(context.get(), reset, &reset_reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::FetchTensorRequest fetch;
  fetch.set_tensor_id("t-x");
  *fetch.mutable_grant() = node_grant("node-a");
  v1::FetchTensorReply fetched;
  context = context_with_deadline(std::chrono::seconds(5));
  status = node("node-a").FetchTensor(context.get(), fetch, &fetched);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "tensor 't-x' was lost: device node-a/1 was reset");
}

}  // namespace
}  // namespace tg::testing
