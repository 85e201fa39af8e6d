// Elastic data-parallel training end to end: tg-example-mlp over three real daemons, one of
// them killed with kill -9 while training is held before a known step (--pause-before-step)
// and restarted before a later one. The example must name the lost node, go on on the other
// two, take the node back at a step boundary, and end within 10% of an undisturbed run's
// final loss. Nothing waits on time: the test acts while the example waits for a file.
#include <fstream>
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/graph_builder.h"
#include "client/session.h"
#include "pool.h"

namespace tg::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = tgrack::v1;

const std::vector<std::string> kNodes = {"node-a", "node-b", "node-c"};
constexpr int kSteps = 12;
constexpr int kKillBefore = 5;     // node-a is killed while the example waits before this step,
constexpr int kRestartBefore = 9;  // and restarted while it waits before this one.

// Loss per training step, as the example prints it ("step   3  loss 0.123456  on ...").
std::map<int, float> step_losses(const std::string& out, int* lines) {
  static const std::regex kLine(R"(step +(\d+)  loss ([0-9.eE+-]+)  on (\d+) device)");
  std::map<int, float> losses;
  *lines = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), kLine); it != std::sregex_iterator(); ++it) {
    losses[std::stoi((*it)[1])] = std::stof((*it)[2]);
    ++*lines;
  }
  return losses;
}

// The devices the example says step `step` ran on.
int devices_of_step(const std::string& out, int step) {
  const std::regex line("step +" + std::to_string(step) + "  loss [0-9.eE+-]+  on (\\d+) device");
  std::smatch match;
  return std::regex_search(out, match, line) ? std::stoi(match[1]) : -1;
}

void touch(const std::string& path) { std::ofstream(path) << "go\n"; }

class ElasticTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start_controller().ok());
    for (const std::string& name : kNodes) {
      pool_.daemon_args[name] = {"--collective-dead-after", "3s"};
      ASSERT_TRUE(pool_.start_daemon(name).ok()) << name;
    }
    for (const std::string& name : kNodes) {
      ASSERT_TRUE(pool_.wait_for_node(name, v1::NODE_STATE_UP)) << name;
    }
  }
  std::vector<std::string> training_args() const {
    // 48 rows split evenly over 6 devices, and over the 4 that remain.
    return {"--controller", pool_.controller_address(), "--steps", std::to_string(kSteps),
            "--batch", "48", "--hidden", "8"};
  }
  // Waits until the example prints `text`; fails at once if it exits first.
  absl::Status wait_for_output(Process& example, const std::string& text) {
    bool exited = false;
    const bool seen = wait_until([&] {
      if (example.stdout_text().find(text) != std::string::npos) return true;
      exited = example.wait_exit(0ms).has_value();
      return exited;
    }, 60s);
    if (seen && !exited) return absl::OkStatus();
    return absl::DeadlineExceededError("tg-example-mlp never printed '" + text + "'" +
                                       (exited ? " (it exited)" : "") + ":\n" +
                                       example.stdout_text() + example.stderr_text());
  }
  Pool pool_;
};

TEST_F(ElasticTraining, SurvivesAKilledDaemonAndTakesItBackWithinTenPercentOfTheLoss) {
  const Completed undisturbed = run(pool_.dir(), EXAMPLE_MLP_PATH, training_args(), 120s);
  ASSERT_EQ(undisturbed.exit_status, 0) << undisturbed.out << undisturbed.err;
  int undisturbed_lines = 0;
  const std::map<int, float> reference = step_losses(undisturbed.out, &undisturbed_lines);
  ASSERT_EQ(reference.size(), static_cast<size_t>(kSteps)) << undisturbed.out;
  EXPECT_EQ(devices_of_step(undisturbed.out, kSteps), 6) << undisturbed.out;

  const std::string kill_file = pool_.dir().file("kill-done");
  const std::string restart_file = pool_.dir().file("restart-done");
  std::vector<std::string> args = training_args();
  for (const std::string& pause : {std::to_string(kKillBefore) + "=" + kill_file,
                                   std::to_string(kRestartBefore) + "=" + restart_file}) {
    args.push_back("--pause-before-step");
    args.push_back(pause);
  }
  auto example = Process::spawn(EXAMPLE_MLP_PATH, args, pool_.dir().file("disturbed.out"),
                                pool_.dir().file("disturbed.err"));
  ASSERT_TRUE(example.ok()) << example.status();
  Process& training = **example;

  {
    absl::Status paused = wait_for_output(training, "paused before step " + std::to_string(kKillBefore));
    ASSERT_TRUE(paused.ok()) << paused;
  }
  pool_.kill_daemon("node-a");
  touch(kill_file);

  {
    absl::Status paused = wait_for_output(training, "paused before step " + std::to_string(kRestartBefore));
    ASSERT_TRUE(paused.ok()) << paused;
  }
  ASSERT_TRUE(pool_.start_daemon("node-a").ok());
  // The restarted daemon is the one listed (the killed one's entry may still be UP).
  ASSERT_TRUE(wait_until([&] {
    auto nodes = pool_.client().nodes();
    if (!nodes.ok()) return false;
    for (const v1::NodeInfo& node : *nodes) {
      if (node.name() == "node-a" && node.state() == v1::NODE_STATE_UP &&
          node.address() == pool_.daemon_address("node-a")) {
        return true;
      }
    }
    return false;
  }, 30s));
  touch(restart_file);

  const std::optional<int> exit_status = training.wait_exit(120s);
  const std::string out = training.stdout_text();
  ASSERT_EQ(exit_status, 0) << out << training.stderr_text();
  EXPECT_THAT(out, HasSubstr("step 5 failed: node 'node-a' was lost"));
  EXPECT_THAT(out, HasSubstr("step 5: planned again on 4 device(s) "
                             "(node-b/0,node-b/1,node-c/0,node-c/1) with the weights of step 4"));
  EXPECT_THAT(out, HasSubstr("step 9: node 'node-a' rejoined"));
  EXPECT_THAT(out, HasSubstr("step 9: planned again on 6 device(s)"));
  EXPECT_EQ(devices_of_step(out, kKillBefore - 1), 6) << out;
  EXPECT_EQ(devices_of_step(out, kKillBefore), 4) << out;
  EXPECT_EQ(devices_of_step(out, kRestartBefore - 1), 4) << out;
  EXPECT_EQ(devices_of_step(out, kRestartBefore), 6) << out;

  // Every step ran and was counted once: the failed step ran again, none was skipped.
  int lines = 0;
  const std::map<int, float> losses = step_losses(out, &lines);
  ASSERT_EQ(losses.size(), static_cast<size_t>(kSteps)) << out;
  EXPECT_EQ(lines, kSteps) << out;
  EXPECT_LT(losses.at(kSteps), losses.at(1)) << out;
  // Each step, the re-run one included, trained what the undisturbed run trained.
  for (const auto& [step, loss] : losses) {
    EXPECT_NEAR(loss, reference.at(step), 0.1f * reference.at(step)) << "step " << step << "\n" << out;
  }
  const float expected = reference.at(kSteps);
  EXPECT_NEAR(losses.at(kSteps), expected, 0.1f * expected)
      << "final loss " << losses.at(kSteps) << ", undisturbed " << expected << "\n" << out;
  std::printf("final loss: undisturbed %.6f, with node-a killed before step %d and back before "
              "step %d %.6f\n", expected, kKillBefore, kRestartBefore, losses.at(kSteps));
}

