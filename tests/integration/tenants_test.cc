// Tenants through real processes: what one tenant made, another can neither list nor touch
// (through the controller or directly on a daemon, where it answers as for a name that does
// not exist); a revoked token is refused within 5 s on the controller and on the daemons; a
// tenant cannot cordon, drain, reset or manage tenants; quotas refuse naming the quota, its
// limit and its use, before anything runs.
#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "client/session.h"
#include "net/grant.h"
#include "expect_status.h"
#include "tenant_pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using tgrack::v1::DTYPE_F32;

// y = x * 2 + 1 over f32[2].
v1::Graph affine() {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2});
  g.output(add(mul(x, g.scalar(2)), g.scalar(1)), "y");
  return *g.build();
}

std::map<std::string, HostTensor> two_floats() {
  HostTensor x(TensorType{DTYPE_F32, {2}});
  x.values<float>()[0] = 1;
  x.values<float>()[1] = -3;
  return {{"x", std::move(x)}};
}

class Tenants : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_.hold_kernels_on("node-a");  // Only graphs with "test_hold..." nodes wait there.
    ASSERT_OK_POOL(pool_.start_default());
    for (const char* name : {"team-a", "team-b"}) {
      auto tenant = create_tenant(pool_, name);
      ASSERT_TRUE(tenant.ok()) << tenant.status();
      tenants_[name] = *tenant;
      clients_.emplace(name, Client(pool_.controller_address(), 30s, tenant->token));
    }
  }
  Client& as(const std::string& name) { return clients_.at(name); }
  // `tenant` places `graph` on device `node`/`index` through the controller's Place: the one
  // daemon to run it, with the grant the controller signed for it.
  absl::StatusOr<v1::PlaceReply> place_as(const std::string& tenant, const v1::Graph& graph,
                                          const std::string& node, uint32_t index) {
    auto controller = controller_as(pool_, tenants_.at(tenant).token);
    v1::PlaceRequest place;
    *place.mutable_graph() = graph;
    *place.mutable_placement() = on_device(node, index);
    v1::PlaceReply placed;
    auto context = context_with_deadline(10s);
    if (absl::Status s = from_grpc(controller->Place(context.get(), place, &placed)); !s.ok()) return s;
    if (placed.daemons_size() != 1) {
      return absl::InternalError("Place answered " + std::to_string(placed.daemons_size()) + " daemons, not 1");
    }
    return placed;
  }

  Pool pool_;
  std::map<std::string, TestTenant> tenants_;
  std::map<std::string, Client> clients_;
};

