// Encryption of one data-plane connection (tgd --data-tls): TLS 1.3 (OpenSSL) with an
// external pre-shared key that both ends derive from the communicator's secret and this
// connection's handshake (tls_key in handshake.h), in psk_dhe_ke mode, so every connection
// gets fresh (EC)DHE keys too. No certificate is involved: the key already binds the
// connection to the communicator, both ranks and the stream, and each end proved it holds
// the secret in the handshake before TLS starts.
//
// The socket stays non-blocking and owned by the caller; only the owning rank's thread uses
// a TlsStream.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

typedef struct ssl_st SSL;

namespace tg::coll::tcp {

struct TlsStart;

class TlsStream {
 public:
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Sends what it can of `bytes`: the count taken, 0 when the socket is full. A call after
  // 0 must offer the same bytes again.
  absl::StatusOr<size_t> send(const std::byte* bytes, size_t size);
  // Receives up to `size` bytes: the count, 0 when nothing has arrived; UNAVAILABLE when the
  // peer closed the connection.
  absl::StatusOr<size_t> receive(std::byte* into, size_t size);

 private:
  friend absl::Status start_tls(std::vector<TlsStart>& connections,
                                std::chrono::steady_clock::time_point deadline);
  explicit TlsStream(SSL* ssl) : ssl_(ssl) {}
  SSL* ssl_;
};

// One connection to encrypt: its non-blocking socket, whether this end accepted it, and
// its key. start_tls fills `stream`.
struct TlsStart {
  int fd = -1;
  bool accepted = false;
  std::string_view key;
  std::unique_ptr<TlsStream> stream;
};

// Runs the TLS handshakes of all `connections` side by side (so that no rank waits on a
// peer that waits on someone else) by `deadline`; UNAVAILABLE naming the first that fails.
absl::Status start_tls(std::vector<TlsStart>& connections,
                       std::chrono::steady_clock::time_point deadline);

}  // namespace tg::coll::tcp
