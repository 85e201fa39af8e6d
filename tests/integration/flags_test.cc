// Flags that make no sense are refused at start: every program exits 2 with a message naming
// the flag, before it serves, connects or runs anything. And the MLP example trains with any
// positive step count.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pool.h"

namespace tg::testing {
namespace {

using ::testing::HasSubstr;

struct Refusal {
  const char* program;
  std::vector<std::string> args;
  std::string message;  // A fragment of stderr that names the flag and the rule.
};

class FlagsTest : public ::testing::Test {
 protected:
  void expect_refused(const Refusal& r) {
    SCOPED_TRACE(std::string(r.program) + " " + ::testing::PrintToString(r.args));
    const Completed done = run(dir_, r.program, r.args, 20s);
    EXPECT_EQ(done.exit_status, 2) << done.err;
    EXPECT_THAT(done.err, HasSubstr(r.message));
  }

  TempDir dir_;
};

TEST_F(FlagsTest, DaemonRefusesAddressesWithoutPortsAndTinyDeviceMemory) {
  const std::string state = "--state-dir=" + dir_.file("state");
  for (const Refusal& r : std::vector<Refusal>{
           {TGD_PATH, {"--controller", "127.0.0.1", state},
            "--controller: '127.0.0.1' is not HOST:PORT with a port from 1 to 65535"},
           {TGD_PATH, {"--controller", "127.0.0.1:0", state}, "--controller: '127.0.0.1:0'"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--listen", "127.0.0.1", state},
            "--listen: '127.0.0.1' is not HOST:PORT with a port from 0 to 65535"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--metrics", "0.0.0.0:70000", state},
            "--metrics: '0.0.0.0:70000'"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--device-memory", "256", state},
            "--device-memory: '256' is 256 B, less than the minimum of 1.0 MiB"},
       }) {
    expect_refused(r);
  }
}

TEST_F(FlagsTest, DaemonRefusesCollectiveDetectionTimesOutOfOrder) {
  const std::string state = "--state-dir=" + dir_.file("state");
  for (const Refusal& r : std::vector<Refusal>{
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--collective-stall-after", "0s", state},
            "--collective-stall-after: '0s' is not a positive duration"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--collective-dead-after", "soon", state},
            "--collective-dead-after: 'soon' is not a positive duration"},
           {TGD_PATH,
            {"--controller", "127.0.0.1:1", "--collective-stall-after", "10s", "--collective-dead-after", "5s",
             state},
            "--collective-stall-after (10s) must be shorter than --collective-dead-after (5s)"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--collective-keepalive-interval", "-1s", state},
            "--collective-keepalive-interval: '-1s' is not a positive duration"},
           {TGD_PATH, {"--controller", "127.0.0.1:1", "--collective-keepalive-interval", "2s", state},
            "--collective-keepalive-interval (2s) must be shorter than --collective-stall-after (2s)"},
           {TGD_PATH,
            {"--controller", "127.0.0.1:1", "--collective-stall-after", "1s", "--collective-keepalive-interval",
             "1500ms", state},
            "--collective-keepalive-interval (1500ms) must be shorter than --collective-stall-after (1s)"}}) {
    expect_refused(r);
  }
}

TEST_F(FlagsTest, ControllerRefusesBadAddressesAndZeroDurations) {
  for (const Refusal& r : std::vector<Refusal>{
           {TGCONTROLLER_PATH, {"--listen", "127.0.0.1"}, "--listen: '127.0.0.1' is not HOST:PORT"},
           {TGCONTROLLER_PATH, {"--listen", "127.0.0.1:0", "--heartbeat-interval", "0s"},
            "--heartbeat-interval: '0s' is not a positive duration"},
           {TGCONTROLLER_PATH, {"--listen", "127.0.0.1:0", "--down-after", "0ms"},
            "--down-after: '0ms' is not a positive duration"},
       }) {
    expect_refused(r);
  }
}

TEST_F(FlagsTest, TgctlRefusesEmptySizeRangesZeroIntervalsAndPortlessControllers) {
  for (const Refusal& r : std::vector<Refusal>{
           {TGCTL_PATH, {"bench", "allreduce", "--min", "1M", "--max", "1K"},
            "--min: '1M' is larger than --max '1K'"},
           {TGCTL_PATH, {"bench", "allreduce", "--min", "0"},
            "--min: '0' is 0 B, less than the minimum of 1 B"},
           {TGCTL_PATH, {"bench", "allreduce", "--dtype", "f64", "--min", "1", "--max", "4"},
            "--max: '4' is smaller than one f64 element (8 B): no size to run"},
           {TGCTL_PATH, {"bench", "allreduce", "--devices", "node-a/0,node-b"},
            "--devices: 'node-b' is not NODE/INDEX (e.g. node-a/0)"},
           {TGCTL_PATH, {"bench", "allreduce", "--factor", "1"}, "--factor"},
           {TGCTL_PATH, {"bench", "allreduce", "--iters", "0"}, "--iters"},
           {TGCTL_PATH, {"top", "--interval", "0"}, "--interval"},
           {TGCTL_PATH, {"reset", "node-a/0", "--drain-timeout", "0s"},
            "--drain-timeout: '0s' is not positive"},
           {TGCTL_PATH, {"--controller", "127.0.0.1", "nodes"},
            "--controller: '127.0.0.1' is not HOST:PORT"},
       }) {
    expect_refused(r);
  }
}

// Devices are named NODE/INDEX everywhere, as tgctl devices prints them; the old NODE:INDEX
// of bench --devices and reset is still read, with a hint naming the new form.
TEST_F(FlagsTest, TgctlReadsTheOldDeviceFormWithAHint) {
  // No controller listens on port 1: the command goes as far as connecting, then fails.
  const Completed bench = run(dir_, TGCTL_PATH,
                              {"--controller", "127.0.0.1:1", "bench", "allreduce", "--devices",
                               "node-a/0,node-b:1", "--timeout-ms", "100"});
  EXPECT_EQ(bench.exit_status, 1) << bench.err;
  EXPECT_THAT(bench.err, HasSubstr("--devices: 'node-b:1' is the old NODE:INDEX form; devices "
                                   "are named NODE/INDEX: node-b/1"));
  EXPECT_THAT(bench.err, ::testing::Not(HasSubstr("'node-a/0'")));
  EXPECT_THAT(bench.err, HasSubstr("UNAVAILABLE"));
  const Completed reset = run(dir_, TGCTL_PATH, {"--controller", "127.0.0.1:1", "reset", "node-a:0"});
  EXPECT_THAT(reset.err, HasSubstr("reset: 'node-a:0' is the old NODE:INDEX form; devices are "
                                   "named NODE/INDEX: node-a/0"));
  EXPECT_THAT(reset.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(FlagsTest, ExamplesRefuseZeroStepsAndPortlessControllers) {
  for (const Refusal& r : std::vector<Refusal>{
           {EXAMPLE_MLP_PATH, {"--steps", "0"}, "--steps"},
           {EXAMPLE_MLP_PATH, {"--learning-rate", "0"}, "--learning-rate"},
           {EXAMPLE_MLP_PATH, {"--controller", "127.0.0.1"}, "--controller: '127.0.0.1'"},
           {EXAMPLE_GRAPH_PATH, {"--controller", "127.0.0.1"}, "--controller: '127.0.0.1'"},
       }) {
    expect_refused(r);
  }
}

// One or two steps used to fail: the last step's loss on a new batch was compared with the
// first step's loss on another batch. The example now measures both on the first batch.
TEST(MlpExample, TrainsWithOneAndWithTwoSteps) {
  Pool pool;
  ASSERT_TRUE(pool.start_default().ok());
  for (const char* steps : {"1", "2"}) {
    const Completed done = run(pool.dir(), EXAMPLE_MLP_PATH,
                               {"--controller", pool.controller_address(), "--steps", steps}, 60s);
    EXPECT_EQ(done.exit_status, 0) << "--steps " << steps << "\n" << done.out << done.err;
    EXPECT_THAT(done.out, HasSubstr("loss on the first batch")) << "--steps " << steps;
    EXPECT_THAT(done.out, HasSubstr(": OK")) << "--steps " << steps;
  }
}

}  // namespace
}  // namespace tg::testing