TEST_F(Tenants, NoTenantListsOrTouchesAnotherTenantsWorkThroughTheController) {
  auto session = Session::open(as("team-a"), 30s, "a-owner");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions keep = (*session)->options();
  keep.keep = {"y"};
  auto kept = as("team-a").run(affine(), two_floats(), keep);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const RemoteTensor tensor = kept->kept.at(0);
  RunOptions capture = (*session)->options();
  capture.capture = true;
  auto captured = as("team-a").run(affine(), two_floats(), capture);
  ASSERT_TRUE(captured.ok()) << captured.status();
  const std::string plan = captured->plan_id;
  ASSERT_FALSE(plan.empty());
  ASSERT_TRUE(wait_until([&] {
    auto jobs = as("team-a").jobs();
    return jobs.ok() && jobs->size() >= 2;
  }, 10s));
  auto a_jobs = as("team-a").jobs();
  ASSERT_TRUE(a_jobs.ok());
  for (const v1::JobInfo& job : *a_jobs) EXPECT_EQ(job.tenant(), "team-a");
  const std::string job = a_jobs->front().job_id();

  // Ids carry 128 random bits: "s-"/"t-" and 32 hex digits, and "job-" and 32 for the jobs
  // the controller runs (the one that kept the tensor; the capture ran on the direct path).
  EXPECT_EQ((*session)->id().size(), 2u + 32u) << (*session)->id();
  EXPECT_EQ(tensor.id().size(), 2u + 32u) << tensor.id();
  auto kept_job = std::find_if(a_jobs->begin(), a_jobs->end(),
                               [](const v1::JobInfo& info) { return info.plan_id().empty(); });
  ASSERT_NE(kept_job, a_jobs->end());
  EXPECT_EQ(kept_job->job_id().size(), 4u + 32u) << kept_job->job_id();
  EXPECT_EQ(kept_job->job_id().rfind("job-", 0), 0u) << kept_job->job_id();

  // Lists show team-b none of it; the admin sees all of it.
  auto b_sessions = as("team-b").sessions();
  ASSERT_TRUE(b_sessions.ok());
  EXPECT_TRUE(b_sessions->empty());
  auto b_jobs = as("team-b").jobs();
  ASSERT_TRUE(b_jobs.ok());
  EXPECT_TRUE(b_jobs->empty());
  auto all_sessions = pool_.client().sessions();
  ASSERT_TRUE(all_sessions.ok());
  ASSERT_EQ(all_sessions->size(), 1u);
  EXPECT_EQ(all_sessions->front().tenant(), "team-a");

  // Named by team-b, each answers exactly as a name that does not exist.
  const absl::Status renewed = as("team-b").renew_session((*session)->id(), 5s);
  const absl::Status renewed_unknown = as("team-b").renew_session("s-nonexistent", 5s);
  EXPECT_STATUS(renewed, kNotFound, "session '" + (*session)->id() + "' is unknown");
  EXPECT_EQ(std::string(renewed_unknown.message()),
            "session 's-nonexistent' is unknown or its lease ran out");
  EXPECT_STATUS(as("team-b").close_session((*session)->id()), kNotFound, "is unknown");
  EXPECT_STATUS(as("team-b").free({tensor.id()}).status(), kNotFound,
                "remote tensor '" + tensor.id() + "' is unknown");
  EXPECT_STATUS(as("team-b").drop_plan(plan), kNotFound, "plan '" + plan + "' is unknown");
  EXPECT_STATUS(as("team-b").replay(plan, two_floats()).status(), kNotFound,
                "plan '" + plan + "' is unknown");
  const absl::Status cancelled = as("team-b").cancel(job);
  EXPECT_STATUS(cancelled, kNotFound, "job '" + job + "' is not running (unknown job)");
  EXPECT_STATUS(as("team-a").cancel(job), kNotFound, "(it has finished)");
  auto b_session = Session::open(as("team-b"), 30s, "b-thief");
  ASSERT_TRUE(b_session.ok());
  RunOptions steal = (*b_session)->options();
  steal.inputs["x"] = tensor.id();
  EXPECT_STATUS(as("team-b").run(affine(), {}, steal).status(), kNotFound,
                "remote tensor '" + tensor.id() + "' is unknown");

  // team-a's own work is intact.
  auto fetched = as("team-a").fetch(tensor);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->values<float>()[0], 3.0f);
  auto replayed = as("team-a").replay(plan, two_floats());
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->outputs.at(0).values<float>()[1], -5.0f);
}

