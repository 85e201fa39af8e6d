// The daemon-side runtime over cpu devices: two runtimes (daemons) with two devices each,
// joined like the controller would, running every collective with verification.
#include <chrono>
#include <optional>
#include <mutex>
#include <condition_variable>
#include <future>
#include <set>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "collectives/collective_runtime.h"
#include "collectives/transport/tcp/handshake.h"
#include "devices/cpu/cpu_device.h"
#include "raw_socket.h"

namespace tg::coll {
namespace {

struct Daemon {
  std::vector<std::unique_ptr<CpuDevice>> devices;
  std::unique_ptr<CollectiveRuntime> runtime;

  Daemon(const std::string& name, int n, CommOptions options = {}) {
    std::vector<Device*> raw;
    for (int i = 0; i < n; ++i) {
      devices.push_back(std::make_unique<CpuDevice>(name + "-cpu" + std::to_string(i), 1ull << 30, 1));
      raw.push_back(devices.back().get());
    }
    runtime = std::make_unique<CollectiveRuntime>(name, raw, options);
    EXPECT_TRUE(runtime->start("127.0.0.1", 0).ok());
  }
};

tgrack::v1::CommunicatorSpec spec_over(const std::string& id, std::vector<std::pair<Daemon*, std::string>> daemons,
                                       int per_daemon, uint32_t timeout_ms = 5000) {
  tgrack::v1::CommunicatorSpec spec;
  spec.set_comm_id(id);
  spec.set_timeout_ms(timeout_ms);
  spec.set_secret(tcp::new_secret().value());
  for (auto& [d, name] : daemons) {
    for (int i = 0; i < per_daemon; ++i) {
      auto* r = spec.add_ranks();
      r->set_rank(spec.ranks_size() - 1);
      r->mutable_device()->set_node(name);
      r->mutable_device()->set_index(i);
      r->set_data_address(d->runtime->data_address());
    }
  }
  return spec;
}

// Runs `fn` on each daemon in parallel, as the controller's fan-out does.
template <typename F>
std::vector<decltype(std::declval<F>()(std::declval<Daemon&>()))> on_all(std::vector<Daemon*> ds, F fn) {
  std::vector<decltype(fn(*ds[0]))> out(ds.size(), decltype(fn(*ds[0]))(absl::UnknownError("not run")));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ds.size(); ++i) threads.emplace_back([&, i] { out[i] = fn(*ds[i]); });
  for (auto& t : threads) t.join();
  return out;
}

// A checked f32 sum all-reduce of `count` elements on `comm`.
tgrack::v1::RunCollectiveRequest checked_sum(const std::string& comm, uint64_t count) {
  tgrack::v1::RunCollectiveRequest req;
  req.set_comm_id(comm);
  req.set_kind(tgrack::v1::COLLECTIVE_ALL_REDUCE);
  req.set_dtype(tgrack::v1::DTYPE_F32);
  req.set_op(tgrack::v1::REDUCE_OP_SUM);
  req.set_count(count);
  req.set_check(true);
  return req;
}

TEST(CollectiveRuntimeTest, EveryCollectiveVerifiesAcrossAndWithinDaemons) {
  Daemon a("nodeA", 2), b("nodeB", 2);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c1", {{&a, "nodeA"}, {&b, "nodeB"}}, 2);
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(a.runtime->join(join).code(), absl::StatusCode::kAlreadyExists);

  struct Run { tgrack::v1::CollectiveKind kind; std::string algo; tgrack::v1::DType dtype; tgrack::v1::ReduceOp op; bool in_place; };
  const Run runs[] = {
      {tgrack::v1::COLLECTIVE_ALL_REDUCE, "", tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM, false},
      {tgrack::v1::COLLECTIVE_ALL_REDUCE, "ring", tgrack::v1::DTYPE_BF16, tgrack::v1::REDUCE_OP_AVG, true},
      {tgrack::v1::COLLECTIVE_ALL_REDUCE, "hierarchical", tgrack::v1::DTYPE_F16, tgrack::v1::REDUCE_OP_PROD, false},
      {tgrack::v1::COLLECTIVE_ALL_REDUCE, "mesh", tgrack::v1::DTYPE_I64, tgrack::v1::REDUCE_OP_MAX, false},
      {tgrack::v1::COLLECTIVE_ALL_REDUCE, "halving_doubling", tgrack::v1::DTYPE_I32, tgrack::v1::REDUCE_OP_MIN, true},
      {tgrack::v1::COLLECTIVE_REDUCE_SCATTER, "", tgrack::v1::DTYPE_F64, tgrack::v1::REDUCE_OP_SUM, false},
      {tgrack::v1::COLLECTIVE_ALL_GATHER, "", tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_UNSPECIFIED, false},
      {tgrack::v1::COLLECTIVE_BROADCAST, "", tgrack::v1::DTYPE_I32, tgrack::v1::REDUCE_OP_UNSPECIFIED, true},
  };
  for (const Run& run : runs) {
    tgrack::v1::RunCollectiveRequest req;
    req.set_comm_id("c1");
    req.set_kind(run.kind);
    req.set_dtype(run.dtype);
    req.set_op(run.op);
    req.set_count(100003);
    req.set_root(3);
    req.set_warmup_iters(1);
    req.set_iters(2);
    req.set_check(true);
    req.set_algorithm(run.algo);
    req.set_in_place(run.in_place);
    auto replies = on_all({&a, &b}, [&](Daemon& d) { return d.runtime->run(req); });
    std::set<uint32_t> ranks;
    uint64_t checked = 0;  // Over every rank.
    for (size_t daemon = 0; daemon < replies.size(); ++daemon) {
      auto& reply = replies[daemon];
      ASSERT_TRUE(reply.ok()) << reply.status();
      ASSERT_EQ(reply->results_size(), 2);
      EXPECT_EQ(reply->transport(), "local+tcp");
      EXPECT_FALSE(reply->reason().empty());
      if (!run.algo.empty()) {
        EXPECT_EQ(reply->algorithm(), run.algo);
      }
      for (const auto& r : reply->results()) {
        const std::string what = "rank " + std::to_string(r.rank()) + " kind " +
                                 std::to_string(run.kind) + " algo " + reply->algorithm();
        // Each daemon reports its own ranks: a's devices are ranks 0 and 1, b's 2 and 3.
        EXPECT_EQ(r.rank() / 2, daemon) << what;
        ranks.insert(r.rank());
        EXPECT_GT(r.checked(), 0u) << what;
        EXPECT_EQ(r.wrong(), 0u) << what;
        EXPECT_GT(r.seconds_per_iter(), 0) << what;
        checked += r.checked();
      }
    }
    EXPECT_EQ(ranks, (std::set<uint32_t>{0, 1, 2, 3}));
    // Every element of every rank's output was compared; reduce-scatter's outputs are the
    // four blocks of one buffer.
    const uint64_t per_rank = run.kind == tgrack::v1::COLLECTIVE_REDUCE_SCATTER ? 1 : 4;
    EXPECT_EQ(checked, per_rank * req.count()) << run.kind;
  }
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->destroy("c1"); })) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(a.runtime->destroy("c1").code(), absl::StatusCode::kNotFound);
  tgrack::v1::RunCollectiveRequest gone;
  gone.set_comm_id("c1");
  EXPECT_EQ(a.runtime->run(gone).status().code(), absl::StatusCode::kNotFound);
}

