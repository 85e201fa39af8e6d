#include "collectives/transport/tcp/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <string>

#include <absl/strings/str_cat.h>

namespace tg::coll::tcp {
namespace {

constexpr unsigned char kAes128GcmSha256[] = {0x13, 0x01};  // TLS_AES_128_GCM_SHA256
constexpr std::string_view kIdentity = "tgrack-data";

// The pre-shared key of `ssl` as a TLS 1.3 session, or nullptr.
SSL_SESSION* psk_session(SSL* ssl) {
  const auto* key = static_cast<const std::string_view*>(SSL_get_app_data(ssl));
  const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kAes128GcmSha256);
  SSL_SESSION* session = SSL_SESSION_new();
  if (key == nullptr || cipher == nullptr || session == nullptr ||
      SSL_SESSION_set1_master_key(session, reinterpret_cast<const unsigned char*>(key->data()),
                                  key->size()) != 1 ||
      SSL_SESSION_set_cipher(session, cipher) != 1 ||
      SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION) != 1) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* id_length,
            SSL_SESSION** session) {
  *session = psk_session(ssl);
  *id = reinterpret_cast<const unsigned char*>(kIdentity.data());
  *id_length = kIdentity.size();
  return *session != nullptr;
}

int find_psk(SSL* ssl, const unsigned char* id, size_t id_length, SSL_SESSION** session) {
  const bool ours = std::string_view(reinterpret_cast<const char*>(id), id_length) == kIdentity;
  *session = ours ? psk_session(ssl) : nullptr;
  return !ours || *session != nullptr;
}

// The process's TLS settings for data connections: TLS 1.3 only, one AEAD, no tickets.
SSL_CTX* context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_method());
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_psk_use_session_callback(c, use_psk);
    SSL_CTX_set_psk_find_session_callback(c, find_psk);
    return c;
  }();
  return ctx;
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "the connection failed";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

TlsStream::~TlsStream() { SSL_free(ssl_); }

absl::StatusOr<size_t> TlsStream::send(const std::byte* bytes, size_t size) {
  size_t sent = 0;
  if (SSL_write_ex(ssl_, bytes, size, &sent) == 1) return sent;
  const int error = SSL_get_error(ssl_, 0);
  if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return 0;
  return absl::UnavailableError(absl::StrCat("tls send failed: ", openssl_error()));
}

absl::StatusOr<size_t> TlsStream::receive(std::byte* into, size_t size) {
  size_t got = 0;
  if (SSL_read_ex(ssl_, into, size, &got) == 1) return got;
  const int error = SSL_get_error(ssl_, 0);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return 0;
  if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
    ERR_clear_error();
    return absl::UnavailableError("connection closed by the peer mid-transfer (peer died?)");
  }
  return absl::UnavailableError(absl::StrCat("tls receive failed: ", openssl_error()));
}

absl::Status start_tls(std::vector<TlsStart>& connections,
                       std::chrono::steady_clock::time_point deadline) {
  std::vector<SSL*> pending;
  for (TlsStart& c : connections) {
    SSL* ssl = SSL_new(context());
    if (ssl == nullptr || SSL_set_fd(ssl, c.fd) != 1) {
      SSL_free(ssl);
      return absl::InternalError(absl::StrCat("tls set-up failed: ", openssl_error()));
    }
    SSL_set_app_data(ssl, &c.key);
    c.accepted ? SSL_set_accept_state(ssl) : SSL_set_connect_state(ssl);
    c.stream.reset(new TlsStream(ssl));
  }
  std::vector<pollfd> waiting;
  while (true) {
    waiting.clear();
    for (TlsStart& c : connections) {
      SSL* ssl = c.stream->ssl_;
      if (SSL_is_init_finished(ssl)) continue;
      const int done = SSL_do_handshake(ssl);
      if (done == 1) continue;
      const int error = SSL_get_error(ssl, done);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        waiting.push_back({c.fd, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0});
        continue;
      }
      return absl::UnavailableError(absl::StrCat("tls handshake failed: ", openssl_error()));
    }
    if (waiting.empty()) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError("tls handshake timed out");
    ::poll(waiting.data(), waiting.size(), static_cast<int>(std::min<int64_t>(left.count(), 1000)));
  }
  for (TlsStart& c : connections) SSL_set_app_data(c.stream->ssl_, nullptr);
  return absl::OkStatus();
}

}  // namespace tg::coll::tcp
