// kill -9 a real tgd in the middle of an all-reduce: the surviving daemons' RunCollective
// fails within the timeout with an error naming the dead rank, its node and its device, and
// each survivor's daemon logs it; a new communicator over the survivors then works. Daemons are real processes, driven over their NodeService the way
// the controller's coordinator drives them.
#include <signal.h>

#include <chrono>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "process.h"
#include "net/rpc.h"
#include "test_security.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg::coll {
namespace {

using Clock = std::chrono::steady_clock;

// One tgd with `devices` cpu devices and no reachable controller, run by the process harness (its own
// process group, killed and reaped on destruction).
std::unique_ptr<tg::testing::Process> start_tgd(const tg::testing::TempDir& dir,
                                                const std::string& name, int devices = 1) {
  std::vector<std::string> args = {
      "--controller", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--data-listen", "127.0.0.1:0",
      "--cpu-devices", std::to_string(devices), "--device-memory", "256M", "--state-dir", dir.file(name), "--name",
      name, "--port-file", dir.file(name + ".port")};
  const std::vector<std::string> tls = tg::testing::tls_flags_for_node(name);
  args.insert(args.end(), tls.begin(), tls.end());
  auto process = tg::testing::Process::spawn(TGD_PATH, args, dir.file(name + ".out"),
                                             dir.file(name + ".err"));
  return process.ok() ? std::move(*process) : nullptr;
}

struct Node {
  std::unique_ptr<tgrack::v1::NodeService::Stub> stub;
  tgrack::v1::NodeInfo info;
};

// One rank per node, on device 0 unless `device_of` names another (by rank).
tgrack::v1::CommunicatorSpec make_spec(const std::string& id, const std::vector<Node*>& nodes,
                                       const std::map<int, uint32_t>& device_of = {}) {
  tgrack::v1::CommunicatorSpec spec;
  spec.set_comm_id(id);
  spec.set_timeout_ms(3000);
  spec.set_secret("data-plane secret of " + id + std::string(32, '.'));  // As the controller's.
  for (Node* n : nodes) {
    auto* r = spec.add_ranks();
    r->set_rank(spec.ranks_size() - 1);
    r->mutable_device()->set_node(n->info.name());
    const auto device = device_of.find(r->rank());
    r->mutable_device()->set_index(device == device_of.end() ? 0 : device->second);
    r->set_data_address(n->info.data_address());
  }
  return spec;
}

std::vector<absl::Status> join_all(const std::vector<Node*>& nodes, const tgrack::v1::CommunicatorSpec& spec) {
  std::vector<absl::Status> out(nodes.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      tgrack::v1::JoinCommunicatorRequest req;
      *req.mutable_spec() = spec;
      tgrack::v1::JoinCommunicatorReply reply;
      auto ctx = context_with_deadline(std::chrono::seconds(10));
      out[i] = from_grpc(nodes[i]->stub->JoinCommunicator(ctx.get(), req, &reply));
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

tgrack::v1::RunCollectiveRequest all_reduce(const std::string& id, uint32_t iters) {
  tgrack::v1::RunCollectiveRequest req;
  req.set_comm_id(id);
  req.set_kind(tgrack::v1::COLLECTIVE_ALL_REDUCE);
  req.set_dtype(tgrack::v1::DTYPE_F32);
  req.set_op(tgrack::v1::REDUCE_OP_SUM);
  req.set_count(1 << 20);
  req.set_iters(iters);
  req.set_check(true);
  req.set_algorithm("ring");
  return req;
}

TEST(DaemonKillTest, KillNineMidAllReduceFailsSurvivorsNamingTheDeadRank) {
  const tg::testing::TempDir dir;
  tg::testing::use_certificate(tg::net::Role::kController, "controller");  // Drives ranks as it does.
  std::vector<std::unique_ptr<tg::testing::Process>> procs;
  std::vector<Node> nodes(3);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "kill-node" + std::to_string(i);
    procs.push_back(start_tgd(dir, name, i == 2 ? 2 : 1));
    ASSERT_NE(procs.back(), nullptr) << "tgd " << i << " did not start";
    const auto address = tg::testing::read_port_file(dir.file(name + ".port"), *procs.back());
    ASSERT_TRUE(address.ok()) << address.status();
    nodes[i].stub = tgrack::v1::NodeService::NewStub(make_channel(*address));
    auto ctx = context_with_deadline(std::chrono::seconds(5));
    ASSERT_TRUE(nodes[i].stub->GetNodeInfo(ctx.get(), {}, &nodes[i].info).ok());
    ASSERT_FALSE(nodes[i].info.data_address().empty());
  }
  // The rank that dies sits on device 1 of its node: the error must name that node and
  // that device, not a survivor's.
  const auto spec = make_spec("killed", {&nodes[0], &nodes[1], &nodes[2]}, {{2, 1}});
  for (auto& s : join_all({&nodes[0], &nodes[1], &nodes[2]}, spec)) ASSERT_TRUE(s.ok()) << s;

  // Ranks 0 and 1 start a long all-reduce loop; rank 2's daemon is killed instead.
  std::vector<absl::Status> runs(2);
  std::vector<double> elapsed(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      tgrack::v1::RunCollectiveReply reply;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const auto t0 = Clock::now();
      runs[i] = from_grpc(nodes[i].stub->RunCollective(&ctx, all_reduce("killed", 100000), &reply));
      elapsed[i] = std::chrono::duration<double>(Clock::now() - t0).count();
    });
  }
  procs[2]->kill(SIGKILL);
  for (auto& t : threads) t.join();
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(runs[i].ok()) << "rank " << i;
    const std::string msg(runs[i].message());
    EXPECT_NE(msg.find("peer rank 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank 2 is node kill-node2 device 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(i) + ": "), std::string::npos) << msg;
    EXPECT_LT(elapsed[i], 3.0 + 1.0) << msg;
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(tg::testing::wait_until(
        [&] {
          const std::string log = procs[i]->stdout_text() + procs[i]->stderr_text();
          return log.find("rank 2 is node kill-node2 device 1") != std::string::npos;
        },
        std::chrono::seconds(10)))
        << "survivor " << i << " did not log the dead node:\n" << procs[i]->stdout_text()
        << procs[i]->stderr_text();
  }
  // The survivors are healthy: a new communicator over them verifies.
  const auto fresh = make_spec("survivors", {&nodes[0], &nodes[1]});
  for (auto& s : join_all({&nodes[0], &nodes[1]}, fresh)) ASSERT_TRUE(s.ok()) << s;
  std::vector<tgrack::v1::RunCollectiveReply> replies(2);
  threads.clear();
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      auto ctx = context_with_deadline(std::chrono::seconds(20));
      runs[i] = from_grpc(nodes[i].stub->RunCollective(ctx.get(), all_reduce("survivors", 3), &replies[i]));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(runs[i].ok()) << runs[i];
    ASSERT_EQ(replies[i].results_size(), 1) << "survivor " << i;
    const tgrack::v1::RankResult& r = replies[i].results(0);
    EXPECT_EQ(r.rank(), static_cast<uint32_t>(i));
    EXPECT_EQ(r.checked(), uint64_t{1} << 20) << "rank " << i << " compared too few elements";
    EXPECT_EQ(r.wrong(), 0u) << "rank " << i;
    EXPECT_GT(r.seconds_per_iter(), 0) << "rank " << i;
  }
}

}  // namespace
}  // namespace tg::coll
