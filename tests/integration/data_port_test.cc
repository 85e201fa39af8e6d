// The collectives' data port of a real tgd against peers that do not belong: connections
// over --max-data-connections are closed at once while those held go on, a connection that
// cannot prove its communicator's secret is refused, both are counted in the daemon's
// metrics, and a checked all-reduce over the port still completes. The secret never
// reaches the client that created the communicator.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/transport/tcp/handshake.h"
#include "pool.h"
#include "raw_socket.h"
#include "net/rpc.h"
#include "tests/ops/exposition.h"
#include "tests/ops/http_get.h"
#include "tgrack/v1/controller.grpc.pb.h"

namespace tg::testing {
namespace {

namespace v1 = tgrack::v1;

// The data address the controller lists for node `name`.
std::string data_address_of(v1::ControllerService::Stub& controller, const std::string& name) {
  v1::ListNodesReply nodes;
  grpc::Status listed = controller.ListNodes(context_with_deadline(10s).get(), {}, &nodes);
  EXPECT_TRUE(listed.ok()) << listed.error_message();
  for (const v1::NodeInfo& node : nodes.nodes()) {
    if (node.name() == name) return node.data_address();
  }
  ADD_FAILURE() << "no node " << name;
  return "";
}

// Waits until a scrape of the daemon's metrics on `port` serves `value` for the sample;
// that scrape's text, or "" when none did.
std::string scrape_when(int port, const std::string& name,
                        const std::map<std::string, std::string>& labels, double value) {
  std::string served;
  const bool reached = wait_until(
      [&] {
        absl::StatusOr<std::string> text = http_get(port, "/metrics");
        served = text.ok() ? *text : "";
        return sample(served, name, labels) == value;
      },
      20s);
  return reached ? served : "";
}

TEST(DataPort, ConnectionsOverTheCapAndWithoutTheSecretAreRefusedAndCollectivesGoOn) {
  Pool pool;
  pool.daemon_args["node-b"] = {"--max-data-connections", "2", "--metrics", "127.0.0.1:0",
                                "--metrics-port-file", pool.dir().file("node-b.metrics")};
  ASSERT_TRUE(pool.start_default().ok());
  auto metrics = read_port_file(pool.dir().file("node-b.metrics"), pool.daemon("node-b"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int metrics_port = port_of(*metrics);
  auto controller = v1::ControllerService::NewStub(make_channel(pool.controller_address()));
  const int data_port = port_of(data_address_of(*controller, "node-b"));

  {
    std::vector<RawSocket> silent;
    for (int i = 0; i < 2; ++i) silent.push_back(RawSocket::connect(data_port).value());
    ASSERT_FALSE(scrape_when(metrics_port, "tgrack_data_connections", {}, 2).empty());
    RawSocket third = RawSocket::connect(data_port).value();
    EXPECT_TRUE(third.read_until_closed(10s).ok()) << "a third connection is held beside two";
    // The two held go on: the sample that counts the refusal holds both still.
    const std::string served = scrape_when(metrics_port, "tgrack_data_connections_refused_total",
                                           {{"reason", "over_limit"}}, 1);
    ASSERT_FALSE(served.empty()) << "the refusal was never counted";
    EXPECT_EQ(sample(served, "tgrack_data_connections"), 2);
  }
  ASSERT_FALSE(scrape_when(metrics_port, "tgrack_data_connections", {}, 0).empty());

  v1::CreateCommunicatorRequest create;
  for (const char* node : {"node-a", "node-b"}) {
    v1::DeviceRef* device = create.add_devices();
    device->set_node(node);
    device->set_index(0);
  }
  v1::CreateCommunicatorReply created;
  grpc::Status made =
      controller->CreateCommunicator(context_with_deadline(30s).get(), create, &created);
  ASSERT_TRUE(made.ok()) << made.error_message();
  EXPECT_TRUE(created.spec().secret().empty()) << "the communicator's secret reached a client";

  // An intruder dials node-b as rank 0 of the communicator, with a secret of its own.
  RawSocket intruder = RawSocket::connect(data_port).value();
  const absl::Status refused =
      coll::tcp::dialer_handshake(intruder.fd(), {created.spec().comm_id(), 0, 1, 0},
                                  std::string(32, 'x'), std::chrono::steady_clock::now() + 10s)
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_FALSE(scrape_when(metrics_port, "tgrack_data_connections_refused_total",
                           {{"reason", "unauthenticated"}}, 1)
                   .empty());

  v1::RunCollectiveRequest run;
  run.set_comm_id(created.spec().comm_id());
  run.set_kind(v1::COLLECTIVE_ALL_REDUCE);
  run.set_dtype(v1::DTYPE_F32);
  run.set_op(v1::REDUCE_OP_SUM);
  run.set_count(1 << 16);
  run.set_check(true);
  v1::RunCollectiveReply ran;
  grpc::Status done = controller->RunCollective(context_with_deadline(30s).get(), run, &ran);
  ASSERT_TRUE(done.ok()) << done.error_message();
  ASSERT_EQ(ran.results_size(), 2);
  for (const v1::RankResult& rank : ran.results()) {
    EXPECT_EQ(rank.checked(), run.count());
    EXPECT_EQ(rank.wrong(), 0u);
  }
}

}  // namespace
}  // namespace tg::testing