TEST(CollectiveRuntimeTest, JoinFailsInBoundedTimeWhenAnotherDaemonNeverJoins) {
  Daemon a("nodeA", 1), b("nodeB", 1);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c2", {{&a, "nodeA"}, {&b, "nodeB"}}, 1, 800);
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status s = a.runtime->join(join);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("peer rank 1"), std::string::npos) << s;
  EXPECT_LT(ms, 2000);
  // Both daemons stay healthy: a new communicator (the controller never reuses ids) works.
  *join.mutable_spec() = spec_over("c3", {{&a, "nodeA"}, {&b, "nodeB"}}, 1, 800);
  for (auto& st : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) EXPECT_TRUE(st.ok()) << st;
}

const CollectiveRuntime::LinkStats* link_to(const std::vector<CollectiveRuntime::LinkStats>& stats,
                                             const std::string& peer_device) {
  for (const auto& l : stats) {
    if (l.device == 0 && l.peer_device == peer_device && l.transport == "tcp") return &l;
  }
  return nullptr;
}

TEST(CollectiveRuntimeTest, LinkCountersCoverWhatTheRingMovesAndOutliveTheCommunicator) {
  Daemon a("nodeA", 1), b("nodeB", 1);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c4", {{&a, "nodeA"}, {&b, "nodeB"}}, 1);
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  const auto before_a = a.runtime->link_stats(), before_b = b.runtime->link_stats();
  ASSERT_NE(link_to(before_a, "nodeB/0"), nullptr);
  ASSERT_NE(link_to(before_b, "nodeA/0"), nullptr);

  constexpr uint64_t kCount = 1 << 18, kBytes = kCount * 4;
  tgrack::v1::RunCollectiveRequest req;
  req.set_comm_id("c4");
  req.set_kind(tgrack::v1::COLLECTIVE_ALL_REDUCE);
  req.set_dtype(tgrack::v1::DTYPE_F32);
  req.set_op(tgrack::v1::REDUCE_OP_SUM);
  req.set_count(kCount);
  req.set_iters(1);
  req.set_algorithm("ring");
  for (auto& reply : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->run(req); })) ASSERT_TRUE(reply.ok()) << reply.status();

  // A 2-rank ring moves 2(n-1)/n * size each way; the run's barrier adds a byte.
  const uint64_t ring = kBytes * 2 * (2 - 1) / 2;
  for (auto [d, peer, before] : {std::tuple{&a, "nodeB/0", &before_a}, std::tuple{&b, "nodeA/0", &before_b}}) {
    const auto after = d->runtime->link_stats();
    const auto* now = link_to(after, peer);
    const auto* then = link_to(*before, peer);
    ASSERT_NE(now, nullptr);
    const uint64_t sent = now->counters.sent_bytes - then->counters.sent_bytes;
    const uint64_t received = now->counters.received_bytes - then->counters.received_bytes;
    EXPECT_GE(sent, ring) << peer;
    EXPECT_LE(sent, ring + 64) << peer;
    EXPECT_GE(received, ring) << peer;
    EXPECT_LE(received, ring + 64) << peer;
    EXPECT_EQ(now->counters.errors, 0u);
    EXPECT_EQ(now->peer_address, (d == &a ? b : a).runtime->data_address());
  }
  const auto live = a.runtime->link_stats();
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->destroy("c4"); })) ASSERT_TRUE(s.ok()) << s;
  const auto* retired = link_to(a.runtime->link_stats(), "nodeB/0");
  ASSERT_NE(retired, nullptr);
  EXPECT_GE(retired->counters.sent_bytes, link_to(live, "nodeB/0")->counters.sent_bytes);
}

