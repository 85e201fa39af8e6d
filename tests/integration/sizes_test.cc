// Sizes from requests, end to end with a real controller and two daemons: a size that
// overflows is INVALID_ARGUMENT naming it, a reply that cannot fit one message is
// RESOURCE_EXHAUSTED naming its size and the limit before anything runs, and every process
// lives on and still runs a good graph correctly afterwards.
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "pool.h"
#include "net/rpc.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;
using ::testing::HasSubstr;

class SizesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.start_default().ok()); }

  // Every process still runs, and x + 1 over [1, 2, 3] is [2, 3, 4].
  void expect_pool_alive_and_correct() {
    for (Process* p : {&pool_.controller(), &pool_.daemon("node-a"), &pool_.daemon("node-b")}) {
      EXPECT_FALSE(p->wait_exit(0ms).has_value()) << p->stderr_text();
    }
    GraphBuilder g;
    g.output(g.input("x", v1::DTYPE_F32, {3}) + g.scalar(1), "y");
    HostTensor x(TensorType{v1::DTYPE_F32, {3}});
    for (int i = 0; i < 3; ++i) x.values<float>()[i] = static_cast<float>(i + 1);
    auto result = pool_.client().run(*g.build(), {{"x", x}});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->outputs.size(), 1u);
    EXPECT_THAT(std::vector<float>(result->outputs[0].values<float>().begin(),
                                   result->outputs[0].values<float>().end()),
                ::testing::ElementsAre(2, 3, 4));
  }

  Pool pool_;
};

// f64[2^28] is 2 GiB: far beyond the message limit (64 MiB), refused from the output types alone.
v1::Graph two_gib_output_graph() {
  GraphBuilder g;
  Value x = g.input("x", v1::DTYPE_F64, {1});
  g.output(expand(x, {int64_t{1} << 28}), "big");
  g.output(x + g.scalar(1, v1::DTYPE_F64), "small");
  return *g.build();
}

HostTensor one_f64() { return HostTensor(TensorType{v1::DTYPE_F64, {1}}); }

TEST_F(SizesTest, ReplyBeyondTheMessageLimitIsResourceExhaustedNamingSizeAndLimit) {
  auto result = pool_.client().run(two_gib_output_graph(), {{"x", one_f64()}});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("big: f64[268435456]"));
  EXPECT_THAT(result.status().message(),
              HasSubstr("needs 2147483656 bytes, more than the message limit of 67108864"));
  EXPECT_THAT(result.status().message(), HasSubstr("RunOptions keep"));
  expect_pool_alive_and_correct();
}

TEST_F(SizesTest, PlannedGraphReplyBeyondTheLimitIsRefusedAndKeepingTheSmallOutputDoesNotHelp) {
  auto session = pool_.client().open_session(std::chrono::seconds(30), "sizes-test");
  ASSERT_TRUE(session.ok()) << session.status();
  RunOptions options;
  options.session = session->session();
  options.keep = {"small"};
  auto result = pool_.client().run(two_gib_output_graph(), {{"x", one_f64()}}, options);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_THAT(result.status().message(),
              HasSubstr("the reply with outputs (big: f64[268435456]) needs 2147483648 bytes, more "
                        "than the message limit of 67108864 bytes"));
  expect_pool_alive_and_correct();
}

// PAD of an empty f32[0, 2^63-1] by one more column: the output dim would wrap negative.
TEST_F(SizesTest, PadWhoseOutputDimOverflowsIsInvalidNamingTheDim) {
  v1::Graph graph;
  v1::Node* x = graph.add_nodes();
  x->set_name("x");
  x->set_op(v1::OP_INPUT);
  x->set_dtype(v1::DTYPE_F32);
  x->add_shape(0);
  x->add_shape(std::numeric_limits<int64_t>::max());
  v1::Node* p = graph.add_nodes();
  p->set_name("p");
  p->set_op(v1::OP_PAD);
  p->add_inputs("x");
  for (int64_t v : {0, 0}) p->add_pad_before(v);
  for (int64_t v : {0, 1}) p->add_pad_after(v);
  graph.add_outputs("p");
  HostTensor empty(TensorType{v1::DTYPE_F32, {0, std::numeric_limits<int64_t>::max()}});
  auto result = pool_.client().run(graph, {{"x", empty}});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(),
              HasSubstr("node 'p' (OP_PAD): padded dim 1 of f32[0,9223372036854775807]: "
                        "9223372036854775807 + 1 does not fit in a 64-bit size"));
  expect_pool_alive_and_correct();
}

// count * 8 bytes wraps 64 bits to a few bytes; each daemon used to fill `count` elements.
TEST_F(SizesTest, CollectiveWhoseByteSizeOverflowsIsInvalidOnEveryDaemon) {
  auto stub = v1::ControllerService::NewStub(make_channel(pool_.controller_address()));
  v1::CreateCommunicatorRequest create;
  for (const char* node : {"node-a", "node-b"}) {
    v1::DeviceRef* device = create.add_devices();
    device->set_node(node);
    device->set_index(0);
  }
  create.set_timeout_ms(10000);
  v1::CreateCommunicatorReply created;
  ASSERT_TRUE(from_grpc(stub->CreateCommunicator(context_with_deadline(20s).get(), create,
                                                 &created)).ok());
  v1::RunCollectiveRequest run;
  run.set_comm_id(created.spec().comm_id());
  run.set_kind(v1::COLLECTIVE_ALL_REDUCE);
  run.set_dtype(v1::DTYPE_F64);
  run.set_op(v1::REDUCE_OP_SUM);
  run.set_count((uint64_t{1} << 61) + 1);  // * 8 = 2^64 + 8, 8 bytes once wrapped.
  run.set_iters(1);
  run.set_check(true);
  v1::RunCollectiveReply reply;
  const absl::Status refused =
      from_grpc(stub->RunCollective(context_with_deadline(20s).get(), run, &reply));
  ASSERT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("RunCollective count: 2305843009213693953 elements "
                                           "of 8 bytes need more bytes than 64 bits hold"));
  // The communicator still works: a checked all-reduce of 1024 elements is right everywhere.
  run.set_count(1024);
  ASSERT_TRUE(from_grpc(stub->RunCollective(context_with_deadline(20s).get(), run, &reply)).ok());
  ASSERT_EQ(reply.results_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(reply.results(i).rank(), static_cast<uint32_t>(i));
    EXPECT_GT(reply.results(i).seconds_per_iter(), 0);
    EXPECT_EQ(reply.results(i).wrong(), 0u) << "rank " << i;
  }
  expect_pool_alive_and_correct();
}

}  // namespace
}  // namespace tg::testing