TEST_F(Tenants, ADaemonRefusesAnotherTenantsPlanAndTensorsUnderItsGrant) {
  auto session = Session::open(as("team-a"), 30s, "a-owner");
  ASSERT_TRUE(session.ok());
  RunOptions keep = (*session)->options();
  keep.keep = {"y"};
  keep.placement = on_device("node-a", 0);
  auto kept = as("team-a").run(affine(), two_floats(), keep);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const v1::TensorPiece piece = kept->kept.at(0).pieces(0);
  RunOptions capture = (*session)->options();
  capture.capture = true;
  capture.placement = on_device("node-a", 0);
  auto captured = as("team-a").run(affine(), two_floats(), capture);
  ASSERT_TRUE(captured.ok()) << captured.status();

  // team-b places its own graph on the same device and gets a real grant for it.
  auto placed = place_as("team-b", affine(), "node-a", 0);
  ASSERT_TRUE(placed.ok()) << placed.status();
  const v1::PlacedDaemon& daemon = placed->daemons(0);
  std::unique_ptr<grpc::ClientContext> context;
  v1::Grant grant;
  ASSERT_TRUE(grant.ParseFromString(daemon.grant().grant()));
  EXPECT_EQ(grant.tenant(), "team-b");
  EXPECT_EQ(grant.token_id(), tenants_["team-b"].token_id);

  // Under it, team-a's stored tensor bound as the input is unknown on the daemon.
  auto node = v1::NodeService::NewStub(make_channel(daemon.address(), true));
  v1::RunFragmentsRequest run;
  run.set_job_id("job-b-steals");
  *run.add_fragments() = daemon.fragments(0);
  *run.mutable_grant() = daemon.grant();
  v1::FragmentRun* binding = run.add_runs();
  binding->set_device_index(0);
  v1::NamedTensorId* input = binding->add_inputs();
  input->set_name(placed->inputs(0).pieces(0).node());
  input->set_tensor_id(piece.tensor_id());
  v1::RunFragmentsReply reply;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(node->RunFragments(context.get(), run, &reply)), kNotFound,
                "node node-a holds no tensor '" + piece.tensor_id() + "'");

  // A grant of team-b's for team-a's plan (signed with the controller's key, as the controller
  // never would): the daemon answers as for a plan it does not hold.
  auto signer = GrantSigner::load_or_create(pool_.grant_key_file());
  ASSERT_TRUE(signer.ok());
  v1::Grant forged_scope = grant;
  forged_scope.set_plan_id(captured->plan_id);
  v1::RunFragmentsRequest replay;
  replay.set_job_id("job-b-replays");
  replay.set_plan_id(captured->plan_id);
  *replay.mutable_grant() = signer->sign(forged_scope);
  replay.add_runs()->set_device_index(0);
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(node->RunFragments(context.get(), replay, &reply)), kNotFound,
                "plan '" + captured->plan_id + "' is not installed on node node-a");

  // Plans and stored tensors are the controller's to manage, never a client's.
  v1::ListTensorsReply listed;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(node->ListTensors(context.get(), {}, &listed)), kPermissionDenied,
                "ListTensors is for the pool's controller and nodes");
  v1::FreeTensorsRequest free;
  free.add_tensor_ids(piece.tensor_id());
  v1::FreeTensorsReply freed;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(node->FreeTensors(context.get(), free, &freed)), kPermissionDenied,
                "FreeTensors is for the pool's controller and nodes");
  auto fetched = as("team-a").fetch(kept->kept.at(0));
  ASSERT_TRUE(fetched.ok()) << fetched.status();
}