TEST(CollectiveRuntimeTest, FenceCancelsARunThatOutlivesTheDeadlineAndRefusesNewOnes) {
  Daemon a("nodeA", 1), b("nodeB", 1);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c5", {{&a, "nodeA"}, {&b, "nodeB"}}, 1, 5000);
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  {
    // Nothing runs: the fence returns at once and cancels nothing.
    auto idle = a.runtime->fence({0}, std::chrono::steady_clock::now() + std::chrono::seconds(5), "reset");
    EXPECT_TRUE(idle->cancelled().empty());
  }
  tgrack::v1::RunCollectiveRequest req;
  req.set_comm_id("c5");
  req.set_kind(tgrack::v1::COLLECTIVE_ALL_REDUCE);
  req.set_dtype(tgrack::v1::DTYPE_F32);
  req.set_op(tgrack::v1::REDUCE_OP_SUM);
  req.set_count(1024);
  // Only nodeA runs, so its run waits for nodeB until cancelled.
  absl::StatusOr<tgrack::v1::RunCollectiveReply> stuck = absl::UnknownError("not run");
  std::thread runner([&] { stuck = a.runtime->run(req); });
  const auto started_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (a.runtime->runs_in_progress("c5") == 0 && std::chrono::steady_clock::now() < started_by) {
    std::this_thread::yield();
  }
  ASSERT_GT(a.runtime->runs_in_progress("c5"), 0) << "the run never started";
  const auto t0 = std::chrono::steady_clock::now();
  auto fence = a.runtime->fence({0}, t0 + std::chrono::milliseconds(200), "device reset of nodeA/0");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  runner.join();
  EXPECT_GE(ms, 150);
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(fence->cancelled(), std::vector<std::string>{"c5"});
  EXPECT_EQ(stuck.status().code(), absl::StatusCode::kAborted) << stuck.status();
  EXPECT_NE(stuck.status().message().find("device reset of nodeA/0"), std::string::npos) << stuck.status();
  auto refused = a.runtime->run(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  fence.reset();
  // Past the fence the communicator stays failed, naming the first error.
  auto after = a.runtime->run(req);
  EXPECT_NE(after.status().message().find("device reset of nodeA/0"), std::string::npos) << after.status();
}

TEST(CollectiveRuntimeTest, AConnectionWithoutTheSecretIsRefusedAndTheCollectiveCompletes) {
  Daemon a("nodeA", 1), b("nodeB", 1);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c6", {{&a, "nodeA"}, {&b, "nodeB"}}, 1);
  // Before either daemon joins, an intruder dials nodeB as rank 0's control connection, the
  // very connection rank 0 will make, with a secret of its own.
  tg::testing::RawSocket intruder =
      tg::testing::RawSocket::connect(tg::testing::port_of(b.runtime->data_address())).value();
  auto refused = std::async(std::launch::async, [&] {
    return tcp::dialer_handshake(intruder.fd(), {"c6", 0, 1, 0}, std::string(32, 'x'),
                                 std::chrono::steady_clock::now() + std::chrono::seconds(10))
        .status();
  });
  for (const auto by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       b.runtime->data_connections().held == 0 && std::chrono::steady_clock::now() < by;) {
    std::this_thread::yield();
  }
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(refused.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b.runtime->data_connections().unauthenticated, 1u);
  const tgrack::v1::RunCollectiveRequest req = checked_sum("c6", 4099);
  for (auto& reply : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->run(req); })) {
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->results_size(), 1);
    EXPECT_EQ(reply->results(0).checked(), req.count());
    EXPECT_EQ(reply->results(0).wrong(), 0u);
  }
}

