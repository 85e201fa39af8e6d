// The data-plane handshake: before a byte of tensor data moves, a connecting rank (the
// dialer) and the listener of the daemon it dials prove to each other that both hold the
// communicator's secret, which the controller hands only to the daemons of its ranks.
//
//   dialer   -> listener  hello: "TGC2", id length, from rank, to rank, stream, flags
//                         (LE32 each), a 32-byte dialer nonce, then the communicator id
//   listener -> dialer    reply: a 32-byte listener nonce, one flags byte
//   dialer   -> listener  HMAC-SHA256(secret, "tgrack data dialer"   | hello | reply)
//   listener -> dialer    HMAC-SHA256(secret, "tgrack data listener" | hello | reply)
//
// Both proofs cover the communicator id, both ranks, the stream, both ends' flags and both
// fresh nonces (RAND_bytes), so a proof is good for one connection only: it can be neither
// replayed nor reflected, and no flag can be changed on the way. Proofs are compared in
// constant time (CRYPTO_memcmp). The connection is encrypted (tls_stream.h) when either
// end's flags ask for it, with HMAC-SHA256(secret, "tgrack data tls" | hello | reply) as the
// pre-shared key. The listener's side runs in Listener's poll loop; the dialer's side is
// dialer_handshake.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace tg::coll::tcp {

// Who a connection is for; the hello carries it.
struct Handshake {
  std::string comm_id;
  uint32_t from_rank = 0;
  uint32_t to_rank = 0;
  uint32_t stream = 0;  // 0 = control, 1.. = data streams.
  bool tls = false;     // The dialer asks for encryption.
};

// What a completed handshake decided for its connection.
struct Proven {
  bool tls = false;     // Encrypt it (either end asked).
  std::string tls_key;  // Its pre-shared key when tls.
};

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kProofBytes = 32;   // SHA-256.
inline constexpr size_t kMinSecretBytes = 32;
inline constexpr size_t kHelloFixedBytes = 4 * 6 + kNonceBytes;
inline constexpr size_t kReplyBytes = kNonceBytes + 1;
inline constexpr uint32_t kMaxCommIdBytes = 4096;

// `count` bytes from OpenSSL's RAND_bytes; INTERNAL when it fails.
absl::StatusOr<std::string> random_bytes(size_t count);
// A fresh communicator secret.
inline absl::StatusOr<std::string> new_secret() { return random_bytes(kMinSecretBytes); }
// INVALID_ARGUMENT naming the communicator unless `secret` has at least kMinSecretBytes.
absl::Status check_secret(const std::string& comm_id, std::string_view secret);

// The hello for `handshake` with the dialer's `nonce` (kNonceBytes).
std::string encode_hello(const Handshake& handshake, std::string_view nonce);
// The size of the whole hello that `prefix` starts (kHelloFixedBytes while the prefix is
// shorter than that), or 0 when the prefix cannot start one (bad magic, id too long).
size_t hello_size(std::string_view prefix);
// The handshake a complete hello (hello_size(hello) == hello.size()) announces.
Handshake decode_hello(std::string_view hello);

// The listener's reply: its `nonce` and whether it asks for encryption.
std::string encode_reply(std::string_view nonce, bool tls);
// What the handshake decided, from the hello and the reply as sent.
Proven decide(std::string_view secret, std::string_view hello, std::string_view reply);

// The proofs each side sends; `hello` and `reply` as sent.
std::string dialer_proof(std::string_view secret, std::string_view hello,
                         std::string_view reply);
std::string listener_proof(std::string_view secret, std::string_view hello,
                           std::string_view reply);
// Constant-time equality of two proofs.
bool same_proof(std::string_view a, std::string_view b);

// The dialer's side on a connected socket (blocking or not), all by `deadline`:
// UNAVAILABLE when the listener closes the connection before it accepts (it refused this
// proof, or it does not know the communicator yet: worth another try), UNAUTHENTICATED when
// the listener's own proof is wrong (it does not hold the secret), DEADLINE_EXCEEDED.
absl::StatusOr<Proven> dialer_handshake(int fd, const Handshake& handshake,
                                        std::string_view secret,
                                        std::chrono::steady_clock::time_point deadline);
// The same in two steps, so that a rank can send its proofs to every peer before it waits
// for any peer's answer: dialer_prove sends the hello and the proof (it waits only for the
// listener's reply, which comes at once), dialer_verdict checks the listener's proof.
struct DialerProof {
  std::string hello;
  std::string reply;
};
absl::StatusOr<DialerProof> dialer_prove(int fd, const Handshake& handshake,
                                         std::string_view secret,
                                         std::chrono::steady_clock::time_point deadline);
absl::StatusOr<Proven> dialer_verdict(int fd, const Handshake& handshake, std::string_view secret,
                                      const DialerProof& sent,
                                      std::chrono::steady_clock::time_point deadline);

}  // namespace tg::coll::tcp
