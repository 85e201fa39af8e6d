// Encrypted data connections (tls_stream.h) over a connected socket pair: both ends with the
// same key start TLS side by side and carry bytes both ways, which never cross the socket in
// the clear; ends with different keys fail the handshake.
#include "collectives/transport/tcp/tls_stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tg::coll::tcp {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
  }
  ~SocketPair() {
    for (int fd : fds) ::close(fd);
  }
};

// Sends all of `text` on `from` and receives it on `to`, each step by a deadline.
std::string carry(TlsStream& from, TlsStream& to, const std::string& text) {
  std::string received(text.size(), '\0');
  size_t sent = 0, got = 0;
  for (const auto deadline = Clock::now() + 10s; got < text.size() && Clock::now() < deadline;) {
    if (sent < text.size()) {
      auto n = from.send(reinterpret_cast<const std::byte*>(text.data()) + sent, text.size() - sent);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok()) break;
      sent += *n;
    }
    auto n = to.receive(reinterpret_cast<std::byte*>(received.data()) + got, text.size() - got);
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok()) break;
    got += *n;
  }
  received.resize(got);
  return received;
}

TEST(TlsStream, EndsWithOneKeyCarryBytesBothWaysNeverInTheClear) {
  SocketPair sockets;
  const std::string key(32, 'k');
  std::vector<TlsStart> ends(2);
  ends[0] = {sockets.fds[0], false, key, nullptr};
  ends[1] = {sockets.fds[1], true, key, nullptr};
  ASSERT_TRUE(start_tls(ends, Clock::now() + 10s).ok());
  const std::string marker = "tensor bytes in the clear? " + std::string(100000, 'x');
  EXPECT_EQ(carry(*ends[0].stream, *ends[1].stream, marker), marker);
  EXPECT_EQ(carry(*ends[1].stream, *ends[0].stream, "and back"), "and back");

  // What crosses the socket: read it raw, bypassing TLS.
  const std::string secret_text = "tensor bytes in the clear?";
  ASSERT_EQ(ends[0].stream->send(reinterpret_cast<const std::byte*>(secret_text.data()),
                                 secret_text.size()).value(),
            secret_text.size());
  std::string wire(4096, '\0');
  const ssize_t n = ::recv(sockets.fds[1], wire.data(), wire.size(), 0);
  ASSERT_GT(n, 0);
  wire.resize(static_cast<size_t>(n));
  EXPECT_EQ(wire.find("clear"), std::string::npos) << "plain text on the wire";
}

TEST(TlsStream, EndsWithDifferentKeysFailTheHandshake) {
  SocketPair sockets;
  const std::string mine(32, 'k'), theirs(32, 'j');
  std::vector<TlsStart> ends(2);
  ends[0] = {sockets.fds[0], false, mine, nullptr};
  ends[1] = {sockets.fds[1], true, theirs, nullptr};
  const absl::Status failed = start_tls(ends, Clock::now() + 10s);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_NE(failed.message().find("tls handshake failed"), std::string::npos) << failed;
}

}  // namespace
}  // namespace tg::coll::tcp