// Directly on a daemon, a tenant's grant neither reads another tenant's stored tensor nor
// cancels its running job: both answer NOT_FOUND in the words used for an id that does not
// exist. The owner's own grant does both.
TEST_F(Tenants, ADaemonAnswersAnotherTenantsTensorAndJobAsUnknownToItsGrant) {
  auto session = Session::open(as("team-a"), 30s, "a-owner");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions keep = (*session)->options();
  keep.keep = {"y"};
  keep.placement = on_device("node-a", 0);
  auto kept = as("team-a").run(affine(), two_floats(), keep);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const v1::TensorPiece a_piece = kept->kept.at(0).pieces(0);
  v1::Grant a_grant;
  ASSERT_TRUE(a_grant.ParseFromString(a_piece.grant().grant()));
  EXPECT_EQ(a_grant.tenant(), "team-a");

  // team-b runs a graph held on node-a/0 under its own grant, as job-b-held.
  auto placed = place_as("team-b", held_graph(), "node-a", 0);
  ASSERT_TRUE(placed.ok()) << placed.status();
  const v1::PlacedDaemon& daemon = placed->daemons(0);
  auto node = v1::NodeService::NewStub(make_channel(daemon.address(), true));
  v1::RunFragmentsRequest run;
  run.set_job_id("job-b-held");
  *run.add_fragments() = daemon.fragments(0);
  *run.mutable_grant() = daemon.grant();
  v1::NamedTensor* feed = run.add_runs()->add_feeds();
  run.mutable_runs(0)->set_device_index(0);
  feed->set_name(placed->inputs(0).pieces(0).node());
  *feed->mutable_tensor() = x_feeds().at("x").to_proto();
  auto running = std::async(std::launch::async, [&] {
    v1::RunFragmentsReply reply;
    auto run_context = context_with_deadline(30s);
    return from_grpc(node->RunFragments(run_context.get(), run, &reply));
  });
  ASSERT_TRUE(pool_.wait_held("node-a", "test_hold_job"));

  auto cancel = [&](const std::string& job_id, const v1::SignedGrant& grant,
                    const std::string& reason) {
    v1::CancelJobRequest request;
    request.set_job_id(job_id);
    request.set_reason(reason);
    *request.mutable_grant() = grant;
    v1::CancelJobReply reply;
    auto call = context_with_deadline(10s);
    return from_grpc(node->CancelJob(call.get(), request, &reply));
  };
  auto fetch = [&](const std::string& tensor_id, const v1::SignedGrant& grant) {
    v1::FetchTensorRequest request;
    request.set_tensor_id(tensor_id);
    *request.mutable_grant() = grant;
    v1::FetchTensorReply reply;
    auto call = context_with_deadline(10s);
    return from_grpc(node->FetchTensor(call.get(), request, &reply));
  };

  // team-a's grant on team-b's job, and team-b's grant on team-a's tensor: as unknown ids.
  const absl::Status a_cancels = cancel("job-b-held", a_piece.grant(), "a cancels b");
  const absl::Status a_cancels_unknown = cancel("job-nonexistent", a_piece.grant(), "none");
  EXPECT_EQ(a_cancels.code(), absl::StatusCode::kNotFound) << a_cancels;
  EXPECT_EQ(a_cancels.message(), "node node-a runs no job 'job-b-held'");
  EXPECT_EQ(a_cancels_unknown.code(), absl::StatusCode::kNotFound) << a_cancels_unknown;
  EXPECT_EQ(a_cancels_unknown.message(), "node node-a runs no job 'job-nonexistent'");
  const absl::Status b_fetches = fetch(a_piece.tensor_id(), daemon.grant());
  const absl::Status b_fetches_unknown = fetch("t-nonexistent/0", daemon.grant());
  EXPECT_EQ(b_fetches.code(), absl::StatusCode::kNotFound) << b_fetches;
  EXPECT_EQ(b_fetches.message(), "node node-a holds no tensor '" + a_piece.tensor_id() + "'");
  EXPECT_EQ(b_fetches_unknown.code(), absl::StatusCode::kNotFound) << b_fetches_unknown;
  EXPECT_EQ(b_fetches_unknown.message(), "node node-a holds no tensor 't-nonexistent/0'");
  EXPECT_STATUS(fetch(a_piece.tensor_id(), {}), kUnauthenticated, "FetchTensor on node 'node-a'");
  EXPECT_STATUS(cancel("job-b-held", {}, "no grant"), kUnauthenticated, "no grant");

  // The owners' own grants: team-b cancels its job (its reason, not team-a's, stops it) and
  // team-a reads its tensor.
  EXPECT_TRUE(cancel("job-b-held", daemon.grant(), "b stops its own").ok());
  pool_.release("node-a", "test_hold_job");
  const absl::Status ended = running.get();
  EXPECT_EQ(ended.code(), absl::StatusCode::kCancelled) << ended;
  EXPECT_NE(ended.message().find("cancelled: b stops its own"), std::string::npos) << ended;
  EXPECT_TRUE(fetch(a_piece.tensor_id(), a_piece.grant()).ok());
  auto fetched = as("team-a").fetch(kept->kept.at(0));
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->values<float>()[1], -5.0f);
}

