// The addresses daemons advertise: never loopback to a controller on another host (refused
// at start, exit 2, naming the flag to set), never the host name (Debian maps it to
// 127.0.1.1); a daemon listening on 0.0.0.0 advertises the address it reaches the
// controller from, for its node service and its collectives data port alike.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pool.h"
#include "test_security.h"

namespace tg::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// An address of another host: nothing is sent to it, the daemon refuses before connecting.
constexpr const char* kRemoteController = "10.255.255.1:7070";

TEST(Advertise, DaemonRefusesToAdvertiseLoopbackToARemoteController) {
  TempDir dir;
  const std::string state = "--state-dir=" + dir.file("state");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--listen", "127.0.0.1:0"},
            "--advertise: this daemon would advertise the loopback address 127.0.0.1 (from "
            "--listen 127.0.0.1:0) to the controller at 10.255.255.1:7070 on another host"},
           {{"--listen", "0.0.0.0:0", "--advertise", "localhost"},
            "set --advertise HOST to an address of this host that the other hosts reach"},
           {{"--listen", "0.0.0.0:0", "--advertise", "10.1.2.3", "--data-listen", "127.0.0.1:0"},
            "--data-listen: the collectives' data port 127.0.0.1:0 is a loopback address"},
       }) {
    std::vector<std::string> args = {"--controller", kRemoteController, state, "--insecure"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    SCOPED_TRACE(::testing::PrintToString(args));
    const Completed done = run(dir, TGD_PATH, args, 20s);
    EXPECT_EQ(done.exit_status, 2) << done.err;
    EXPECT_THAT(done.err, HasSubstr(c.message));
  }
}

TEST(Advertise, WildcardDaemonAdvertisesTheAddressItReachesTheControllerFrom) {
  Pool pool;
  ASSERT_TRUE(pool.start_controller().ok());
  const std::string stem = pool.dir().file("wildcard");
  std::vector<std::string> args = {
      "--controller", pool.controller_address(), "--listen", "0.0.0.0:0", "--cpu-devices", "1",
      "--device-memory", "64M", "--state-dir", pool.dir().file("state-wildcard"), "--name",
      "wildcard", "--port-file", stem + ".port"};
  const std::vector<std::string> tls = tls_flags_for_node("wildcard");
  args.insert(args.end(), tls.begin(), tls.end());
  auto daemon = Process::spawn(TGD_PATH, args, stem + ".out", stem + ".err");
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  auto address = read_port_file(stem + ".port", **daemon);
  ASSERT_TRUE(address.ok()) << address.status();
  // The controller listens on 127.0.0.1: the route toward it leaves from 127.0.0.1, not
  // from whatever the host name resolves to.
  EXPECT_THAT(*address, StartsWith("127.0.0.1:"));
  ASSERT_TRUE(pool.wait_for_node("wildcard", tgrack::v1::NODE_STATE_UP));
  auto nodes = pool.client().nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ((*nodes)[0].address(), *address);
  EXPECT_THAT((*nodes)[0].data_address(), StartsWith("127.0.0.1:"));
  EXPECT_NE((*nodes)[0].data_address(), *address);
}

TEST(Advertise, DaemonRegistersTheAdvertisedHostAndRack) {
  Pool pool;
  ASSERT_TRUE(pool.start_controller().ok());
  pool.daemon_args["a"] = {"--advertise", "localhost", "--rack", "rack-7"};
  ASSERT_TRUE(pool.start_daemon("a").ok());
  ASSERT_TRUE(pool.wait_for_node("a", tgrack::v1::NODE_STATE_UP));
  auto nodes = pool.client().nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_THAT((*nodes)[0].address(), StartsWith("localhost:"));
  EXPECT_EQ((*nodes)[0].rack(), "rack-7");
  const Completed listed = run(pool.dir(), TGCTL_PATH,
                               {"--controller", pool.controller_address(), "nodes"}, 20s);
  ASSERT_EQ(listed.exit_status, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("RACK"));
  EXPECT_THAT(listed.out, HasSubstr("rack-7"));
}

}  // namespace
}  // namespace tg::testing
