// How this process's gRPC channels and servers are secured, chosen once at start.
//
//   Mutual TLS (the default): servers present this process's certificate and require and
//   verify one from every caller, signed by the pool's CA; channels verify the server against
//   that CA and present this process's certificate.
//   Plain text: only when asked for explicitly (--insecure, TGRACK_INSECURE=1), logged as a
//   warning; nothing is authenticated.
//
// tgd and tgcontroller call set_transport_security() from their flags (component_security()
// refuses neither TLS files nor --insecure). Other processes (tgctl, programs on the client
// library, tests) may call it too; a process that does not takes its security from the
// environment on first use: TGRACK_TLS_CA, TGRACK_TLS_CERT, TGRACK_TLS_KEY, TGRACK_INSECURE.
// With none of them set its channels verify servers against the system's CAs.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <absl/status/statusor.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace tg::net {

struct TransportSecurity {
  bool insecure = false;
  std::string ca_pem;                 // Verifies peers; empty = the system's CAs (channels only).
  std::string cert_pem, key_pem;      // This process's identity; empty = none (channels only).
};

// The files (PEM) of the TLS flags, as given on a command line or in the environment.
struct TlsFiles {
  std::string cert, key, ca;
  bool insecure = false;
};

// Adds --tls-cert, --tls-key, --tls-ca and --insecure to `app`, filling `files`.
void add_tls_flags(CLI::App& app, TlsFiles& files);

// `files` with what the environment sets (TGRACK_TLS_CERT, TGRACK_TLS_KEY, TGRACK_TLS_CA,
// TGRACK_INSECURE=1) filling what the flags left empty: --insecure ignores TGRACK_TLS_*, and
// TGRACK_INSECURE counts only when no TLS file is given either way.
TlsFiles with_environment(TlsFiles files);

// Reads the files. INVALID_ARGUMENT naming the flag when a file cannot be read, when only one
// of --tls-cert/--tls-key is given, or when --insecure comes with TLS files.
absl::StatusOr<TransportSecurity> load_transport_security(const TlsFiles& files);

// As load_transport_security, for a server (tgd, tgcontroller): also INVALID_ARGUMENT naming
// the flags when neither all three TLS files nor --insecure are given.
absl::StatusOr<TransportSecurity> component_security(const TlsFiles& files);

// Makes `security` this process's for every channel and server made from now on; logs a
// warning when it is plain text.
void set_transport_security(TransportSecurity security);
// This process's security: the one set, or the environment's (see above).
std::shared_ptr<const TransportSecurity> transport_security();

// Credentials of this process's security. Channel credentials are shared; each call of
// server_credentials() makes new ones, which a server may extend (net/call_limits.h).
std::shared_ptr<grpc::ChannelCredentials> channel_credentials();
std::shared_ptr<grpc::ServerCredentials> server_credentials();

}  // namespace tg::net