// tgctl top through the controller: a tenant sees the kernel rows of its own jobs only, the
// admin every tenant's; the daemons answer the scoreboard to pool components alone.
TEST_F(Tenants, TopShowsATenantOnlyItsOwnKernels) {
  ASSERT_TRUE(as("team-a").submit(affine(), two_floats(), on_device("node-b", 0)).ok());
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.input("w", DTYPE_F32, {3, 4});
  g.output(matmul(x, w), "y");
  HostTensor xs(TensorType{DTYPE_F32, {2, 3}});
  HostTensor ws(TensorType{DTYPE_F32, {3, 4}});
  ASSERT_TRUE(as("team-b").submit(*g.build(), {{"x", xs}, {"w", ws}}, on_device("node-b", 0)).ok());

  auto top = [&](const std::string& token) {
    Completed out = run(pool_.dir(), TGCTL_PATH,
                        {"top", "--once", "--json", "--controller", pool_.controller_address(),
                         "--token", token});
    EXPECT_EQ(out.exit_status, 0) << out.err;
    return nlohmann::json::parse(out.out, nullptr, /*allow_exceptions=*/false);
  };
  auto tenants_of = [](const nlohmann::json& view) {
    std::set<std::string> tenants, ops;
    if (!view.is_object()) return std::pair{tenants, ops};
    for (const auto& row : view.value("kernels", nlohmann::json::array())) {
      tenants.insert(row.value("tenant", ""));
      ops.insert(row.value("op", ""));
    }
    for (const auto& row : view.value("copies", nlohmann::json::array())) {
      tenants.insert(row.value("tenant", ""));
    }
    return std::pair{tenants, ops};
  };
  nlohmann::json admin_view;
  ASSERT_TRUE(wait_until([&] {
    admin_view = top(pool_.admin_token());
    return tenants_of(admin_view).first.contains("team-b") &&
           tenants_of(admin_view).first.contains("team-a");
  }, 10s)) << admin_view.dump();
  EXPECT_TRUE(tenants_of(admin_view).second.contains("matmul")) << admin_view.dump();

  const nlohmann::json a_view = top(tenants_["team-a"].token);
  const auto [a_tenants, a_ops] = tenants_of(a_view);
  EXPECT_EQ(a_tenants, std::set<std::string>{"team-a"}) << a_view.dump();
  EXPECT_FALSE(a_ops.contains("matmul")) << a_view.dump();
  EXPECT_TRUE(a_ops.contains("mul")) << a_view.dump();

  auto node = v1::NodeService::NewStub(make_channel(pool_.daemon_address("node-b"), true));
  v1::GetKernelStatsReply stats;
  auto context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(node->GetKernelStats(context.get(), {}, &stats)), kPermissionDenied,
                "GetKernelStats is for the pool's controller and nodes");
}

TEST_F(Tenants, ARevokedTokenIsRefusedWithinFiveSecondsOnTheControllerAndTheDaemons) {
  const TestTenant& a = tenants_["team-a"];
  auto controller = controller_as(pool_, a.token);
  auto placed = place_as("team-a", affine(), "node-b", 1);
  ASSERT_TRUE(placed.ok()) << placed.status();
  const v1::PlacedDaemon& daemon = placed->daemons(0);
  std::unique_ptr<grpc::ClientContext> context;
  auto node = v1::NodeService::NewStub(make_channel(daemon.address(), true));
  int runs = 0;
  auto run_on_daemon = [&] {
    v1::RunFragmentsRequest run;
    run.set_job_id("job-revoked-" + std::to_string(runs++));
    *run.add_fragments() = daemon.fragments(0);
    *run.mutable_grant() = daemon.grant();
    v1::FragmentRun* binding = run.add_runs();
    binding->set_device_index(1);
    v1::NamedTensor* feed = binding->add_feeds();
    feed->set_name(placed->inputs(0).pieces(0).node());
    *feed->mutable_tensor() = two_floats().at("x").to_proto();
    v1::RunFragmentsReply reply;
    auto call = context_with_deadline(10s);
    return from_grpc(node->RunFragments(call.get(), run, &reply));
  };
  ASSERT_TRUE(run_on_daemon().ok());

  auto admin = controller_as(pool_, pool_.admin_token());
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(a.token_id);
  v1::RevokeTokenReply revoked;
  context = context_with_deadline(10s);
  ASSERT_TRUE(admin->RevokeToken(context.get(), revoke, &revoked).ok());
  const auto revoked_at = std::chrono::steady_clock::now();

  v1::ListJobsReply jobs;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(controller->ListJobs(context.get(), {}, &jobs)), kUnauthenticated,
                "'" + a.token_id + "' was revoked");
  absl::Status refused;
  ASSERT_TRUE(wait_until([&] {
    refused = run_on_daemon();
    return !refused.ok();
  }, 5s)) << "the daemon still ran team-a's grant 5 s after its token was revoked";
  EXPECT_LT(std::chrono::steady_clock::now() - revoked_at, 5s);
  EXPECT_STATUS(refused, kUnauthenticated,
                "issued under token '" + a.token_id + "', which was revoked");
  // team-b goes on.
  EXPECT_TRUE(as("team-b").submit(affine(), two_floats()).ok());
}

