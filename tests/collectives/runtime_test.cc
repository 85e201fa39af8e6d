// The daemon-side runtime over cpu devices: two runtimes (daemons) with two devices each,
// joined like the controller would, running every collective with verification.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "collectives/collective_runtime.h"
#include "devices/cpu/cpu_device.h"

namespace tg::coll {
namespace {

struct Daemon {
  std::vector<std::unique_ptr<CpuDevice>> devices;
  std::unique_ptr<CollectiveRuntime> runtime;

  Daemon(const std::string& name, int n) {
    std::vector<Device*> raw;
    for (int i = 0; i < n; ++i) {
      devices.push_back(std::make_unique<CpuDevice>(name + "-cpu" + std::to_string(i), 1ull << 30, 1));
      raw.push_back(devices.back().get());
    }
    runtime = std::make_unique<CollectiveRuntime>(name, raw);
    EXPECT_TRUE(runtime->start("127.0.0.1", 0).ok());
  }
};

tgrack::v1::CommunicatorSpec spec_over(const std::string& id, std::vector<std::pair<Daemon*, std::string>> daemons,
                                       int per_daemon, uint32_t timeout_ms = 5000) {
  tgrack::v1::CommunicatorSpec spec;
  spec.set_comm_id(id);
  spec.set_timeout_ms(timeout_ms);
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
    for (auto& reply : replies) {
      ASSERT_TRUE(reply.ok()) << reply.status();
      ASSERT_EQ(reply->results_size(), 2);
      EXPECT_EQ(reply->transport(), "local+tcp");
      EXPECT_FALSE(reply->reason().empty());
      if (!run.algo.empty()) {
        EXPECT_EQ(reply->algorithm(), run.algo);
      }
      for (const auto& r : reply->results()) {
        EXPECT_EQ(r.wrong(), 0u) << "rank " << r.rank() << " kind " << run.kind << " algo " << reply->algorithm();
        EXPECT_GT(r.seconds_per_iter(), 0);
      }
    }
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

}  // namespace
}  // namespace tg::coll