TEST(CollectiveRuntimeTest, ACommunicatorWithoutASecretIsRefusedNamingIt) {
  Daemon a("nodeA", 1), b("nodeB", 1);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c7", {{&a, "nodeA"}, {&b, "nodeB"}}, 1);
  join.mutable_spec()->set_secret("short");
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("communicator c7 has a data-plane secret of 5 bytes"),
              std::string::npos)
        << s;
  }
}

TEST(CollectiveRuntimeTest, EncryptedDataConnectionsCarryCheckedCollectives) {
  // nodeB encrypts what it accepts (tgd --data-tls); nodeA, which dials it, does not ask.
  CommOptions encrypting;
  encrypting.tcp.tls = true;
  encrypting.tcp.listener.require_tls = true;
  Daemon a("nodeA", 2), b("nodeB", 2, encrypting);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = spec_over("c8", {{&a, "nodeA"}, {&b, "nodeB"}}, 2);
  for (auto& s : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  for (uint64_t count : {uint64_t{7}, uint64_t{1} << 20}) {  // One stream, then striped.
    tgrack::v1::RunCollectiveRequest req = checked_sum("c8", count);
    req.set_iters(2);
    req.set_in_place(count > 7);
    for (auto& reply : on_all({&a, &b}, [&](Daemon& d) { return d.runtime->run(req); })) {
      ASSERT_TRUE(reply.ok()) << reply.status();
      for (const auto& r : reply->results()) {
        EXPECT_EQ(r.checked(), count) << "rank " << r.rank();
        EXPECT_EQ(r.wrong(), 0u) << "rank " << r.rank();
      }
    }
  }
}

// A rank between operations whose client has not asked for the next one yet: its daemon keeps
// its links alive, so the peer waiting for it past the stall time hears that it is behind
// (idle after its last operation), not silent. Over tcp (two daemons) and local links (two
// devices of one daemon); the ranks are driven as graph fragments drive them.
class IdleRank : public ::testing::TestWithParam<std::string> {};

TEST_P(IdleRank, IsReportedBehindAfterItsLastOperationNotSilent) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<StallReport> reports;
  CommOptions options;
  options.stall_after = std::chrono::milliseconds(1000);
  options.keepalive_interval = std::chrono::milliseconds(50);
  options.on_stall = [&](const StallReport& r) {
    std::lock_guard<std::mutex> l(mu);
    reports.push_back(r);
    cv.notify_all();
  };
  const bool local = GetParam() == "local";
  Daemon a("nodeA", local ? 2 : 1, options);
  std::optional<Daemon> b;
  if (!local) b.emplace("nodeB", 1, options);
  tgrack::v1::JoinCommunicatorRequest join;
  *join.mutable_spec() = local ? spec_over("idle", {{&a, "nodeA"}}, 2, 10000)
                               : spec_over("idle", {{&a, "nodeA"}, {&*b, "nodeB"}}, 1, 10000);
  std::vector<Daemon*> daemons = {&a};
  if (b) daemons.push_back(&*b);
  for (auto& s : on_all(daemons, [&](Daemon& d) { return d.runtime->join(join); })) ASSERT_TRUE(s.ok()) << s;
  auto waiter = a.runtime->communicator("idle", 0);
  auto idler = (local ? a : *b).runtime->communicator("idle", local ? 1 : 0);
  ASSERT_TRUE(waiter.ok()) << waiter.status();
  ASSERT_TRUE(idler.ok()) << idler.status();

  float x[4] = {1, 2, 3, 4}, y[4] = {1, 2, 3, 4};
  auto sum = [](Communicator& c, float* v) {
    return c.all_reduce(reinterpret_cast<std::byte*>(v), reinterpret_cast<const std::byte*>(v), 4,
                        tgrack::v1::DTYPE_F32, tgrack::v1::REDUCE_OP_SUM);
  };
  // Operation #1 on both ranks; then the waiter enters #2 while the idler stays idle until
  // the waiter's stall is reported.
  absl::Status idler_status;
  std::thread idle([&] {
    idler_status = sum(**idler, y);
    if (!idler_status.ok()) return;
    std::unique_lock<std::mutex> l(mu);
    if (!cv.wait_for(l, std::chrono::seconds(20), [&] { return !reports.empty(); })) return;
    l.unlock();
    idler_status = sum(**idler, y);
  });
  absl::Status s = sum(**waiter, x);
  ASSERT_TRUE(s.ok()) << s;
  s = sum(**waiter, x);
  idle.join();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(idler_status.ok()) << idler_status;
  EXPECT_EQ(x[3], 16.0f);  // (4 + 4) twice.

  ASSERT_EQ(reports.size(), 1u);
  const StallReport& r = reports[0];
  EXPECT_EQ(r.rank, 0u);
  EXPECT_EQ(r.peer, 1u);
  EXPECT_EQ(r.transport, GetParam());
  EXPECT_EQ(peer_state_name(r.verdict.state), std::string("behind"));
  EXPECT_EQ(r.verdict.sequence, 1u);
  EXPECT_EQ(r.verdict.waiting_on, kIdleBetweenOperations);
  EXPECT_EQ(describe_verdict(r.verdict, r.sequence),
            "it is alive but behind: between operations, after its #1 while this rank is at #2");
}

INSTANTIATE_TEST_SUITE_P(Links, IdleRank, ::testing::Values("tcp", "local"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tg::coll
