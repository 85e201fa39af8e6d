// Fuzz target: the collectives' data-plane handshake (transport/tcp/handshake.h). Each input
// is sent, then the connection's sending half closed, to a real Listener on loopback that
// expects the communicator the input names (when it names one) with a secret the input
// cannot know. The listener must close the fuzzed connection promptly; it must never hand
// out a socket for it (no input can hold a proof over the listener's fresh nonce); and it
// must stay up: a properly proven handshake on a fresh connection is then delivered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "collectives/transport/tcp/handshake.h"
#include "collectives/transport/tcp/listener.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

using tg::coll::tcp::Handshake;
using tg::coll::tcp::Listener;

using tg::coll::tcp::kHelloFixedBytes;
using tg::coll::tcp::kMaxCommIdBytes;
using tg::coll::tcp::kProofBytes;

const std::string kSecret(32, 's');

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "handshake: %s\n", what.c_str());
  std::abort();
}

Listener& listener() {
  static Listener* listener = [] {
    auto* l = new Listener;
    if (absl::Status status = l->start("127.0.0.1", 0, 0); !status.ok()) fail(status.ToString());
    l->expect("probe", kSecret);
    return l;
  }();
  return *listener;
}

// A connection to the listener that sends `data`, then (when `finish`) closes its sending
// half.
int connect_and_send(const void* data, size_t size, bool finish = true) {
  const std::string address = listener().address();
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    // A signal (libFuzzer's timers) may interrupt connect; the connection then completes in
    // the background, and its outcome is read once the socket is writable.
    int error = errno;
    if (error == EINTR) {
      pollfd writable{fd, POLLOUT, 0};
      while (::poll(&writable, 1, -1) < 0 && errno == EINTR) {
      }
      socklen_t length = sizeof(error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error != 0) fail(std::string("cannot connect: ") + std::strerror(error));
  }
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // The listener may close on a bad header; that is its right.
    p += n;
    size -= static_cast<size_t>(n);
  }
  if (finish) ::shutdown(fd, SHUT_WR);
  return fd;
}

// The handshake `data` holds when it starts with a complete, well-formed hello.
bool decode(const uint8_t* data, size_t size, Handshake& out) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t hello = tg::coll::tcp::hello_size(bytes.substr(0, kHelloFixedBytes));
  if (hello == 0 || size < hello) return false;
  out = tg::coll::tcp::decode_hello(bytes.substr(0, hello));
  return true;
}

// Reads what the listener sends on `fd` until it closes the connection.
void wait_closed(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buffer[256];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, 100) <= 0) continue;
    const ssize_t got = ::recv(fd, buffer, sizeof(buffer), 0);
    if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) return;
  }
  fail("the fuzzed connection is still open after 20 s");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::fuzz::quiet_protobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kHelloFixedBytes + kMaxCommIdBytes + kProofBytes + 64) return -1;
  Handshake fuzzed;
  const bool well_formed = decode(data, size, fuzzed);
  if (well_formed && fuzzed.comm_id == "probe") return -1;  // Reserved for the check below.
  if (well_formed) listener().expect(fuzzed.comm_id, kSecret);
  const int fuzzed_fd = connect_and_send(data, size);
  wait_closed(fuzzed_fd);
  ::close(fuzzed_fd);
  if (well_formed) {
    auto leaked = listener().take(fuzzed, std::chrono::steady_clock::now());
    if (leaked.ok()) fail("a connection that never proved the secret was delivered");
    listener().forget(fuzzed.comm_id);
  }

  const Handshake probe{"probe", 1, 2, 0};
  const int probe_fd = connect_and_send(nullptr, 0, /*finish=*/false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  if (auto proven = tg::coll::tcp::dialer_handshake(probe_fd, probe, kSecret, deadline);
      !proven.ok()) {
    fail("a proven handshake failed: " + proven.status().ToString());
  }
  auto delivered = listener().take(probe, deadline);
  if (!delivered.ok()) fail("a proven handshake not delivered: " + delivered.status().ToString());
  ::close(delivered->fd);
  ::close(probe_fd);
  return 0;
}
