// Read grants of remote tensors that run out, through real processes: a controller whose
// grants last kGrantLifetime keeps a tensor; once its grant has expired a daemon refuses a
// fetch under it (UNAUTHENTICATED, naming the grant and when it expired), the client library
// fetches it anyway by asking the controller for fresh grants (RefreshTensorGrants), and
// another tenant cannot refresh it: NOT_FOUND in the words used for an unknown tensor.
#include <chrono>
#include <thread>

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

// Long enough that a fresh grant outlives a fetch on a loaded machine, short for the test.
constexpr std::chrono::seconds kGrantLifetime{3};

// y = x * 2 + 1 over f32[2].
v1::Graph affine() {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {2});
  g.output(add(mul(x, g.scalar(2)), g.scalar(1)), "y");
  return *g.build();
}

std::map<std::string, HostTensor> two_floats() {
  HostTensor x(TensorType{v1::DTYPE_F32, {2}});
  x.values<float>()[0] = 1;
  x.values<float>()[1] = -3;
  return {{"x", std::move(x)}};
}

v1::Grant grant_of(const v1::TensorPiece& piece) {
  v1::Grant grant;
  EXPECT_TRUE(grant.ParseFromString(piece.grant().grant()));
  return grant;
}

// FetchTensor of `piece` straight from its daemon, under the grant it carries.
absl::Status raw_fetch(const v1::TensorPiece& piece) {
  auto node = v1::NodeService::NewStub(make_channel(piece.address()));
  v1::FetchTensorRequest request;
  request.set_tensor_id(piece.tensor_id());
  *request.mutable_grant() = piece.grant();
  v1::FetchTensorReply reply;
  auto context = context_with_deadline(std::chrono::seconds(10));
  return from_grpc(node->FetchTensor(context.get(), request, &reply));
}

// Waits until the wall clock is past the instant a grant expires at (Unix ms).
void wait_past(int64_t expires_unix_ms) {
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(
      std::chrono::milliseconds(expires_unix_ms + 1)));
}

TEST(TensorGrants, AFetchAfterTheReadGrantExpiredRefreshesItAndOnlyTheOwnerCan) {
  Pool pool;
  pool.controller_args = {"--grant-lifetime", std::to_string(kGrantLifetime.count()) + "s"};
  ASSERT_OK_POOL(pool.start_default());
  auto team_a = create_tenant(pool, "team-a");
  auto team_b = create_tenant(pool, "team-b");
  ASSERT_TRUE(team_a.ok() && team_b.ok());
  Client a(pool.controller_address(), 30s, team_a->token);
  Client b(pool.controller_address(), 30s, team_b->token);

  auto session = Session::open(a, 60s, "holder");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions keep = (*session)->options();
  keep.keep = {"y"};
  auto kept = a.run(affine(), two_floats(), keep);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const RemoteTensor tensor = kept->kept.at(0);
  ASSERT_EQ(tensor.pieces_size(), 1);
  const v1::Grant first = grant_of(tensor.pieces(0));
  EXPECT_EQ(first.tenant(), "team-a");

  wait_past(first.expires_unix_ms());
  // Under the old grant the daemon refuses, naming the grant and that it expired.
  const absl::Status expired = raw_fetch(tensor.pieces(0));
  EXPECT_STATUS(expired, kUnauthenticated,
                "FetchTensor on node '" + tensor.pieces(0).device().node() + "' refused: grant " +
                    first.grant_id() + " expired at ");
  EXPECT_TRUE(is_expired_grant(expired)) << expired;

  // The client library refreshes the grant once and reads the tensor: 2x + 1 of (1, -3).
  auto fetched = a.fetch(tensor);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->values<float>()[0], 3.0f);
  EXPECT_EQ(fetched->values<float>()[1], -5.0f);

  // Another tenant cannot refresh it (answered as for a tensor that does not exist), so the
  // expired grant it may have copied reads nothing.
  const std::string unknown = "t-00000000000000000000000000000000";
  const absl::Status stolen = b.refresh_grants(tensor).status();
  RemoteTensor nonexistent;
  nonexistent.set_id(unknown);
  const absl::Status missing = b.refresh_grants(nonexistent).status();
  EXPECT_STATUS(stolen, kNotFound, "remote tensor '" + tensor.id() + "' is unknown");
  EXPECT_STATUS(missing, kNotFound, "remote tensor '" + unknown + "' is unknown");
  std::string masked(stolen.message());
  masked.replace(masked.find(tensor.id()), tensor.id().size(), unknown);
  EXPECT_EQ(masked, std::string(missing.message()));
  const absl::Status b_fetch = b.fetch(tensor).status();
  EXPECT_STATUS(b_fetch, kNotFound, "refreshing its grants: remote tensor '" + tensor.id() +
                                        "' is unknown");
  EXPECT_NE(b_fetch.message().find(" expired at "), std::string::npos) << b_fetch;

  // The owner's fresh grant: same tenant, node and devices, a new id, a later expiry; the
  // daemon reads the piece under it.
  auto refreshed = a.refresh_grants(tensor);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  ASSERT_EQ(refreshed->pieces_size(), 1);
  const v1::Grant renewed = grant_of(refreshed->pieces(0));
  EXPECT_EQ(renewed.tenant(), "team-a");
  EXPECT_EQ(renewed.node(), first.node());
  EXPECT_EQ(renewed.session(), first.session());
  EXPECT_NE(renewed.grant_id(), first.grant_id());
  EXPECT_GT(renewed.expires_unix_ms(), first.expires_unix_ms());
  EXPECT_TRUE(raw_fetch(refreshed->pieces(0)).ok());

  // Freed, the tensor has no grants to refresh, and the client says so after the expiry.
  ASSERT_TRUE(a.free({tensor.id()}).ok());
  EXPECT_STATUS(a.refresh_grants(tensor).status(), kNotFound,
                "remote tensor '" + tensor.id() + "' is unknown");
  EXPECT_STATUS(a.fetch(tensor).status(), kNotFound, "refreshing its grants: remote tensor '");
}

}  // namespace
}  // namespace tg::testing