TEST_F(ElasticTraining, PausesRefuseBadStepsAndGiveUpPastTheirTimeout) {
  for (const std::string& bad : {"0=go", "x=go", "3", "3="}) {
    const Completed refused = run(pool_.dir(), EXAMPLE_MLP_PATH,
                                  {"--controller", pool_.controller_address(),
                                   "--pause-before-step", bad});
    EXPECT_EQ(refused.exit_status, 2) << bad << "\n" << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("--pause-before-step")) << bad;
    EXPECT_THAT(refused.err, HasSubstr("'" + bad + "' is not STEP=FILE")) << bad;
  }
  const std::string never = pool_.dir().file("never-made");
  std::vector<std::string> args = training_args();
  args.insert(args.end(), {"--pause-before-step", "2=" + never, "--pause-timeout", "1"});
  const Completed gave_up = run(pool_.dir(), EXAMPLE_MLP_PATH, args, 60s);
  EXPECT_EQ(gave_up.exit_status, 1) << gave_up.out << gave_up.err;
  EXPECT_THAT(gave_up.out, HasSubstr("step   1  loss"));
  EXPECT_THAT(gave_up.err, HasSubstr("DEADLINE_EXCEEDED: paused before step 2: " + never +
                                     " did not appear within 1 s (--pause-timeout)"));
}

// Client::fetch reads a replicated tensor from a holder that answers when the first is dead.
TEST_F(ElasticTraining, FetchReadsAReplicaWhoseHolderIsAlive) {
  auto session = Session::open(pool_.client(), std::chrono::seconds(30), "replica-test");
  ASSERT_TRUE(session.ok()) << session.status();
  GraphBuilder g;
  Value w = g.input("w", v1::DTYPE_F32, {3});
  g.output(w * g.scalar(2), "doubled");
  auto graph = g.build();
  ASSERT_TRUE(graph.ok()) << graph.status();
  for (v1::Node& node : *graph->mutable_nodes()) {
    if (node.name() != "w") continue;
    for (const std::string& name : kNodes) {
      v1::DeviceRef* device = node.mutable_sharding()->add_devices();
      device->set_node(name);
      device->set_index(0);
    }
    node.mutable_sharding()->set_replicated(true);
  }
  HostTensor w_value(TensorType{v1::DTYPE_F32, {3}});
  for (int i = 0; i < 3; ++i) w_value.values<float>()[i] = float(i + 1);
  RunOptions options = (*session)->options();
  options.keep = {"doubled"};
  auto ran = pool_.client().run(*graph, {{"w", w_value}}, options);
  ASSERT_TRUE(ran.ok()) << ran.status();
  ASSERT_EQ(ran->kept.size(), 1u);
  const RemoteTensor& doubled = ran->kept[0];
  ASSERT_TRUE(doubled.layout().replicated());
  ASSERT_GE(doubled.pieces_size(), 2);

  const std::string first_holder = doubled.pieces(0).device().node();
  pool_.kill_daemon(first_holder);
  auto fetched = pool_.client().fetch(doubled);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->values<float>()[0], 2.0f);
  EXPECT_EQ(fetched->values<float>()[2], 6.0f);

  // With every holder dead the error says that none answers.
  for (const std::string& name : kNodes) pool_.kill_daemon(name);
  auto none = pool_.client().fetch(doubled);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
  EXPECT_THAT(none.status().message(), HasSubstr("no holder of remote tensor '" + doubled.id() + "' answers"));
}

}  // namespace
}  // namespace tg::testing
