// What a server bounds, through real processes: a message over --max-message-size is refused
// with RESOURCE_EXHAUSTED naming the limit and the next call works; a client with
// --max-calls-per-client calls open gets RESOURCE_EXHAUSTED naming itself and the limit for
// one more, while other clients and the pool's own components go on.
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "pool.h"
#include "net/rpc.h"
#include "test_security.h"
#include "tgrack/v1/controller.grpc.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

// y = relu(x) + relu(x) over f32[2, 3] with x = [1, 2, 3, 4, 5, 6], its relu named
// "test_hold_bound": on daemons started after hold_kernels_on, held until released.
v1::SubmitRequest submit_request(bool held) {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F32, {2, 3});
  v1::Node relu;
  relu.set_name(held ? "test_hold_bound" : "relu");
  Value h = g.add(v1::OP_RELU, {x}, relu);
  g.output(h + h, "y");
  v1::SubmitRequest request;
  *request.mutable_graph() = *g.build();
  v1::NamedTensor* feed = request.add_feeds();
  feed->set_name("x");
  feed->mutable_tensor()->set_dtype(v1::DTYPE_F32);
  feed->mutable_tensor()->add_shape(2);
  feed->mutable_tensor()->add_shape(3);
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  feed->mutable_tensor()->set_data(values.data(), values.size() * sizeof(float));
  return request;
}

grpc::Status submit(v1::ControllerService::Stub& stub, const v1::SubmitRequest& request,
                    v1::SubmitReply* reply) {
  return stub.Submit(context_with_deadline(30s).get(), request, reply);
}

grpc::Status list_nodes(v1::ControllerService::Stub& stub) {
  v1::ListNodesReply reply;
  return stub.ListNodes(context_with_deadline(10s).get(), {}, &reply);
}

TEST(BoundedServers, AMessageOverTheLimitIsRefusedNamingItAndTheNextCallWorks) {
  Pool pool;
  pool.controller_args = {"--max-message-size", "1M"};
  pool.daemon_args["node-a"] = {"--max-message-size", "1M"};
  ASSERT_TRUE(pool.start_default().ok());
  auto controller = v1::ControllerService::NewStub(make_channel(pool.controller_address()));
  v1::SubmitRequest big = submit_request(false);
  big.mutable_feeds(0)->mutable_tensor()->mutable_data()->resize(2 << 20);
  v1::SubmitReply reply;
  const grpc::Status refused = submit(*controller, big, &reply);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("1048576"));
  const grpc::Status next = submit(*controller, submit_request(false), &reply);
  ASSERT_TRUE(next.ok()) << next.error_message();
  ASSERT_EQ(reply.outputs_size(), 1);
  EXPECT_EQ(reply.outputs(0).data().size(), 6 * sizeof(float));

  auto daemon = v1::NodeService::NewStub(make_channel(pool.daemon_address("node-a")));
  v1::FetchTensorRequest fetch;
  fetch.set_tensor_id(std::string(2 << 20, 'x'));
  v1::FetchTensorReply fetched;
  const grpc::Status daemon_refused =
      daemon->FetchTensor(context_with_deadline(10s).get(), fetch, &fetched);
  EXPECT_EQ(daemon_refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(daemon_refused.error_message(), HasSubstr("1048576"));
  v1::NodeInfo info;
  const grpc::Status daemon_next = daemon->GetNodeInfo(context_with_deadline(10s).get(), {}, &info);
  ASSERT_TRUE(daemon_next.ok()) << daemon_next.error_message();
  EXPECT_EQ(info.name(), "node-a");
}

TEST(BoundedServers, AClientOverItsOpenCallsIsRefusedNamingItselfAndTheLimit) {
  Pool pool;
  pool.controller_args = {"--max-calls-per-client", "1"};
  pool.hold_kernels_on("node-a");
  pool.hold_kernels_on("node-b");
  ASSERT_TRUE(pool.start_default().ok());
  auto controller = v1::ControllerService::NewStub(make_channel(pool.controller_address()));

  v1::SubmitReply held_reply;
  grpc::Status held_status;
  std::thread held_call([&] { held_status = submit(*controller, submit_request(true), &held_reply); });
  const bool held = wait_until([&] {
    return std::filesystem::exists(pool.dir().file("hold-node-a/test_hold_bound.held")) ||
           std::filesystem::exists(pool.dir().file("hold-node-b/test_hold_bound.held"));
  }, 30s);
  const grpc::Status refused = list_nodes(*controller);
  // Another client, and the daemons' heartbeats, are not this client's calls.
  use_certificate(net::Role::kClient, "other");
  auto other = v1::ControllerService::NewStub(
      make_channel(pool.controller_address(), /*own_connection=*/true));
  v1::ListNodesReply nodes;
  const grpc::Status other_status =
      other->ListNodes(context_with_deadline(10s).get(), {}, &nodes);
  use_client_certificate();
  pool.release("node-a", "test_hold_bound");
  pool.release("node-b", "test_hold_bound");
  held_call.join();

  ASSERT_TRUE(held) << "the held call never reached its kernel: " << held_status.error_message();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              HasSubstr("tgrack:client:test has 1 calls open on this server, the limit per "
                        "client (--max-calls-per-client 1)"));
  EXPECT_TRUE(other_status.ok()) << other_status.error_message();
  ASSERT_EQ(nodes.nodes_size(), 2);
  for (const v1::NodeInfo& node : nodes.nodes()) EXPECT_EQ(node.state(), v1::NODE_STATE_UP);
  ASSERT_TRUE(held_status.ok()) << held_status.error_message();
  EXPECT_EQ(held_reply.outputs_size(), 1);
  const grpc::Status after = list_nodes(*controller);
  EXPECT_TRUE(after.ok()) << after.error_message();
}

}  // namespace
}  // namespace tg::testing
