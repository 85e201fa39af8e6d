#include "collectives/transport/tcp/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <absl/strings/str_cat.h>

namespace tg::coll::tcp {
namespace {

constexpr uint32_t kMagic = 0x32434754;  // "TGC2"
constexpr std::string_view kDialerLabel = "tgrack data dialer";
constexpr std::string_view kListenerLabel = "tgrack data listener";
constexpr std::string_view kTlsLabel = "tgrack data tls";
constexpr char kAsksTls = 1;

void put_le32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t get_le32(const char* in) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}

std::string proof(std::string_view label, std::string_view secret, std::string_view hello,
                  std::string_view reply) {
  std::string message;
  message.append(label).append(hello).append(reply);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_bytes = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_bytes);
  return std::string(reinterpret_cast<const char*>(mac), mac_bytes);
}

int millis_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

// Sends all of `bytes` by `deadline`; false when the connection fails or time runs out.
bool send_all(int fd, std::string_view bytes, std::chrono::steady_clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      bytes.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd writable{fd, POLLOUT, 0};
    if (::poll(&writable, 1, millis_until(deadline)) == 0) return false;
  }
  return true;
}

// Exactly `count` bytes by `deadline`: DEADLINE_EXCEEDED, or UNAVAILABLE when the peer
// closes the connection first.
absl::StatusOr<std::string> receive(int fd, size_t count,
                                    std::chrono::steady_clock::time_point deadline) {
  std::string out;
  char buffer[64];
  while (out.size() < count) {
    const ssize_t got = ::recv(fd, buffer, std::min(sizeof(buffer), count - out.size()),
                               MSG_DONTWAIT);
    if (got > 0) {
      out.append(buffer, static_cast<size_t>(got));
      continue;
    }
    if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      return absl::UnavailableError(
          "the listener closed the connection during the handshake (it refused this rank's "
          "proof of the communicator's secret, or its daemon has not joined the communicator)");
    }
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, millis_until(deadline)) == 0) {
      return absl::DeadlineExceededError("the listener did not answer the handshake in time");
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> random_bytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return absl::InternalError("the random number generator failed (RAND_bytes)");
  }
  return out;
}

absl::Status check_secret(const std::string& comm_id, std::string_view secret) {
  if (secret.size() >= kMinSecretBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "communicator ", comm_id, " has a data-plane secret of ", secret.size(),
      " bytes; its ranks on other daemons need one of at least ", kMinSecretBytes,
      " (the controller draws one for every communicator)"));
}

std::string encode_hello(const Handshake& handshake, std::string_view nonce) {
  std::string out(4 * 6, '\0');
  const uint32_t fields[6] = {kMagic,           static_cast<uint32_t>(handshake.comm_id.size()),
                              handshake.from_rank, handshake.to_rank,
                              handshake.stream, handshake.tls ? uint32_t{kAsksTls} : 0};
  for (int i = 0; i < 6; ++i) put_le32(out.data() + 4 * i, fields[i]);
  out.append(nonce.substr(0, kNonceBytes));
  return out + handshake.comm_id;
}

size_t hello_size(std::string_view prefix) {
  if (prefix.size() < 8) return kHelloFixedBytes;
  const uint32_t id_bytes = get_le32(prefix.data() + 4);
  if (get_le32(prefix.data()) != kMagic || id_bytes > kMaxCommIdBytes) return 0;
  return kHelloFixedBytes + id_bytes;
}

Handshake decode_hello(std::string_view hello) {
  return Handshake{std::string(hello.substr(kHelloFixedBytes)), get_le32(hello.data() + 8),
                   get_le32(hello.data() + 12), get_le32(hello.data() + 16),
                   (get_le32(hello.data() + 20) & kAsksTls) != 0};
}

std::string encode_reply(std::string_view nonce, bool tls) {
  std::string out(nonce.substr(0, kNonceBytes));
  out.push_back(tls ? kAsksTls : 0);
  return out;
}

Proven decide(std::string_view secret, std::string_view hello, std::string_view reply) {
  Proven out;
  out.tls = decode_hello(hello).tls || (reply.size() == kReplyBytes && (reply.back() & kAsksTls));
  if (out.tls) out.tls_key = proof(kTlsLabel, secret, hello, reply);
  return out;
}

std::string dialer_proof(std::string_view secret, std::string_view hello,
                         std::string_view reply) {
  return proof(kDialerLabel, secret, hello, reply);
}

std::string listener_proof(std::string_view secret, std::string_view hello,
                           std::string_view reply) {
  return proof(kListenerLabel, secret, hello, reply);
}

bool same_proof(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<DialerProof> dialer_prove(int fd, const Handshake& handshake,
                                         std::string_view secret,
                                         std::chrono::steady_clock::time_point deadline) {
  absl::StatusOr<std::string> nonce = random_bytes(kNonceBytes);
  if (!nonce.ok()) return nonce.status();
  DialerProof sent{encode_hello(handshake, *nonce), ""};
  const auto closed = [] {
    return absl::UnavailableError(absl::StrCat("the connection failed during the handshake: ",
                                               std::strerror(errno)));
  };
  if (!send_all(fd, sent.hello, deadline)) return closed();
  absl::StatusOr<std::string> reply = receive(fd, kReplyBytes, deadline);
  if (!reply.ok()) return reply.status();
  sent.reply = std::move(*reply);
  if (!send_all(fd, dialer_proof(secret, sent.hello, sent.reply), deadline)) return closed();
  return sent;
}

absl::StatusOr<Proven> dialer_verdict(int fd, const Handshake& handshake, std::string_view secret,
                                      const DialerProof& sent,
                                      std::chrono::steady_clock::time_point deadline) {
  absl::StatusOr<std::string> theirs = receive(fd, kProofBytes, deadline);
  if (!theirs.ok()) return theirs.status();
  if (!same_proof(*theirs, listener_proof(secret, sent.hello, sent.reply))) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the listener does not hold the secret of communicator ", handshake.comm_id,
        ": its proof does not verify"));
  }
  return decide(secret, sent.hello, sent.reply);
}

absl::StatusOr<Proven> dialer_handshake(int fd, const Handshake& handshake,
                                        std::string_view secret,
                                        std::chrono::steady_clock::time_point deadline) {
  absl::StatusOr<DialerProof> sent = dialer_prove(fd, handshake, secret, deadline);
  if (!sent.ok()) return sent.status();
  return dialer_verdict(fd, handshake, secret, *sent, deadline);
}

}  // namespace tg::coll::tcp