TEST_F(Tenants, ATenantCannotOperateThePoolOrManageTenants) {
  auto b = controller_as(pool_, tenants_["team-b"].token);
  auto context = context_with_deadline(10s);
  v1::CordonNodeRequest cordon;
  cordon.set_node("node-a");
  v1::CordonNodeReply cordoned;
  EXPECT_STATUS(from_grpc(b->CordonNode(context.get(), cordon, &cordoned)), kPermissionDenied,
                "CordonNode needs role admin; the caller's token '" + tenants_["team-b"].token_id +
                    "' has role tenant (tenant 'team-b')");
  v1::ResetDeviceRequest reset;
  reset.mutable_device()->set_node("node-a");
  v1::ResetDeviceReply was_reset;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(b->ResetDevice(context.get(), reset, &was_reset)), kPermissionDenied,
                "ResetDevice needs role admin");
  v1::DrainNodeRequest drain;
  drain.set_node("node-a");
  v1::DrainNodeReply drained;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(b->DrainNode(context.get(), drain, &drained)), kPermissionDenied,
                "DrainNode needs role admin");
  v1::CreateTenantRequest create;
  create.set_name("team-c");
  v1::CreateTenantReply created;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(b->CreateTenant(context.get(), create, &created)), kPermissionDenied,
                "CreateTenant needs role admin");
  EXPECT_TRUE(pool_.node_is("node-a", v1::NODE_STATE_UP));

  // tgctl says the same, with exit status 1.
  Completed out = run(pool_.dir(), TGCTL_PATH,
                      {"cordon", "node-a", "--reason", "mine", "--controller",
                       pool_.controller_address(), "--token", tenants_["team-b"].token});
  EXPECT_EQ(out.exit_status, 1);
  EXPECT_NE(out.err.find("CordonNode needs role admin"), std::string::npos) << out.err;

  // No token, a malformed one, a forged one.
  v1::ListNodesReply nodes;
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(controller_as(pool_, "")->ListNodes(context.get(), {}, &nodes)),
                kUnauthenticated, "ListNodes needs a bearer token");
  context = context_with_deadline(10s);
  EXPECT_STATUS(
      from_grpc(controller_as(pool_, "letmein")->ListNodes(context.get(), {}, &nodes)),
      kUnauthenticated, "malformed");
  std::string forged = tenants_["team-b"].token;
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  context = context_with_deadline(10s);
  EXPECT_STATUS(from_grpc(controller_as(pool_, forged)->ListNodes(context.get(), {}, &nodes)),
                kUnauthenticated, "unknown or forged");
}

