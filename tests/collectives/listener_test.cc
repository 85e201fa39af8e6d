// The data-plane listener against careless and hostile peers on loopback: an idle or
// half-sent handshake never delays anyone else's, handshakes and unclaimed connections end
// at their timeouts, too many handshakes or connections at once are refused while those
// held go on, a peer without the communicator's secret is refused and counted, a listener
// without it is refused by the dialer, a proof that arrives before its secret waits for it,
// it listens on IPv6 too, every connection it gives up is closed (no descriptor left
// behind), and out of descriptors it closes what it cannot take and recovers.
#include "collectives/transport/tcp/listener.h"

#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/transport/tcp/handshake.h"
#include "net/sockets.h"
#include "raw_socket.h"

namespace tg::coll::tcp {
namespace {

using namespace std::chrono_literals;
using tg::testing::DescriptorExhaustion;
using tg::testing::open_descriptors;
using tg::testing::RawSocket;
using Clock = std::chrono::steady_clock;

int port_of(const Listener& listener) { return tg::testing::port_of(listener.address()); }

const std::string kSecret(32, 's');

// Runs the dialer's side of the handshake for `comm`, rank 0 to rank 1, on `socket`.
absl::Status prove(RawSocket& socket, const std::string& comm, const std::string& secret,
                   uint32_t stream = 0) {
  return dialer_handshake(socket.fd(), {comm, 0, 1, stream}, secret, Clock::now() + 10s).status();
}

// A connection that completed its handshake for `comm`, rank 0 to rank 1, stream `stream`;
// the listener must expect `comm` with kSecret.
absl::StatusOr<RawSocket> handshaken(int port, const std::string& comm, uint32_t stream = 0) {
  absl::StatusOr<RawSocket> socket = RawSocket::connect(port);
  if (!socket.ok()) return socket;
  if (absl::Status proven = prove(*socket, comm, kSecret, stream); !proven.ok()) return proven;
  return socket;
}

TEST(DataListener, IdleAndHalfSentHandshakesDoNotDelayOthers) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  listener.expect("comm-a", kSecret);
  const int port = port_of(listener);
  RawSocket idle = RawSocket::connect(port).value();  // Connects, says nothing.
  RawSocket half = RawSocket::connect(port).value();  // Starts a handshake and stops halfway.
  ASSERT_TRUE(half.send(encode_hello({"comm-a", 0, 1, 0}, std::string(kNonceBytes, 'n')).substr(0, 7)).ok());
  absl::StatusOr<RawSocket> good = handshaken(port, "comm-a");
  ASSERT_TRUE(good.ok()) << good.status();
  // Well inside the listener's 5 s handshake timeout: only a listener that reads handshakes
  // side by side can have taken the good one by then.
  auto taken = listener.take({"comm-a", 0, 1, 0}, Clock::now() + 2s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(taken->fd);
}

TEST(DataListener, HandshakesAndUnclaimedConnectionsEndAtTheirTimeouts) {
  Listener listener(ListenerLimits{.handshake_timeout = 200ms, .unclaimed_timeout = 200ms});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  listener.expect("comm-never-formed", kSecret);
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
  EXPECT_EQ(listener.counters().over_limit, 1u);
  idle.clear();  // Frees both places once the listener sees them close.
  listener.expect("comm-b", kSecret);
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    absl::StatusOr<RawSocket> good = handshaken(port, "comm-b");
    auto taken = listener.take({"comm-b", 0, 1, 0}, Clock::now() + 200ms);
    if (taken.ok()) {
      ::close(taken->fd);
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
    listener.expect("comm-c", kSecret);
    const int listening = open_descriptors();  // Listener, wake pipe, reserve descriptor.
    std::vector<RawSocket> peers;
    peers.push_back(RawSocket::connect(port).value());                       // Silent.
    peers.push_back(handshaken(port, "comm-c").value());                     // Never claimed.
    peers.push_back(RawSocket::connect(port).value());                       // Bad magic.
    ASSERT_TRUE(peers.back().send(std::string(kHelloFixedBytes, 'x')).ok());
    peers.push_back(RawSocket::connect(port).value());                       // Oversized id.
    std::string oversized = encode_hello({"", 0, 1, 0}, std::string(kNonceBytes, 'n'));
    oversized[4] = oversized[5] = oversized[6] = '\x7f';
    ASSERT_TRUE(peers.back().send(oversized).ok());
    peers.push_back(RawSocket::connect(port).value());                       // Wrong secret.
    EXPECT_FALSE(prove(peers.back(), "comm-c", std::string(32, 'w')).ok());
    peers.push_back(RawSocket::connect(port).value());                       // Unknown comm.
    auto unknown = std::async(std::launch::async, [&, fd = peers.back().fd()] {
      return dialer_handshake(fd, {"comm-unknown", 0, 1, 0}, kSecret, Clock::now() + 10s).status();
    });
    EXPECT_EQ(unknown.get().code(), absl::StatusCode::kUnavailable);
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
  listener.expect("comm-d", kSecret);
  RawSocket good = handshaken(port, "comm-d").value();
  auto taken = listener.take({"comm-d", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(taken->fd);
}

TEST(DataListener, APeerWithoutTheSecretIsRefusedAndCountedAndOthersGetThrough) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  listener.expect("comm-e", kSecret);
  const int port = port_of(listener);
  RawSocket intruder = RawSocket::connect(port).value();
  const absl::Status refused = prove(intruder, "comm-e", std::string(32, 'w'));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_NE(refused.message().find("refused this rank's proof"), std::string::npos) << refused;
  EXPECT_TRUE(intruder.read_until_closed(10s).ok()) << "the intruder's connection stays open";
  EXPECT_EQ(listener.counters().unauthenticated, 1u);
  // Nothing was queued for the intruder: the rank it claimed to be is still to come.
  EXPECT_EQ(listener.take({"comm-e", 0, 1, 0}, Clock::now()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  RawSocket good = handshaken(port, "comm-e").value();
  auto taken = listener.take({"comm-e", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(taken->fd);
}

TEST(DataListener, AProofThatArrivesBeforeItsSecretWaitsForIt) {
  Listener listener;
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  RawSocket early = RawSocket::connect(port_of(listener)).value();
  auto proven = std::async(std::launch::async, [&] { return prove(early, "comm-f", kSecret); });
  // The dialer is held until the listener knows the secret: its verdict cannot come sooner.
  EXPECT_EQ(proven.wait_for(0ms), std::future_status::timeout);
  listener.expect("comm-f", kSecret);
  EXPECT_TRUE(proven.get().ok());
  auto taken = listener.take({"comm-f", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(taken->fd);
}

TEST(DataListener, ConnectionsOverTheCapAreClosedAtOnceAndThoseHeldGoOn) {
  Listener listener(ListenerLimits{.handshake_timeout = 60s, .max_connections = 2});
  ASSERT_TRUE(listener.start("127.0.0.1", 0, 0).ok());
  listener.expect("comm-g", kSecret);
  const int port = port_of(listener);
  RawSocket held = handshaken(port, "comm-g", 0).value();  // Unclaimed.
  RawSocket silent = RawSocket::connect(port).value();    // Handshaking.
  for (const auto deadline = Clock::now() + 10s;
       listener.counters().held < 2 && Clock::now() < deadline;) {
    std::this_thread::yield();
  }
  ASSERT_EQ(listener.counters().held, 2u);
  RawSocket third = RawSocket::connect(port).value();
  EXPECT_TRUE(third.read_until_closed(10s).ok()) << "a third connection is held beside two";
  EXPECT_EQ(listener.counters().over_limit, 1u);
  // Both held connections go on: the silent one completes its handshake, and both are taken.
  ASSERT_TRUE(prove(silent, "comm-g", kSecret, 1).ok());
  for (uint32_t stream : {0u, 1u}) {
    auto taken = listener.take({"comm-g", 0, 1, stream}, Clock::now() + 5s);
    ASSERT_TRUE(taken.ok()) << taken.status();
    ::close(taken->fd);
  }
}

// Plays a listener that holds another secret: it answers the hello and the dialer's proof
// with a proof made with `its_secret`.
TEST(DataListener, TheDialerRefusesAListenerWithoutTheSecret) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(server, 1), 0);
  ASSERT_EQ(::getsockname(server, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::thread impostor([server] {
    const int fd = ::accept(server, nullptr, nullptr);
    std::string hello(kHelloFixedBytes, '\0');
    ::recv(fd, hello.data(), hello.size(), MSG_WAITALL);
    hello.resize(hello_size(hello));
    ::recv(fd, hello.data() + kHelloFixedBytes, hello.size() - kHelloFixedBytes, MSG_WAITALL);
    const std::string reply = encode_reply(std::string(kNonceBytes, 'n'), false);
    ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    std::string theirs(kProofBytes, '\0');
    ::recv(fd, theirs.data(), theirs.size(), MSG_WAITALL);
    const std::string mine = listener_proof(std::string(32, 'i'), hello, reply);
    ::send(fd, mine.data(), mine.size(), MSG_NOSIGNAL);
    char end;
    ::recv(fd, &end, 1, 0);  // Until the dialer closes.
    ::close(fd);
  });
  {
    RawSocket dialer = RawSocket::connect(ntohs(address.sin_port)).value();
    const absl::Status refused = prove(dialer, "comm-h", kSecret);
    EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated) << refused;
    EXPECT_NE(refused.message().find("does not hold the secret of communicator comm-h"),
              std::string::npos)
        << refused;
  }
  impostor.join();
  ::close(server);
}

TEST(DataListener, ListensAndIsReachedOnIPv6Loopback) {
  Listener listener;
  ASSERT_TRUE(listener.start("::1", 0, 0).ok());
  listener.expect("comm-i", kSecret);
  absl::StatusOr<net::HostPort> address = net::parse_host_port(listener.address());
  ASSERT_TRUE(address.ok()) << listener.address() << ": " << address.status();
  EXPECT_EQ(address->host, "::1");
  absl::StatusOr<net::UniqueFd> dialed = net::dial_tcp(*address, Clock::now() + 10s);
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  ASSERT_TRUE(dialer_handshake(dialed->get(), {"comm-i", 0, 1, 0}, kSecret, Clock::now() + 10s).ok());
  auto taken = listener.take({"comm-i", 0, 1, 0}, Clock::now() + 5s);
  ASSERT_TRUE(taken.ok()) << taken.status();
  ::close(taken->fd);
}

}  // namespace
}  // namespace tg::coll::tcp
