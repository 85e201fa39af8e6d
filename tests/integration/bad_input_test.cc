// The bad-input catalogue: hostile requests of every class sent to a real controller and
// real daemons. Each case checks the answer (a status code and fragments of the message that
// name the culprit, or what a raw port does with the bytes), then that every process still
// runs and the pool still computes right. Cases share one pool; a case that takes a process
// down fails, and the next case starts a fresh pool.
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bad_input_pool.h"
#include "net/rpc.h"
#include "tests/ops/http_get.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

// ---- Graph builders ----------------------------------------------------------------------

v1::Node& add(v1::Graph& g, const std::string& name, v1::OpKind op,
              std::vector<std::string> inputs = {}) {
  v1::Node* node = g.add_nodes();
  node->set_name(name);
  node->set_op(op);
  for (const std::string& in : inputs) node->add_inputs(in);
  return *node;
}

v1::Node& input(v1::Graph& g, const std::string& name, v1::DType dtype, std::vector<int64_t> shape) {
  v1::Node& node = add(g, name, v1::OP_INPUT);
  node.set_dtype(dtype);
  for (int64_t d : shape) node.add_shape(d);
  return node;
}

v1::NamedTensor feed(const std::string& name, v1::DType dtype, std::vector<int64_t> shape,
                     size_t bytes) {
  v1::NamedTensor tensor;
  tensor.set_name(name);
  tensor.mutable_tensor()->set_dtype(dtype);
  for (int64_t d : shape) tensor.mutable_tensor()->add_shape(d);
  tensor.mutable_tensor()->set_data(std::string(bytes, '\0'));
  return tensor;
}

// pad(x) with x: f32[0, 2^62 + 2^61] and 2^61 - 1 elements on each side of dim 1: each pad
// is moderate, the output dim overflows; x has no elements.
constexpr int64_t kPadDim = (int64_t{1} << 62) + (int64_t{1} << 61);
v1::Graph pad_overflow() {
  v1::Graph g;
  input(g, "x", v1::DTYPE_F32, {0, kPadDim});
  v1::Node& pad = add(g, "p", v1::OP_PAD, {"x"});
  for (int64_t side : {int64_t{0}, (int64_t{1} << 61) - 1}) {
    pad.add_pad_before(side);
    pad.add_pad_after(side);
  }
  g.add_outputs("p");
  return g;
}

// concat(x, x) along a dim of 2^62: the sum 2^63 overflows; x has no elements.
v1::Graph concat_overflow() {
  v1::Graph g;
  input(g, "x", v1::DTYPE_BOOL, {0, int64_t{1} << 62});
  add(g, "c", v1::OP_CONCAT, {"x", "x"}).set_axis(1);
  g.add_outputs("c");
  return g;
}

// One input x of `shape` and relu(x) as the output.
v1::Graph relu_of(v1::DType dtype, std::vector<int64_t> shape) {
  v1::Graph g;
  input(g, "x", dtype, shape);
  add(g, "y", v1::OP_RELU, {"x"});
  g.add_outputs("y");
  return g;
}

// ---- Requests ----------------------------------------------------------------------------

struct RpcCase {
  std::string name;
  std::function<grpc::Status(HostilePool&)> send;
  grpc::StatusCode code;
  std::vector<std::string> fragments;  // Each must appear in the message.
};

std::ostream& operator<<(std::ostream& out, const RpcCase& c) { return out << c.name; }

template <class Request, class Reply>
grpc::Status to_controller(HostilePool& p,
                           grpc::Status (v1::ControllerService::Stub::*method)(
                               grpc::ClientContext*, const Request&, Reply*),
                           const Request& request) {
  auto context = context_with_deadline(60s);
  Reply reply;
  grpc::Status status = (p.controller().*method)(context.get(), request, &reply);
  if (status.ok() && reply.ByteSizeLong() == 0 && std::is_same_v<Reply, v1::SubmitReply>) {
    return grpc::Status(grpc::StatusCode::OK, "an empty success");
  }
  return status;
}

