// The TLS of a test binary: one pool CA and its certificates, made once per process in a
// temporary directory (net/certificates.h), and the flags and environment that give them to
// the processes a test starts. Node certificates are made on first use for any node name.
//
//   tls_flags_for_controller()/tls_flags_for_node(name): --tls-cert/--tls-key/--tls-ca.
//   use_client_certificate(): this process's channels (make_channel) present the client
//     certificate and verify servers against the pool CA; processes it starts (tgctl, the
//     examples) do the same through TGRACK_TLS_CA/CERT/KEY.
//   use_plain_text(): this process and its children speak plain text (TGRACK_INSECURE=1),
//     for pools started with --insecure.
#pragma once

#include <string>
#include <vector>

#include "net/certificates.h"
#include "net/peer_identity.h"

namespace tg::testing {

// Paths of a certificate and its key.
struct CertificateFiles {
  std::string cert, key;
};

// The pool CA's certificate file.
const std::string& test_ca_file();
// A certificate signed by the pool CA for `role` `name` (made once, then reused).
CertificateFiles test_certificate(net::Role role, const std::string& name);
// A client certificate signed by a CA the pool does not trust, and that CA's certificate.
CertificateFiles foreign_client_certificate();
const std::string& foreign_ca_file();

std::vector<std::string> tls_flags_for_controller();
std::vector<std::string> tls_flags_for_node(const std::string& name);

void use_client_certificate();
// As use_client_certificate, with a certificate for `role` `name` (e.g. to call component
// methods as the controller).
void use_certificate(net::Role role, const std::string& name);
void use_plain_text();

}  // namespace tg::testing
