// The certificates of a pool, made with OpenSSL: a CA, and certificates it signs for the
// controller, each node and clients. Every certificate names its role and name
// (net/peer_identity.h) and holds the host names and addresses it may serve on as subject
// alternative names. Keys are ECDSA P-256. `tgctl certs init` and tests use the same calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "net/peer_identity.h"

namespace tg::net {

struct KeyPair {
  std::string cert_pem, key_pem;
};

// The hosts a pool on one machine is reached by: localhost, 127.0.0.1 and ::1.
std::vector<std::string> loopback_hosts();

// A new self-signed CA named `name`, valid for ten years.
absl::StatusOr<KeyPair> make_authority(std::string_view name);

// A certificate for `role` `name` signed by `authority`, valid for two years, for servers and
// clients alike, with `hosts` (names or IP addresses) as subject alternative names.
// INVALID_ARGUMENT naming the host or name OpenSSL refuses.
absl::StatusOr<KeyPair> issue_certificate(const KeyPair& authority, Role role,
                                          std::string_view name,
                                          const std::vector<std::string>& hosts);

// Writes `pair` as STEM.pem (0644) and STEM.key (0600) in `dir`.
absl::Status write_key_pair(const std::string& dir, const std::string& stem, const KeyPair& pair);

// A pool's files in `dir` (made when missing): ca.pem/ca.key, controller.pem/.key,
// NODE.pem/.key for each of `nodes`, client.pem/.key. INVALID_ARGUMENT for a node name that is
// empty, holds '/' or is one of ca, controller, client; FAILED_PRECONDITION when ca.pem
// already exists there (nothing is overwritten).
absl::Status write_pool_certificates(const std::string& dir, const std::vector<std::string>& nodes,
                                     const std::vector<std::string>& hosts);

}  // namespace tg::net
