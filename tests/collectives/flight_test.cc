// The flight recorder's ring and the trace that reads every rank's records: which rank is
// behind and on which link, from records built by hand (the pool-level test stops a real
// daemon: tests/integration/comms_trace_test.cc).
#include <gtest/gtest.h>

#include "collectives/flight_recorder.h"
#include "collectives/flight_trace.h"
#include "collectives/transport/liveness.h"

namespace tg::coll {
namespace {

using tgrack::v1::FLIGHT_OP_DONE;
using tgrack::v1::FLIGHT_OP_FAILED;
using tgrack::v1::FLIGHT_OP_RUNNING;

TEST(FlightRecorder, KeepsTheLastOperationsOldestFirst) {
  FlightRecorder recorder(3);
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    recorder.begin(seq, "all_reduce", "ring", seq * 100);
    recorder.end(absl::OkStatus());
  }
  const auto ops = recorder.ops();
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].sequence(), 3u);
  EXPECT_EQ(ops[2].sequence(), 5u);
  EXPECT_EQ(ops[2].bytes(), 500u);
  EXPECT_EQ(ops[2].state(), FLIGHT_OP_DONE);
  EXPECT_EQ(ops[2].waiting_on(), -1);
  EXPECT_GT(ops[2].end_unix_ms(), 0);
}

TEST(FlightRecorder, RunningOperationShowsItsPeerAndStall) {
  FlightRecorder recorder;
  recorder.begin(1, "barrier", "dissemination", 0);
  recorder.waiting_on(2);
  recorder.stalled();
  auto ops = recorder.ops();
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].state(), FLIGHT_OP_RUNNING);
  EXPECT_EQ(ops[0].waiting_on(), 2);
  EXPECT_TRUE(ops[0].stalled());
  EXPECT_EQ(ops[0].peer_state(), "unknown");  // Stalled without a verdict from keep-alives.
  EXPECT_GT(ops[0].waiting_since_unix_ms(), 0);
  EXPECT_EQ(ops[0].end_unix_ms(), 0);
  // A failure keeps the peer: the link it died on.
  recorder.end(absl::DeadlineExceededError("timed out waiting for peer rank 2"));
  ops = recorder.ops();
  EXPECT_EQ(ops[0].state(), FLIGHT_OP_FAILED);
  EXPECT_EQ(ops[0].waiting_on(), 2);
  EXPECT_EQ(ops[0].error(), "timed out waiting for peer rank 2");
  EXPECT_NE(recorder.dump().find("#1 barrier 0 B dissemination failed"), std::string::npos) << recorder.dump();
}

TEST(FlightRecorder, EndWithoutBeginChangesNothing) {
  FlightRecorder recorder;
  recorder.end(absl::InternalError("x"));
  recorder.waiting_on(1);
  EXPECT_TRUE(recorder.ops().empty());
}

// Three ranks, one per node; records for each node as the daemons would return them.
tgrack::v1::CommunicatorSpec three_ranks() {
  tgrack::v1::CommunicatorSpec spec;
  spec.set_comm_id("comm-7");
  for (const char* node : {"node-a", "node-b", "node-c"}) {
    auto* r = spec.add_ranks();
    r->set_rank(spec.ranks_size() - 1);
    r->mutable_device()->set_node(node);
  }
  return spec;
}

tgrack::v1::CommunicatorFlight flight_of(uint32_t rank, const std::string& node, uint64_t seq,
                                         tgrack::v1::FlightOpState state, int32_t waiting_on,
                                         bool stalled = false) {
  tgrack::v1::CommunicatorFlight flight;
  flight.set_comm_id("comm-7");
  flight.set_world_size(3);
  auto* r = flight.add_ranks();
  r->set_rank(rank);
  r->mutable_device()->set_node(node);
  auto* op = r->add_ops();
  op->set_sequence(seq);
  op->set_collective("all_reduce");
  op->set_algorithm("ring");
  op->set_state(state);
  op->set_waiting_on(waiting_on);
  op->set_stalled(stalled);
  op->set_start_unix_ms(1000);
  op->set_waiting_since_unix_ms(waiting_on >= 0 ? 1000 : 0);
  return flight;
}

const auto kNow = std::chrono::system_clock::time_point(std::chrono::milliseconds(4000));

TEST(FlightTrace, NamesTheRankWhoseDaemonDoesNotAnswerAndTheLinksWaitingOnIt) {
  std::vector<NodeRecords> nodes = {
      {"node-a", flight_of(0, "node-a", 4, FLIGHT_OP_RUNNING, 2, true)},
      {"node-b", flight_of(1, "node-b", 4, FLIGHT_OP_RUNNING, 0)},
      {"node-c", absl::DeadlineExceededError("node node-c at 127.0.0.1:5: deadline exceeded")}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.behind_rank(), 2);
  EXPECT_EQ(trace.behind_device().node(), "node-c");
  EXPECT_EQ(trace.state(), "stalled");
  ASSERT_EQ(trace.waits_size(), 2);
  EXPECT_EQ(trace.waits(0).waiting_rank(), 0u);
  EXPECT_EQ(trace.waits(0).peer_rank(), 2u);
  EXPECT_EQ(trace.waits(0).peer_node(), "node-c");
  EXPECT_DOUBLE_EQ(trace.waits(0).waiting_seconds(), 3.0);
  EXPECT_FALSE(trace.ranks(2).answered());
  EXPECT_NE(trace.verdict().find("rank 2 (node-c/0 on node node-c) is behind: its daemon does not answer"),
            std::string::npos) << trace.verdict();
  EXPECT_NE(trace.verdict().find("link 0->2"), std::string::npos) << trace.verdict();
}

