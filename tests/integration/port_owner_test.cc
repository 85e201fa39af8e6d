// One owner per port: a second tgcontroller or tgd started on any port a first one already
// serves (gRPC, metrics, collectives data) exits at once with an error naming
// the port, and the first one goes on serving alone.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process.h"
#include "test_security.h"

namespace tg::testing {
namespace {

// A port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

std::string served(int port) {
  return "port " + std::to_string(port) + " is already served by another process";
}

std::unique_ptr<Process> start(const TempDir& dir, const std::string& name,
                               const std::string& binary, std::vector<std::string> args) {
  auto process = Process::spawn(binary, args, dir.file(name + ".out"), dir.file(name + ".err"));
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? std::move(*process) : nullptr;
}

// The first server is up (its last port file, "first.port", is written) and keeps serving
// while a second one, given `second_args`, exits non-zero saying `why`.
void expect_second_refused(const TempDir& dir, const std::string& binary,
                           const std::vector<std::string>& first_args,
                           const std::vector<std::string>& second_args, int port,
                           const std::string& why) {
  auto first = start(dir, "first", binary, first_args);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(read_port_file(dir.file("first.port"), *first).ok()) << first->stderr_text();
  auto second = start(dir, "second", binary, second_args);
  ASSERT_NE(second, nullptr);
  const std::optional<int> exit = second->wait_exit(20s);
  ASSERT_TRUE(exit.has_value()) << "a second server on port " << port << " keeps running";
  EXPECT_NE(*exit, 0);
  const std::string said = second->stdout_text() + second->stderr_text();
  EXPECT_NE(said.find(why), std::string::npos) << said;
  EXPECT_FALSE(first->wait_exit(0ms).has_value()) << first->stderr_text();
}

std::vector<std::string> controller_args(const TempDir& dir, const std::string& name, int listen,
                                         int metrics) {
  // The metrics port file is written last, once every port is bound.
  std::vector<std::string> args = {
      "--listen",  loopback(listen),  "--metrics", loopback(metrics),
      "--port-file", dir.file(name + ".grpc"),
      "--metrics-port-file", dir.file(name + ".port")};
  const std::vector<std::string> tls = tls_flags_for_controller();
  args.insert(args.end(), tls.begin(), tls.end());
  return args;
}

TEST(PortOwner, ASecondControllerOnAServedPortExitsNamingIt) {
  const int grpc = free_port(), metrics = free_port();
  struct Case {
    const char* what;
    std::vector<int> ports;  // gRPC, metrics of the second controller.
    int taken;
    std::string why;
  };
  for (const Case& c :
       {Case{"gRPC", {grpc, 0}, grpc, served(grpc)},
        Case{"metrics", {0, metrics}, metrics, "cannot serve metrics on " + loopback(metrics)}}) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    expect_second_refused(dir, TGCONTROLLER_PATH, controller_args(dir, "first", grpc, metrics),
                          controller_args(dir, "second", c.ports[0], c.ports[1]),
                          c.taken, c.why);
  }
}

std::vector<std::string> daemon_args(const TempDir& dir, const std::string& name, int listen,
                                     int data, int metrics) {
  std::vector<std::string> args = {
      "--controller",  "127.0.0.1:1",           "--listen",      loopback(listen),
      "--data-listen", loopback(data),
      "--metrics",     loopback(metrics),       "--state-dir",   dir.file(name + "-state"),
      "--name",        name,                    "--cpu-devices", "1",
      "--device-memory", "16M",                 "--port-file",   dir.file(name + ".port")};
  const std::vector<std::string> tls = tls_flags_for_node(name);
  args.insert(args.end(), tls.begin(), tls.end());
  return args;
}

TEST(PortOwner, ASecondDaemonOnAServedPortExitsNamingIt) {
  const int grpc = free_port(), data = free_port(), metrics = free_port();
  struct Case {
    const char* what;
    std::vector<int> ports;  // gRPC, data, metrics of the second daemon.
    int taken;
    std::string why;
  };
  for (const Case& c :
       {Case{"gRPC", {grpc, 0, 0}, grpc, served(grpc)},
        Case{"data", {0, data, 0}, data, served(data)},
        Case{"metrics", {0, 0, metrics}, metrics, "cannot serve metrics on " + loopback(metrics)}}) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    expect_second_refused(
        dir, TGD_PATH, daemon_args(dir, "first", grpc, data, metrics),
        daemon_args(dir, "second", c.ports[0], c.ports[1], c.ports[2]), c.taken,
        c.why);
  }
}

}  // namespace
}  // namespace tg::testing