template <class Request, class Reply>
grpc::Status to_daemon(HostilePool& p,
                       grpc::Status (v1::NodeService::Stub::*method)(grpc::ClientContext*,
                                                                     const Request&, Reply*),
                       const Request& request) {
  auto context = context_with_deadline(60s);
  Reply reply;
  return (p.daemon().*method)(context.get(), request, &reply);
}

grpc::Status submit(HostilePool& p, v1::SubmitRequest request) {
  return to_controller(p, &v1::ControllerService::Stub::Submit, request);
}
grpc::Status submit(HostilePool& p, v1::Graph graph, std::vector<v1::NamedTensor> feeds = {}) {
  v1::SubmitRequest request;
  *request.mutable_graph() = std::move(graph);
  for (v1::NamedTensor& f : feeds) *request.add_feeds() = std::move(f);
  return submit(p, std::move(request));
}
// `graph` as one inline fragment on node-a's `device`, under a grant for it.
grpc::Status run_graph(HostilePool& p, v1::Graph graph, std::vector<v1::NamedTensor> feeds = {},
                       uint32_t device = 0) {
  v1::RunFragmentsRequest request;
  request.set_job_id("job-hostile");
  v1::Fragment* fragment = request.add_fragments();
  fragment->set_device_index(device);
  *fragment->mutable_graph() = std::move(graph);
  v1::FragmentRun* run = request.add_runs();
  run->set_device_index(device);
  for (v1::NamedTensor& f : feeds) *run->add_feeds() = std::move(f);
  *request.mutable_grant() = p.grant({device});
  return to_daemon(p, &v1::NodeService::Stub::RunFragments, request);
}

// A call as the holder of `token`.
template <class Request, class Reply>
grpc::Status as_token(HostilePool& p, const std::string& token,
                      grpc::Status (v1::ControllerService::Stub::*method)(grpc::ClientContext*,
                                                                          const Request&, Reply*),
                      const Request& request) {
  auto context = context_with_deadline(60s);
  Reply reply;
  return ((*p.controller_as(token)).*method)(context.get(), request, &reply);
}

// A new tenant's token (the admin makes it); "" when it cannot be made.
std::string tenant_token(HostilePool& p, const std::string& name) {
  v1::CreateTenantRequest request;
  request.set_name(name);
  v1::CreateTenantReply reply;
  auto context = context_with_deadline(60s);
  if (!p.controller().CreateTenant(context.get(), request, &reply).ok()) return "";
  return reply.token();
}

// A collective of `count` elements over a new communicator of the pool's four devices.
grpc::Status run_collective(HostilePool& p, v1::DType dtype, uint64_t count) {
  auto comm = p.create_communicator();
  if (!comm.ok()) return to_grpc(comm.status());
  v1::RunCollectiveRequest request;
  request.set_comm_id(*comm);
  request.set_kind(v1::COLLECTIVE_ALL_REDUCE);
  request.set_dtype(dtype);
  request.set_op(v1::REDUCE_OP_SUM);
  request.set_count(count);
  return to_controller(p, &v1::ControllerService::Stub::RunCollective, request);
}

v1::DeviceRef device(const std::string& node, uint32_t index) {
  v1::DeviceRef ref;
  ref.set_node(node);
  ref.set_index(index);
  return ref;
}