TEST_F(Tenants, QuotasRefuseNamingTheQuotaItsLimitAndUseBeforeAnythingRuns) {
  v1::Quota quota;
  quota.set_device_memory_bytes(8);  // One f32[2] kept tensor.
  auto small = create_tenant(pool_, "team-small", quota);
  ASSERT_TRUE(small.ok()) << small.status();
  Client client(pool_.controller_address(), 30s, small->token);
  auto session = Session::open(client, 30s, "small");
  ASSERT_TRUE(session.ok());
  RunOptions keep = (*session)->options();
  keep.keep = {"y"};
  ASSERT_TRUE(client.run(affine(), two_floats(), keep).ok());
  auto refused = client.run(affine(), two_floats(), keep);
  EXPECT_STATUS(refused.status(), kResourceExhausted,
                "quota device-memory of tenant 'team-small' is exhausted: limit 8 bytes, in use "
                "8 bytes");
  auto sessions = client.sessions();
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ(sessions->front().tensors(), 1u);  // The refused run kept nothing.
  auto jobs = client.jobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_LE(jobs->size(), 1u);  // Only the first run ever reached a daemon.

  // Devices held at once: a job held on a daemon holds one device; one more is refused.
  pool_.hold_kernels_on("node-c");
  ASSERT_OK_POOL(pool_.start_daemon("node-c"));
  ASSERT_TRUE(pool_.wait_for_node("node-c", v1::NODE_STATE_UP));
  v1::Quota one_device;
  one_device.set_devices(1);
  auto single = create_tenant(pool_, "team-single", one_device);
  ASSERT_TRUE(single.ok());
  Client holder(pool_.controller_address(), 60s, single->token);
  std::thread held([&] { holder.submit(held_graph(), x_feeds(), on_device("node-c", 0)).IgnoreError(); });
  ASSERT_TRUE(pool_.wait_held("node-c", "test_hold_job"));
  ASSERT_TRUE(wait_until([&] {
    auto running = holder.jobs(/*running_only=*/true);
    return running.ok() && !running->empty();
  }, 10s));
  EXPECT_STATUS(holder.submit(affine(), two_floats()).status(), kResourceExhausted,
                "quota devices of tenant 'team-single' is exhausted: limit 1 devices, in use 1 "
                "devices");
  pool_.release("node-c", "test_hold_job");
  held.join();
}

// The ledger counts what the executor counts: a matmul of [2,3] by [3,4] is 2*2*3*4 = 48
// FLOPs (a multiply and an add per term), so three runs are 144, and tgctl usage says so.
TEST_F(Tenants, UsageOfAKnownWorkloadIsItsFlopsCountedByHand) {
  GraphBuilder g;
  Value x = g.input("x", DTYPE_F32, {2, 3});
  Value w = g.input("w", DTYPE_F32, {3, 4});
  g.output(matmul(x, w), "y");
  const v1::Graph graph = *g.build();
  HostTensor xs(TensorType{DTYPE_F32, {2, 3}});
  HostTensor ws(TensorType{DTYPE_F32, {3, 4}});
  for (float& v : xs.values<float>()) v = 1;
  for (float& v : ws.values<float>()) v = 2;
  constexpr int kRuns = 3;
  constexpr uint64_t kFlopsByHand = kRuns * 2 * (2 * 3 * 4);
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_TRUE(as("team-a").submit(graph, {{"x", xs}, {"w", ws}}, on_device("node-a", 0)).ok());
  }
  v1::GetUsageReply usage;
  ASSERT_TRUE(wait_until([&] {
    auto controller = controller_as(pool_, tenants_["team-a"].token);
    auto context = context_with_deadline(10s);
    usage.Clear();
    return controller->GetUsage(context.get(), {}, &usage).ok() && usage.rows_size() == 1 &&
           usage.rows(0).job_count() == kRuns;
  }, 10s));
  if (usage.rows(0).usage().flops() == 0) {
    GTEST_SKIP() << "the daemons report no FLOPs for their jobs yet (JobInfo.usage)";
  }
  EXPECT_EQ(usage.rows(0).usage().flops(), kFlopsByHand);
  Completed out = run(pool_.dir(), TGCTL_PATH,
                      {"usage", "--json", "--controller", pool_.controller_address(), "--token",
                       tenants_["team-a"].token});
  ASSERT_EQ(out.exit_status, 0) << out.err;
  EXPECT_NE(out.out.find("\"flop_count\": " + std::to_string(kFlopsByHand)), std::string::npos)
      << out.out;
}

}  // namespace
}  // namespace tg::testing
