// Fuzz target: the collectives' data-plane handshake. Each input is sent, then the
// connection closed, to a real Listener on loopback; then a well-formed handshake arrives on
// a fresh connection and must be delivered by take(). Whatever the fuzzed peer sent, the
// listener must stay up, must not hand out a socket for a handshake it did not fully read,
// and must deliver a fuzzed handshake that is well formed.
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

#include "collectives/transport/tcp/listener.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

using tg::coll::tcp::Handshake;
using tg::coll::tcp::Listener;

constexpr uint32_t kMagic = 0x31434754;  // "TGC1", as encode_handshake writes it.
constexpr size_t kHeader = 5 * sizeof(uint32_t);
constexpr size_t kMaxCommId = 4096;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "handshake: %s\n", what.c_str());
  std::abort();
}

Listener& listener() {
  static Listener* listener = [] {
    auto* l = new Listener;
    if (absl::Status status = l->start("127.0.0.1", 0, 0); !status.ok()) fail(status.ToString());
    return l;
  }();
  return *listener;
}

int connect_and_send(const void* data, size_t size) {
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
  ::shutdown(fd, SHUT_WR);
  return fd;
}

// The handshake `data` holds when it starts with a complete, well-formed one.
bool decode(const uint8_t* data, size_t size, Handshake& out) {
  uint32_t fields[5];
  if (size < kHeader) return false;
  std::memcpy(fields, data, kHeader);
  if (fields[0] != kMagic || fields[1] > kMaxCommId || size < kHeader + fields[1]) return false;
  out.comm_id.assign(reinterpret_cast<const char*>(data) + kHeader, fields[1]);
  out.from_rank = fields[2];
  out.to_rank = fields[3];
  out.stream = fields[4];
  return true;
}

void take_or_fail(const Handshake& want, const char* which) {
  absl::StatusOr<int> fd =
      listener().take(want, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (!fd.ok()) fail(std::string(which) + " handshake not delivered: " + fd.status().ToString());
  ::close(*fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tg::fuzz::quiet_protobuf();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kHeader + kMaxCommId + 64) return -1;
  Handshake fuzzed;
  const bool well_formed = decode(data, size, fuzzed);
  if (well_formed && fuzzed.comm_id == "probe") return -1;  // Reserved for the check below.
  const int fuzzed_fd = connect_and_send(data, size);

  Handshake probe{"probe", 1, 2, 0};
  const int probe_fd = connect_and_send(tg::coll::tcp::encode_handshake(probe).data(),
                                        tg::coll::tcp::encode_handshake(probe).size());
  take_or_fail(probe, "a well-formed");
  if (well_formed) {
    take_or_fail(fuzzed, "the fuzzed well-formed");
    listener().forget(fuzzed.comm_id);
  }
  ::close(fuzzed_fd);
  ::close(probe_fd);
  return 0;
}
