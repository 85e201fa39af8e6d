// The data-plane listener against careless and hostile peers on loopback: an idle or
// half-sent handshake never delays anyone else's, handshakes and unclaimed connections end
// at their timeouts, too many handshakes at once are refused, every connection it gives up
// is closed (no descriptor left behind), and out of descriptors it closes what it cannot
// take and recovers.
#include "collectives/transport/tcp/listener.h"

#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "raw_socket.h"

namespace tg::coll::tcp {
namespace {

using namespace std::chrono_literals;
using namespace tg::raw;
using Clock = std::chrono::steady_clock;

int port_of(const Listener& listener) {
  const std::string address = listener.address();
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A connection that completed its handshake for `comm`, rank 0 to rank 1, stream `stream`.
int handshaken(int port, const std::string& comm, uint32_t stream = 0) {
  const int fd = connect_raw(port);
  if (fd >= 0 && !send_bytes(fd, encode_handshake({comm, 0, 1, stream}))) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(DataListener, IdleAndHalfSentHandshakesDoNotDelayOthers) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  const int idle = connect_raw(port);  // Connects, says nothing.
  const int half = connect_raw(port);  // Starts a handshake and stops halfway.
  ASSERT_TRUE(send_bytes(half, encode_handshake({"comm-x", 0, 1, 0}).substr(0, 7)));
  const int good = handshaken(port, "comm-a");
  ASSERT_GE(good, 0);
  // Well inside the listener's 5 s handshake timeout: only a listener that reads handshakes
  // side by side can have taken the good one by then.
  auto taken = listener.take({"comm-a", 0, 1, 0}, Clock::now() + 2s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(*taken);
  for (int fd : {idle, half, good}) ::close(fd);
}

TEST(DataListener, HandshakesAndUnclaimedConnectionsEndAtTheirTimeouts) {
  Listener listener(ListenerLimits{.handshake_timeout = 200ms, .unclaimed_timeout = 200ms});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  const int idle = connect_raw(port);
  const int unclaimed = handshaken(port, "comm-never-formed");
  EXPECT_TRUE(closed_by_server(idle, 10s)) << "a connection without a handshake stays open";
  EXPECT_TRUE(closed_by_server(unclaimed, 10s)) << "an unclaimed connection stays open";
  ::close(idle);
  ::close(unclaimed);
}

TEST(DataListener, HandshakesOverTheLimitAreRefused) {
  Listener listener(ListenerLimits{.handshake_timeout = 60s, .max_pending_handshakes = 2});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  std::vector<int> idle = {connect_raw(port), connect_raw(port)};
  const int third = connect_raw(port);
  EXPECT_TRUE(closed_by_server(third, 10s)) << "a third handshake waits beside two";
  ::close(third);
  for (int fd : idle) ::close(fd);  // Frees both places once the listener sees them close.
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    const int good = handshaken(port, "comm-b");
    auto taken = listener.take({"comm-b", 0, 1, 0}, Clock::now() + 200ms);
    ::close(good);
    if (taken.ok()) {
      ::close(*taken);
      return;
    }
  }
  FAIL() << "no handshake got through after the idle connections closed";
}

TEST(DataListener, EveryConnectionItGivesUpIsClosed) {
  const int before = open_descriptors();
  {
    Listener listener(ListenerLimits{.handshake_timeout = 200ms, .unclaimed_timeout = 200ms});
    ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
    const int port = port_of(listener);
    const int listening = open_descriptors();  // Listener, wake pipe, reserve descriptor.
    std::vector<int> peers;
    peers.push_back(connect_raw(port));                                      // Silent.
    peers.push_back(handshaken(port, "comm-c"));                             // Never claimed.
    peers.push_back(connect_raw(port));                                      // Bad magic.
    ASSERT_TRUE(send_bytes(peers.back(), std::string(20, 'x')));
    peers.push_back(connect_raw(port));                                      // Oversized id.
    std::string oversized = encode_handshake({"", 0, 1, 0});
    oversized[4] = oversized[5] = oversized[6] = '\x7f';
    ASSERT_TRUE(send_bytes(peers.back(), oversized));
    for (int fd : peers) EXPECT_TRUE(closed_by_server(fd, 10s));
    for (int fd : peers) ::close(fd);
    // Every accepted socket is closed by the time its peer sees the close.
    EXPECT_EQ(open_descriptors(), listening);
  }
  EXPECT_EQ(open_descriptors(), before);
}

TEST(DataListener, OutOfDescriptorsItClosesWhatItCannotTakeAndRecovers) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  const int client = unconnected_socket();
  {
    DescriptorExhaustion exhausted;
    ASSERT_TRUE(connect_to(client, port));
    EXPECT_TRUE(closed_by_server(client, 5s))
        << "a connection the listener cannot accept waits in its backlog";
  }
  ::close(client);
  const int good = handshaken(port, "comm-d");
  auto taken = listener.take({"comm-d", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(*taken);
  ::close(good);
}

}  // namespace
}  // namespace tg::coll::tcp
