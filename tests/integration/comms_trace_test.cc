// The flight recorder across real daemons: three ranks in three tgd processes, one daemon
// stopped (SIGSTOP) while an all-reduce waits for it. `tgctl comms trace` names the stopped
// rank and its node and the links the others wait on; the waiting daemons report the stall
// in their log. SIGCONT lets the held all-reduce finish correctly.
#include <signal.h>

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "collective_requests.h"
#include "pool.h"
#include "test_graphs.h"

namespace tg::testing {
namespace {

class CommsTrace : public ::testing::Test {
 protected:
  absl::Status start_three() {
    if (absl::Status s = pool_.start_controller(); !s.ok()) return s;
    for (const char* name : {"node-a", "node-b", "node-c"}) {
      pool_.daemon_args[name] = {"--collective-stall-after", "300ms"};
      if (absl::Status s = pool_.start_daemon(name); !s.ok()) return s;
    }
    for (const char* name : {"node-a", "node-b", "node-c"}) {
      if (!pool_.wait_for_node(name, tgrack::v1::NODE_STATE_UP)) {
        return absl::DeadlineExceededError(std::string(name) + " never came UP");
      }
    }
    return absl::OkStatus();
  }
  nlohmann::json trace(const std::string& comm_id) {
    Completed out = run(pool_.dir(), TGCTL_PATH,
                        {"comms", "trace", comm_id, "--controller", pool_.controller_address(), "--json"});
    if (out.exit_status != 0) return {{"error", out.err}};
    return nlohmann::json::parse(out.out, nullptr, false);
  }
  Pool pool_;
};

// Sends SIGCONT to a stopped daemon when the test ends, whatever happened.
struct Resume {
  pid_t pid;
  ~Resume() { ::kill(pid, SIGCONT); }
};

TEST_F(CommsTrace, NamesTheStoppedRankItsNodeAndTheLinksWaitingOnIt) {
  ASSERT_OK_POOL(start_three());
  Client client(pool_.controller_address(), 120s);
  auto spec = client.create_communicator(first_devices({"node-a", "node-b", "node-c"}), 60s);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto first = client.run_collective(checked_all_reduce(spec->comm_id()));
  ASSERT_TRUE(first.ok()) << first.status();

  const pid_t stopped = pool_.daemon("node-c").pid();
  ASSERT_EQ(::kill(stopped, SIGSTOP), 0);
  Resume resume{stopped};
  // The held all-reduce: its warm-up waits for rank 2 until node-c runs again.
  absl::StatusOr<tgrack::v1::RunCollectiveReply> held;
  std::thread run([&] { held = client.run_collective(checked_all_reduce(spec->comm_id(), 1)); });

  nlohmann::json doc;
  const bool named = wait_until([&] {
    doc = trace(spec->comm_id());
    if (!doc.contains("waits") || doc["waits"].size() < 2) return false;
    for (const auto& wait : doc["waits"]) {
      if (!wait["stalled"].get<bool>()) return false;
      // Refreshed while the wait lasts: the stopped rank's keep-alives have stopped.
      if (wait["peer_rank"] == 2 && wait["peer_state"] != "silent") return false;
    }
    return doc["behind_rank"] == 2;
  }, 40s, 100ms);
  ::kill(stopped, SIGCONT);
  run.join();
  ASSERT_TRUE(named) << "the trace never named rank 2, silent, with stalled waits:\n" << doc.dump(2);
  EXPECT_EQ(doc["behind_node_id"], "node-c");
  EXPECT_EQ(doc["behind_device_id"], "node-c/0");
  EXPECT_EQ(doc["state"], "stalled");
  // Every wait is for rank 2 or for a rank that itself waits for rank 2 (a ring passes the
  // wait on); at least one is on a link to node-c.
  bool on_link_to_c = false;
  for (const auto& wait : doc["waits"]) {
    const int peer = wait["peer_rank"];
    EXPECT_TRUE(peer == 2 || doc["ranks"][peer]["ops"].back()["waiting_on_rank"] == 2) << doc.dump(2);
    if (peer == 2) {
      on_link_to_c = true;
      EXPECT_EQ(wait["peer_node_id"], "node-c");
      EXPECT_EQ(wait["link"], "tcp");
    }
  }
  EXPECT_TRUE(on_link_to_c) << doc.dump(2);
  EXPECT_FALSE(doc["ranks"][2]["answered"].get<bool>());
  for (int rank : {0, 1}) {
    const auto& last = doc["ranks"][rank]["ops"].back();
    EXPECT_EQ(last["collective"], "all_reduce");
    EXPECT_EQ(last["state"], "running");
    EXPECT_TRUE(last["stalled"].get<bool>());
  }
  EXPECT_NE(doc["verdict"].get<std::string>().find("rank 2 (node-c/0 on node node-c) is behind"), std::string::npos)
      << doc["verdict"];
  EXPECT_NE(doc["verdict"].get<std::string>().find("(stalled: peer silent for"), std::string::npos)
      << doc["verdict"];
  // The stall went to a waiting daemon's log, naming the peer and its device.
  const std::string logs = pool_.daemon("node-a").stdout_text() + pool_.daemon("node-b").stdout_text();
  EXPECT_NE(logs.find("stalled: waiting for peer rank 2 (node-c/0)"), std::string::npos) << logs;
  // Running again, node-c completes the held all-reduce, correctly.
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->results_size(), 3);
  for (const auto& r : held->results()) EXPECT_EQ(r.wrong(), 0u);
}

TEST_F(CommsTrace, UnknownCommunicatorIsNotFound) {
  ASSERT_OK_POOL(pool_.start_default());
  Completed out = run(pool_.dir(), TGCTL_PATH,
                      {"comms", "trace", "comm-nope", "--controller", pool_.controller_address()});
  EXPECT_EQ(out.exit_status, 1);
  EXPECT_NE(out.err.find("no communicator comm-nope"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("NOT_FOUND"), std::string::npos) << out.err;
}

}  // namespace
}  // namespace tg::testing
