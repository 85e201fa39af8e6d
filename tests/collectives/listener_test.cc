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
using tg::testing::DescriptorExhaustion;
using tg::testing::open_descriptors;
using tg::testing::RawSocket;
using Clock = std::chrono::steady_clock;

int port_of(const Listener& listener) { return tg::testing::port_of(listener.address()); }

// A connection that completed its handshake for `comm`, rank 0 to rank 1, stream `stream`.
absl::StatusOr<RawSocket> handshaken(int port, const std::string& comm, uint32_t stream = 0) {
  absl::StatusOr<RawSocket> socket = RawSocket::connect(port);
  if (!socket.ok()) return socket;
  if (absl::Status sent = socket->send(encode_handshake({comm, 0, 1, stream})); !sent.ok()) {
    return sent;
  }
  return socket;
}

TEST(DataListener, IdleAndHalfSentHandshakesDoNotDelayOthers) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  RawSocket idle = RawSocket::connect(port).value();  // Connects, says nothing.
  RawSocket half = RawSocket::connect(port).value();  // Starts a handshake and stops halfway.
  ASSERT_TRUE(half.send(encode_handshake({"comm-x", 0, 1, 0}).substr(0, 7)).ok());
  absl::StatusOr<RawSocket> good = handshaken(port, "comm-a");
  ASSERT_TRUE(good.ok()) << good.status();
  // Well inside the listener's 5 s handshake timeout: only a listener that reads handshakes
  // side by side can have taken the good one by then.
  auto taken = listener.take({"comm-a", 0, 1, 0}, Clock::now() + 2s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(*taken);
}

TEST(DataListener, HandshakesAndUnclaimedConnectionsEndAtTheirTimeouts) {
  Listener listener(ListenerLimits{.handshake_timeout = 200ms, .unclaimed_timeout = 200ms});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  RawSocket idle = RawSocket::connect(port).value();
  RawSocket unclaimed = handshaken(port, "comm-never-formed").value();
  EXPECT_TRUE(idle.read_until_closed(10s).ok()) << "a connection without a handshake stays open";
  EXPECT_TRUE(unclaimed.read_until_closed(10s).ok()) << "an unclaimed connection stays open";
}

TEST(DataListener, HandshakesOverTheLimitAreRefused) {
  Listener listener(ListenerLimits{.handshake_timeout = 60s, .max_pending_handshakes = 2});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  std::vector<RawSocket> idle;
  for (int i = 0; i < 2; ++i) idle.push_back(RawSocket::connect(port).value());
  {
    RawSocket third = RawSocket::connect(port).value();
    EXPECT_TRUE(third.read_until_closed(10s).ok()) << "a third handshake waits beside two";
  }
  idle.clear();  // Frees both places once the listener sees them close.
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    absl::StatusOr<RawSocket> good = handshaken(port, "comm-b");
    auto taken = listener.take({"comm-b", 0, 1, 0}, Clock::now() + 200ms);
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
    std::vector<RawSocket> peers;
    peers.push_back(RawSocket::connect(port).value());                       // Silent.
    peers.push_back(handshaken(port, "comm-c").value());                     // Never claimed.
    peers.push_back(RawSocket::connect(port).value());                       // Bad magic.
    ASSERT_TRUE(peers.back().send(std::string(20, 'x')).ok());
    peers.push_back(RawSocket::connect(port).value());                       // Oversized id.
    std::string oversized = encode_handshake({"", 0, 1, 0});
    oversized[4] = oversized[5] = oversized[6] = '\x7f';
    ASSERT_TRUE(peers.back().send(oversized).ok());
    for (RawSocket& peer : peers) EXPECT_TRUE(peer.read_until_closed(10s).ok());
    peers.clear();
    // Every accepted socket is closed by the time its peer sees the close.
    EXPECT_EQ(open_descriptors(), listening);
  }
  EXPECT_EQ(open_descriptors(), before);
}

TEST(DataListener, OutOfDescriptorsItClosesWhatItCannotTakeAndRecovers) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  const int port = port_of(listener);
  {
    RawSocket client = RawSocket::unconnected().value();
    DescriptorExhaustion exhausted;
    ASSERT_TRUE(client.connect_to(port).ok());
    EXPECT_TRUE(client.read_until_closed(5s).ok())
        << "a connection the listener cannot accept waits in its backlog";
  }
  RawSocket good = handshaken(port, "comm-d").value();
  auto taken = listener.take({"comm-d", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(*taken);
}

}  // namespace
}  // namespace tg::coll::tcp
