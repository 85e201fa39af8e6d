// The sockets library (net/sockets.h, net/host_port.h) on loopback: HOST:PORT with IPv6 in
// brackets parsed and written back, malformed ones refused naming the text, a listener on
// IPv4 and IPv6 loopback reached by a dial, a dial to a closed port refused naming it, a dial
// that cannot complete ending at its deadline, and a stop descriptor waking a poll.
#include "net/sockets.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace tg::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(HostPort, ParsesNamesIPv4AndBracketedIPv6AndWritesThemBack) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"node-a:7072", "node-a", 7072}, Case{"10.0.0.1:0", "10.0.0.1", 0},
                        Case{"[::1]:7072", "::1", 7072}, Case{"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
                        Case{":9464", "", 9464}}) {
    absl::StatusOr<HostPort> parsed = parse_host_port(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status();
    EXPECT_EQ(parsed->host, c.host) << c.text;
    EXPECT_EQ(parsed->port, c.port) << c.text;
    EXPECT_EQ(join_host_port(parsed->host, parsed->port), c.text);
  }
}

TEST(HostPort, RefusesWhatIsNotHostPortNamingIt) {
  for (const char* text : {"node-a", "::1:7072", "[::1]", "[::1:7072", "node:65536", "node:-1",
                           "node:http", "[]:1"}) {
    absl::StatusOr<HostPort> parsed = parse_host_port(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find(std::string("'") + text + "'"), std::string::npos)
        << parsed.status();
  }
}

TEST(Sockets, ADialReachesAListenerOnIPv4AndIPv6Loopback) {
  for (const char* host : {"127.0.0.1", "::1"}) {
    absl::StatusOr<UniqueFd> listening = listen_tcp({host, 0}, 8);
    ASSERT_TRUE(listening.ok()) << host << ": " << listening.status();
    const int port = bound_port(listening->get());
    ASSERT_GT(port, 0);
    absl::StatusOr<UniqueFd> dialed = dial_tcp({host, port}, Clock::now() + 10s);
    ASSERT_TRUE(dialed.ok()) << host << ": " << dialed.status();
    UniqueFd accepted(::accept4(listening->get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(accepted) << host;
  }
}

TEST(Sockets, ADialToAClosedPortIsRefusedNamingIt) {
  int port = 0;
  {
    absl::StatusOr<UniqueFd> listening = listen_tcp({"127.0.0.1", 0}, 1);
    ASSERT_TRUE(listening.ok()) << listening.status();
    port = bound_port(listening->get());
  }  // Closed: nothing listens there now.
  absl::StatusOr<UniqueFd> dialed = dial_tcp({"127.0.0.1", port}, Clock::now() + 10s);
  EXPECT_EQ(dialed.status().code(), absl::StatusCode::kUnavailable) << dialed.status();
  EXPECT_NE(dialed.status().message().find("127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << dialed.status();
}

TEST(Sockets, ASecondListenerOnAPortIsRefusedNamingThePort) {
  absl::StatusOr<UniqueFd> first = listen_tcp({"127.0.0.1", 0}, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = bound_port(first->get());
  absl::StatusOr<UniqueFd> second = listen_tcp({"127.0.0.1", port}, 1);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            "port " + std::to_string(port) + " is already served by another process");
}

TEST(Sockets, ADialEndsAtItsDeadline) {
  // A full backlog: the kernel answers no further handshake, so the connect hangs.
  absl::StatusOr<UniqueFd> listening = listen_tcp({"127.0.0.1", 0}, 0);
  ASSERT_TRUE(listening.ok()) << listening.status();
  const int port = bound_port(listening->get());
  std::vector<UniqueFd> queued;
  absl::Status last;
  for (int i = 0; i < 64 && last.ok(); ++i) {
    absl::StatusOr<UniqueFd> dialed = dial_tcp({"127.0.0.1", port}, Clock::now() + 200ms);
    if (dialed.ok()) {
      queued.push_back(std::move(*dialed));
    } else {
      last = dialed.status();
    }
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kDeadlineExceeded) << last;
}

TEST(Sockets, AStopDescriptorWakesAPollFromAnotherThread) {
  StopFd stop;
  pollfd watched{stop.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&watched, 1, 0), 0);
  std::thread waker([&] { stop.notify(); });
  EXPECT_EQ(::poll(&watched, 1, 10000), 1);
  waker.join();
  stop.drain();
  EXPECT_EQ(::poll(&watched, 1, 0), 0);
}

}  // namespace
}  // namespace tg::net