TEST(FlightTrace, StalledLinksSayWhatTheKeepalivesTellOfThePeer) {
  // Rank 0 waits for 2, which is silent; rank 1 waits for 0, alive in #4 waiting for rank 2.
  auto a = flight_of(0, "node-a", 4, FLIGHT_OP_RUNNING, 2, true);
  auto* op = a.mutable_ranks(0)->mutable_ops(0);
  op->set_peer_state("silent");
  op->set_peer_sequence(3);
  op->set_peer_silent_ms(2500);
  op->set_link("tcp");
  auto b = flight_of(1, "node-b", 4, FLIGHT_OP_RUNNING, 0, true);
  op = b.mutable_ranks(0)->mutable_ops(0);
  op->set_peer_state("waiting");
  op->set_peer_sequence(4);
  op->set_peer_waiting_on(2);
  op->set_link("tcp");
  std::vector<NodeRecords> nodes = {
      {"node-a", a}, {"node-b", b}, {"node-c", absl::UnavailableError("node node-c: connection refused")}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.behind_rank(), 2);
  ASSERT_EQ(trace.waits_size(), 2);
  EXPECT_EQ(trace.waits(0).peer_state(), "silent");
  EXPECT_EQ(trace.waits(0).peer_sequence(), 3u);
  EXPECT_DOUBLE_EQ(trace.waits(0).peer_silent_seconds(), 2.5);
  EXPECT_EQ(trace.waits(0).link(), "tcp");
  EXPECT_EQ(trace.waits(1).peer_state(), "waiting");
  EXPECT_EQ(trace.waits(1).peer_waiting_on(), 2);
  EXPECT_NE(trace.verdict().find("link 0->2 in all_reduce #4 for 3.0 s (stalled: peer silent for 2.5 s over tcp)"),
            std::string::npos)
      << trace.verdict();
}

TEST(FlightTrace, AStalledLinkToAnIdleRankSaysItIsIdleAfterItsLastOperation) {
  // Rank 0 waits for 1 in #5; rank 1 finished #4 and its daemon keeps its links alive.
  auto a = flight_of(0, "node-a", 5, FLIGHT_OP_RUNNING, 1, true);
  auto* op = a.mutable_ranks(0)->mutable_ops(0);
  op->set_peer_state("behind");
  op->set_peer_sequence(4);
  op->set_peer_waiting_on(kIdleBetweenOperations);
  op->set_link("local");
  std::vector<NodeRecords> nodes = {{"node-a", a},
                                    {"node-b", flight_of(1, "node-b", 4, FLIGHT_OP_DONE, -1)},
                                    {"node-c", flight_of(2, "node-c", 5, FLIGHT_OP_RUNNING, 0)}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.behind_rank(), 1);
  EXPECT_NE(trace.verdict().find("(stalled: peer alive but idle, after its #4 over local)"), std::string::npos)
      << trace.verdict();
}

TEST(FlightTrace, FollowsWaitsToTheRankThatWaitsForNoOne) {
  // Rank 1 waits for 2, rank 0 for 1; rank 2 is busy in an earlier operation.
  std::vector<NodeRecords> nodes = {{"node-a", flight_of(0, "node-a", 5, FLIGHT_OP_RUNNING, 1)},
                                    {"node-b", flight_of(1, "node-b", 5, FLIGHT_OP_RUNNING, 2)},
                                    {"node-c", flight_of(2, "node-c", 4, FLIGHT_OP_DONE, -1)}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.behind_rank(), 2);
  EXPECT_EQ(trace.state(), "running");
  EXPECT_NE(trace.verdict().find("its last operation is all_reduce #4 (done)"), std::string::npos)
      << trace.verdict();
}

TEST(FlightTrace, AFailureBlamesThePeerItWaitedFor) {
  std::vector<NodeRecords> nodes = {{"node-a", flight_of(0, "node-a", 3, FLIGHT_OP_FAILED, 1)},
                                    {"node-b", flight_of(1, "node-b", 2, FLIGHT_OP_DONE, -1)},
                                    {"node-c", flight_of(2, "node-c", 3, FLIGHT_OP_FAILED, 1)}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.state(), "failed");
  EXPECT_EQ(trace.behind_rank(), 1);
  EXPECT_EQ(trace.behind_device().node(), "node-b");
  const auto summary = summarize(three_ranks(), trace);
  EXPECT_EQ(summary.state(), "failed");
  EXPECT_EQ(summary.last_op().sequence(), 3u);
  EXPECT_EQ(summary.devices_size(), 3);
}

TEST(FlightTrace, IdleCommunicatorHasNoOneBehind) {
  std::vector<NodeRecords> nodes = {{"node-a", flight_of(0, "node-a", 2, FLIGHT_OP_DONE, -1)},
                                    {"node-b", flight_of(1, "node-b", 2, FLIGHT_OP_DONE, -1)},
                                    {"node-c", flight_of(2, "node-c", 2, FLIGHT_OP_DONE, -1)}};
  const auto trace = trace_communicator(three_ranks(), nodes, kNow);
  EXPECT_EQ(trace.state(), "idle");
  EXPECT_EQ(trace.behind_rank(), -1);
  EXPECT_TRUE(trace.waits().empty());
}

}  // namespace
}  // namespace tg::coll