const std::vector<RpcCase>& rpc_cases() {
  using C = v1::ControllerService::Stub;
  using N = v1::NodeService::Stub;
  using grpc::StatusCode;
  static const std::vector<RpcCase> cases = {
      // Sizes and shapes that overflow, or are negative, or larger than anything can hold.
      {"SubmitPadOutputOverflows", [](auto& p) { return submit(p, pad_overflow(), {feed("x", v1::DTYPE_F32, {0, kPadDim}, 0)}); },
       StatusCode::INVALID_ARGUMENT, {"'p'"}},
      {"DaemonRunPadOutputOverflows", [](auto& p) { return run_graph(p, pad_overflow(), {feed("x", v1::DTYPE_F32, {0, kPadDim}, 0)}); },
       StatusCode::INVALID_ARGUMENT, {"'p'"}},
      {"SubmitConcatOutputOverflows", [](auto& p) { return submit(p, concat_overflow(), {feed("x", v1::DTYPE_BOOL, {0, int64_t{1} << 62}, 0)}); },
       StatusCode::INVALID_ARGUMENT, {"'c'"}},
      {"DaemonRunConcatOutputOverflows", [](auto& p) { return run_graph(p, concat_overflow(), {feed("x", v1::DTYPE_BOOL, {0, int64_t{1} << 62}, 0)}); },
       StatusCode::INVALID_ARGUMENT, {"'c'"}},
      {"SubmitNegativeDim", [](auto& p) { return submit(p, relu_of(v1::DTYPE_F32, {-3, 2})); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "-3"}},
      {"SubmitElementCountOverflows", [](auto& p) { return submit(p, relu_of(v1::DTYPE_F32, {int64_t{1} << 40, int64_t{1} << 40})); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "1099511627776"}},
      {"DaemonRunElementCountOverflows", [](auto& p) { return run_graph(p, relu_of(v1::DTYPE_F32, {int64_t{1} << 40, int64_t{1} << 40})); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "1099511627776"}},
      {"SubmitExpandOverflows", [](auto& p) {
         v1::Graph g;
         input(g, "x", v1::DTYPE_F32, {1});
         v1::Node& e = add(g, "e", v1::OP_EXPAND, {"x"});
         for (int i = 0; i < 3; ++i) e.add_shape(int64_t{1} << 32);
         g.add_outputs("e");
         return submit(p, g, {feed("x", v1::DTYPE_F32, {1}, 4)}); },
       StatusCode::INVALID_ARGUMENT, {"'e'", "4294967296"}},
      {"SubmitReshapeTargetOverflows", [](auto& p) {
         v1::Graph g;
         input(g, "x", v1::DTYPE_F32, {0});
         v1::Node& r = add(g, "r", v1::OP_RESHAPE, {"x"});
         for (int64_t d : {int64_t{1} << 62, int64_t{8}, int64_t{0}}) r.add_shape(d);
         g.add_outputs("r");
         return submit(p, g, {feed("x", v1::DTYPE_F32, {0}, 0)}); },
       StatusCode::INVALID_ARGUMENT, {"'r'", "4611686018427387904"}},
      {"RunCollectiveByteCountOverflowsF32", [](auto& p) { return run_collective(p, v1::DTYPE_F32, uint64_t{1} << 62); },
       StatusCode::INVALID_ARGUMENT, {"count", "4611686018427387904"}},
      {"RunCollectiveByteCountWrapsToZeroF64", [](auto& p) { return run_collective(p, v1::DTYPE_F64, uint64_t{1} << 61); },
       StatusCode::INVALID_ARGUMENT, {"count", "2305843009213693952"}},
      {"RunCollectiveLargerThanDeviceMemory", [](auto& p) { return run_collective(p, v1::DTYPE_F32, uint64_t{1} << 40); },
       StatusCode::RESOURCE_EXHAUSTED, {"4.0 TiB"}},
      // A reply over the message limit (18 outputs of 60 MiB): an error, never an empty success.
      {"SubmitReplyOverMessageLimit", [](auto& p) {
         v1::Graph g;
         input(g, "x", v1::DTYPE_F32, {1});
         add(g, "big", v1::OP_EXPAND, {"x"}).add_shape(15 << 20);
         for (int i = 0; i < 18; ++i) g.add_outputs("big");
         return submit(p, g, {feed("x", v1::DTYPE_F32, {1}, 4)}); },
       StatusCode::RESOURCE_EXHAUSTED, {"67108864", "remote"}},
      // Unknown ops and dtypes, feeds that do not fit.
      {"SubmitUnknownOp", [](auto& p) {
         v1::Graph g = relu_of(v1::DTYPE_F32, {2});
         g.mutable_nodes(1)->set_op(static_cast<v1::OpKind>(999));
         return submit(p, g, {feed("x", v1::DTYPE_F32, {2}, 8)}); },
       StatusCode::INVALID_ARGUMENT, {"'y'", "999"}},
      {"DaemonRunUnknownOp", [](auto& p) {
         v1::Graph g = relu_of(v1::DTYPE_F32, {2});
         g.mutable_nodes(1)->set_op(static_cast<v1::OpKind>(999));
         return run_graph(p, g, {feed("x", v1::DTYPE_F32, {2}, 8)}); },
       StatusCode::INVALID_ARGUMENT, {"'y'", "999"}},
      {"SubmitUnknownDtype", [](auto& p) { return submit(p, relu_of(static_cast<v1::DType>(42), {2})); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "dtype"}},
      {"SubmitFeedOfWrongByteSize", [](auto& p) { return submit(p, relu_of(v1::DTYPE_F32, {2}), {feed("x", v1::DTYPE_F32, {2}, 5)}); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "5"}},
      {"DaemonRunFeedOfWrongByteSize", [](auto& p) { return run_graph(p, relu_of(v1::DTYPE_F32, {2}), {feed("x", v1::DTYPE_F32, {2}, 5)}); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "5"}},
      {"SubmitFeedOfWrongShape", [](auto& p) { return submit(p, relu_of(v1::DTYPE_F32, {2}), {feed("x", v1::DTYPE_F32, {3}, 12)}); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "[3]"}},
      {"SubmitMissingFeed", [](auto& p) { return submit(p, relu_of(v1::DTYPE_F32, {2})); },
       StatusCode::INVALID_ARGUMENT, {"'x'", "not fed"}},
      {"PushTensorOfWrongByteSize", [](auto& p) {
         v1::PushTensorRequest request;
         request.set_job_id("job-x");
         request.set_key("edge");
         *request.mutable_to() = device("node-a", 0);
         *request.mutable_tensor() = feed("t", v1::DTYPE_F32, {4}, 3).tensor();
         return to_daemon(p, &N::PushTensor, request); },
       StatusCode::INVALID_ARGUMENT, {"edge", "3"}},
      // A graph with no nodes, captured: nothing to run, and nothing to crash on.
      {"SubmitEmptyGraphCaptured", [](auto& p) {
         v1::SubmitRequest request;
         request.set_capture(true);
         return submit(p, request); },
       StatusCode::OK, {}},
      // Unknown devices, nodes, jobs, sessions, plans, tensors and communicators.
      {"SubmitOnUnknownNode", [](auto& p) {
         v1::SubmitRequest request;
         *request.mutable_graph() = relu_of(v1::DTYPE_F32, {2});
         *request.add_feeds() = feed("x", v1::DTYPE_F32, {2}, 8);
         request.mutable_placement()->set_node("node-z");
         return submit(p, request); },
       StatusCode::NOT_FOUND, {"node-z"}},
      {"SubmitOnUnknownDevice", [](auto& p) {
         v1::SubmitRequest request;
         *request.mutable_graph() = relu_of(v1::DTYPE_F32, {2});
         *request.add_feeds() = feed("x", v1::DTYPE_F32, {2}, 8);
         *request.mutable_placement()->mutable_device() = device("node-a", 9);
         return submit(p, request); },
       StatusCode::NOT_FOUND, {"node-a", "9"}},
      {"DaemonRunOnUnknownDevice", [](auto& p) { return run_graph(p, relu_of(v1::DTYPE_F32, {2}), {feed("x", v1::DTYPE_F32, {2}, 8)}, 7); },
       StatusCode::INVALID_ARGUMENT, {"node-a/7", "has 2 devices"}},
      {"ReplayUnknownPlan", [](auto& p) {
         v1::SubmitRequest request;
         request.set_plan_id("no-such-plan");
         return submit(p, request); },
       StatusCode::NOT_FOUND, {"no-such-plan"}},
      {"KeepInUnknownSession", [](auto& p) {
         v1::SubmitRequest request;
         *request.mutable_graph() = relu_of(v1::DTYPE_F32, {2});
         *request.add_feeds() = feed("x", v1::DTYPE_F32, {2}, 8);
         request.set_session("no-such-session");
         request.add_keep("y");
         return submit(p, request); },
       StatusCode::NOT_FOUND, {"no-such-session"}},
      {"RenewUnknownSession", [](auto& p) {
         v1::RenewSessionRequest request;
         request.set_session("no-such-session");
         return to_controller(p, &C::RenewSession, request); },
       StatusCode::NOT_FOUND, {"no-such-session"}},
      {"CancelUnknownJob", [](auto& p) {
         v1::CancelJobRequest request;
         request.set_job_id("no-such-job");
         return to_controller(p, &C::CancelJob, request); },
       StatusCode::NOT_FOUND, {"no-such-job"}},
      {"CordonUnknownNode", [](auto& p) {
         v1::CordonNodeRequest request;
         request.set_node("node-z");
         return to_controller(p, &C::CordonNode, request); },
       StatusCode::NOT_FOUND, {"node-z"}},
      {"DrainUnknownNode", [](auto& p) {
         v1::DrainNodeRequest request;
         request.set_node("node-z");
         request.set_deadline_ms(100);
         return to_controller(p, &C::DrainNode, request); },
       StatusCode::NOT_FOUND, {"node-z"}},
      {"ResetUnknownDevice", [](auto& p) {
         v1::ResetDeviceRequest request;
         *request.mutable_device() = device("node-a", 9);
         return to_controller(p, &C::ResetDevice, request); },
       StatusCode::NOT_FOUND, {"node-a", "9"}},
      {"DaemonResetsUnknownDevice", [](auto& p) {
         v1::ResetDevicesRequest request;
         request.add_device_indices(9);
         return to_daemon(p, &N::ResetDevices, request); },
       StatusCode::NOT_FOUND, {"9"}},
      {"FreeUnknownTensor", [](auto& p) {
         v1::FreeTensorsRequest request;
         request.add_tensor_ids("no-such-tensor");
         return to_controller(p, &C::FreeTensors, request); },
       StatusCode::NOT_FOUND, {"no-such-tensor"}},
      {"FetchUnknownTensor", [](auto& p) {
         v1::FetchTensorRequest request;
         request.set_tensor_id("no-such-tensor");
         *request.mutable_grant() = p.grant({});
         return to_daemon(p, &N::FetchTensor, request); },
       StatusCode::NOT_FOUND, {"node-a", "no-such-tensor"}},
      {"FetchTensorWithoutAGrant", [](auto& p) {
         v1::FetchTensorRequest request;
         request.set_tensor_id("no-such-tensor");
         return to_daemon(p, &N::FetchTensor, request); },
       StatusCode::UNAUTHENTICATED, {"FetchTensor on node 'node-a'", "no grant"}},
      {"FetchTensorWithAGarbledGrant", [](auto& p) {
         v1::FetchTensorRequest request;
         request.set_tensor_id("no-such-tensor");
         request.mutable_grant()->set_grant(std::string(100, '\xff'));
         request.mutable_grant()->set_signature(std::string(64, 'x'));
         return to_daemon(p, &N::FetchTensor, request); },
       StatusCode::UNAUTHENTICATED, {"FetchTensor", "does not verify"}},
      {"FetchTensorWithAnExpiredGrant", [](auto& p) {
         v1::FetchTensorRequest request;
         request.set_tensor_id("no-such-tensor");
         *request.mutable_grant() = p.grant({}, "", -std::chrono::seconds(1));
         return to_daemon(p, &N::FetchTensor, request); },
       StatusCode::UNAUTHENTICATED, {"FetchTensor", "g-hostile expired"}},
      {"FetchTensorWithAnotherNodesGrant", [](auto& p) {
         v1::FetchTensorRequest request;
         request.set_tensor_id("no-such-tensor");
         *request.mutable_grant() = p.grant({}, "", std::chrono::minutes(5), "node-b");
         return to_daemon(p, &N::FetchTensor, request); },
       StatusCode::PERMISSION_DENIED, {"FetchTensor", "for node 'node-b', not 'node-a'"}},
      {"DaemonCancelsUnknownJob", [](auto& p) {
         v1::CancelJobRequest request;
         request.set_job_id("no-such-job");
         *request.mutable_grant() = p.grant({});
         return to_daemon(p, &N::CancelJob, request); },
       StatusCode::NOT_FOUND, {"node node-a runs no job 'no-such-job'"}},
      {"DaemonCancelJobWithoutAGrant", [](auto& p) {
         v1::CancelJobRequest request;
         request.set_job_id("no-such-job");
         return to_daemon(p, &N::CancelJob, request); },
       StatusCode::UNAUTHENTICATED, {"CancelJob on node 'node-a'", "no grant"}},
      {"DaemonCancelJobWithAnExpiredGrant", [](auto& p) {
         v1::CancelJobRequest request;
         request.set_job_id("no-such-job");
         *request.mutable_grant() = p.grant({}, "", -std::chrono::seconds(1));
         return to_daemon(p, &N::CancelJob, request); },
       StatusCode::UNAUTHENTICATED, {"CancelJob", "g-hostile expired"}},
      {"RunFragmentsOfUnknownPlan", [](auto& p) {
         v1::RunFragmentsRequest request;
         request.set_job_id("job-x");
         request.set_plan_id("no-such-plan");
         *request.mutable_grant() = p.grant({}, "no-such-plan");
         return to_daemon(p, &N::RunFragments, request); },
       StatusCode::NOT_FOUND, {"no-such-plan"}},
      {"RunFragmentsWithoutAGrant", [](auto& p) {
         v1::RunFragmentsRequest request;
         request.set_job_id("job-x");
         request.add_runs()->set_device_index(0);
         return to_daemon(p, &N::RunFragments, request); },
       StatusCode::UNAUTHENTICATED, {"node-a", "no grant"}},
      {"RunFragmentsWithAGarbledGrant", [](auto& p) {
         v1::RunFragmentsRequest request;
         request.set_job_id("job-x");
         request.add_runs()->set_device_index(0);
         request.mutable_grant()->set_grant(std::string(100, '\xff'));
         request.mutable_grant()->set_signature(std::string(7, 'x'));
         return to_daemon(p, &N::RunFragments, request); },
       StatusCode::UNAUTHENTICATED, {"node-a", "does not verify"}},
      {"HeartbeatReportsNanDeviceSeconds", [](auto& p) {
         v1::HeartbeatRequest request;
         request.set_node_name("node-a");
         v1::JobInfo* job = request.add_finished_jobs();
         job->set_job_id("job-hostile");
         job->mutable_usage()->set_device_seconds(std::numeric_limits<double>::quiet_NaN());
         auto context = context_with_deadline(60s);
         v1::HeartbeatReply reply;
         return p.controller_as_node().Heartbeat(context.get(), request, &reply); },
       StatusCode::INVALID_ARGUMENT, {"node 'node-a'", "job 'job-hostile'", "usage.device_seconds"}},
      {"HeartbeatReportsNegativeDeviceSeconds", [](auto& p) {
         v1::HeartbeatRequest request;
         request.set_node_name("node-a");
         v1::JobInfo* job = request.add_running_jobs();
         job->set_job_id("job-backwards");
         job->mutable_usage()->set_device_seconds(-1);
         auto context = context_with_deadline(60s);
         v1::HeartbeatReply reply;
         return p.controller_as_node().Heartbeat(context.get(), request, &reply); },
       StatusCode::INVALID_ARGUMENT, {"job 'job-backwards'", "-1", ">= 0"}},
      {"RunCollectiveOnUnknownCommunicator", [](auto& p) {
         v1::RunCollectiveRequest request;
         request.set_comm_id("no-such-comm");
         request.set_kind(v1::COLLECTIVE_ALL_REDUCE);
         request.set_dtype(v1::DTYPE_F32);
         request.set_op(v1::REDUCE_OP_SUM);
         request.set_count(4);
         return to_controller(p, &C::RunCollective, request); },
       StatusCode::NOT_FOUND, {"no-such-comm"}},
      {"DaemonRunsCollectiveOnUnknownCommunicator", [](auto& p) {
         v1::RunCollectiveRequest request;
         request.set_comm_id("no-such-comm");
         request.set_kind(v1::COLLECTIVE_ALL_REDUCE);
         request.set_dtype(v1::DTYPE_F32);
         request.set_count(4);
         return to_daemon(p, &N::RunCollective, request); },
       StatusCode::NOT_FOUND, {"no-such-comm"}},
      // Tokens: none, malformed, forged, revoked, a tenant's on admin methods, other tenants'
      // ids, and tenant and quota values past their limits.
      {"ControllerCallWithoutAToken", [](auto& p) {
         return as_token(p, "", &C::ListJobs, v1::ListJobsRequest()); },
       StatusCode::UNAUTHENTICATED, {"ListJobs needs a bearer token"}},
      {"TopWithoutAToken", [](auto& p) {
         return as_token(p, "", &C::GetPoolKernelStats, v1::GetPoolKernelStatsRequest()); },
       StatusCode::UNAUTHENTICATED, {"GetPoolKernelStats needs a bearer token"}},
      {"ControllerCallWithAMalformedToken", [](auto& p) {
         return as_token(p, "tgr_short", &C::ListNodes, v1::ListNodesRequest()); },
       StatusCode::UNAUTHENTICATED, {"malformed"}},
      {"ControllerCallWithAForgedToken", [](auto& p) {
         const std::string forged = "tgr_0123456789abcdef_" + std::string(32, 'f');
         return as_token(p, forged, &C::ListNodes, v1::ListNodesRequest()); },
       StatusCode::UNAUTHENTICATED, {"unknown or forged"}},
      {"ControllerCallWithARevokedToken", [](auto& p) {
         const std::string token = tenant_token(p, "revoked-one");
         v1::RevokeTokenRequest revoke;
         revoke.set_token_id(token.substr(4, 16));
         if (grpc::Status s = to_controller(p, &C::RevokeToken, revoke); !s.ok()) return s;
         return as_token(p, token, &C::ListSessions, v1::ListSessionsRequest()); },
       StatusCode::UNAUTHENTICATED, {"was revoked"}},
      {"TenantCordonsANode", [](auto& p) {
         v1::CordonNodeRequest request;
         request.set_node("node-a");
         return as_token(p, tenant_token(p, "cordoner"), &C::CordonNode, request); },
       StatusCode::PERMISSION_DENIED, {"CordonNode needs role admin", "tenant 'cordoner'"}},
      {"TenantCreatesATenant", [](auto& p) {
         v1::CreateTenantRequest request;
         request.set_name("usurper");
         return as_token(p, tenant_token(p, "creator"), &C::CreateTenant, request); },
       StatusCode::PERMISSION_DENIED, {"CreateTenant needs role admin"}},
      {"TenantRenewsAnotherTenantsSession", [](auto& p) {
         v1::OpenSessionReply opened;
         auto context = context_with_deadline(60s);
         v1::OpenSessionRequest open;
         grpc::Status s = p.controller_as(tenant_token(p, "owner"))->OpenSession(context.get(), open, &opened);
         if (!s.ok()) return s;
         v1::RenewSessionRequest renew;
         renew.set_session(opened.session());
         return as_token(p, tenant_token(p, "neighbour"), &C::RenewSession, renew); },
       StatusCode::NOT_FOUND, {"is unknown or its lease ran out"}},
      {"CreateTenantWithABadName", [](auto& p) {
         v1::CreateTenantRequest request;
         request.set_name("Robert'); DROP TABLE kv;--");
         return to_controller(p, &C::CreateTenant, request); },
       StatusCode::INVALID_ARGUMENT, {"DROP TABLE", "must match"}},
      {"CreateTenantTwice", [](auto& p) {
         tenant_token(p, "twice");
         v1::CreateTenantRequest request;
         request.set_name("twice");
         return to_controller(p, &C::CreateTenant, request); },
       StatusCode::ALREADY_EXISTS, {"'twice'"}},
      {"RevokeAnUnknownToken", [](auto& p) {
         v1::RevokeTokenRequest request;
         request.set_token_id("no-such-token");
         return to_controller(p, &C::RevokeToken, request); },
       StatusCode::NOT_FOUND, {"no-such-token"}},
      {"SetQuotaOfAnUnknownTenant", [](auto& p) {
         v1::SetQuotaRequest request;
         request.set_tenant("nobody");
         request.mutable_quota()->set_devices(UINT32_MAX);
         return to_controller(p, &C::SetQuota, request); },
       StatusCode::NOT_FOUND, {"nobody"}},
      {"UsageByAnUnknownSplit", [](auto& p) {
         v1::GetUsageRequest request;
         request.set_by("week");
         return to_controller(p, &C::GetUsage, request); },
       StatusCode::INVALID_ARGUMENT, {"week"}},
      {"SubmitPastADeviceMemoryQuota", [](auto& p) {
         const std::string token = tenant_token(p, "memory-one");
         v1::SetQuotaRequest quota;
         quota.set_tenant("memory-one");
         quota.mutable_quota()->set_device_memory_bytes(1);
         if (grpc::Status s = to_controller(p, &C::SetQuota, quota); !s.ok()) return s;
         v1::OpenSessionReply opened;
         auto context = context_with_deadline(60s);
         grpc::Status s = p.controller_as(token)->OpenSession(context.get(), {}, &opened);
         if (!s.ok()) return s;
         v1::SubmitRequest keep;
         *keep.mutable_graph() = relu_of(v1::DTYPE_F32, {2});
         *keep.add_feeds() = feed("x", v1::DTYPE_F32, {2}, 8);
         keep.set_session(opened.session());
         keep.add_keep("y");
         if (s = as_token(p, token, &C::Submit, keep); !s.ok()) return s;
         return as_token(p, token, &C::Submit, keep); },
       StatusCode::RESOURCE_EXHAUSTED, {"quota device-memory of tenant 'memory-one'", "limit 1"}},
  };
  return cases;
}

class BadRequest : public ::testing::TestWithParam<RpcCase> {};

TEST_P(BadRequest, IsRefusedNamingTheCulpritAndHarmsNothing) {
  HostilePool& p = shared_hostile_pool();
  const RpcCase& c = GetParam();
  const grpc::Status status = c.send(p);
  EXPECT_EQ(status.error_code(), c.code) << status.error_message();
  for (const std::string& fragment : c.fragments) {
    EXPECT_THAT(status.error_message(), HasSubstr(fragment));
  }
  absl::Status unharmed = p.unharmed();
  EXPECT_TRUE(unharmed.ok()) << unharmed;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadRequest, ::testing::ValuesIn(rpc_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tg::testing
