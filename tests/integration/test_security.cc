#include "test_security.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "net/transport_security.h"
#include "process.h"

namespace tg::testing {
namespace {

template <typename T>
T value_or_die(absl::StatusOr<T> made) {
  if (!made.ok()) throw std::runtime_error("test certificates: " + made.status().ToString());
  return std::move(*made);
}

void die_unless(const absl::Status& status) {
  if (!status.ok()) throw std::runtime_error("test certificates: " + status.ToString());
}

// One CA with the certificates it issued, in a directory of their own.
class Authority {
 public:
  explicit Authority(const std::string& name)
      : pair_(value_or_die(net::make_authority(name))) {
    die_unless(net::write_key_pair(dir_.path(), "ca", pair_));
  }

  std::string ca_file() const { return dir_.file("ca.pem"); }

  CertificateFiles issue(net::Role role, const std::string& name) {
    std::lock_guard lock(mutex_);
    const std::string stem = std::string(net::role_name(role)) + "-" + name;
    if (!issued_.contains(stem)) {
      die_unless(net::write_key_pair(
          dir_.path(), stem,
          value_or_die(net::issue_certificate(pair_, role, name, net::loopback_hosts()))));
      issued_.insert(stem);
    }
    return {dir_.file(stem + ".pem"), dir_.file(stem + ".key")};
  }

 private:
  TempDir dir_;
  net::KeyPair pair_;
  std::mutex mutex_;
  std::set<std::string> issued_;
};

Authority& pool_authority() {
  static Authority authority("tgrack test pool CA");
  return authority;
}

Authority& foreign_authority() {
  static Authority authority("tgrack foreign CA");
  return authority;
}

std::vector<std::string> flags(const CertificateFiles& files) {
  return {"--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", test_ca_file()};
}

}  // namespace

const std::string& test_ca_file() {
  static const std::string file = pool_authority().ca_file();
  return file;
}

CertificateFiles test_certificate(net::Role role, const std::string& name) {
  return pool_authority().issue(role, name);
}

CertificateFiles foreign_client_certificate() {
  return foreign_authority().issue(net::Role::kClient, "stranger");
}

const std::string& foreign_ca_file() {
  static const std::string file = foreign_authority().ca_file();
  return file;
}

std::vector<std::string> tls_flags_for_controller() {
  return flags(test_certificate(net::Role::kController, "controller"));
}

std::vector<std::string> tls_flags_for_node(const std::string& name) {
  return flags(test_certificate(net::Role::kNode, name));
}

void use_client_certificate() { use_certificate(net::Role::kClient, "test"); }

void use_certificate(net::Role role, const std::string& name) {
  const CertificateFiles client = test_certificate(role, name);
  net::TlsFiles files{client.cert, client.key, test_ca_file(), false};
  net::set_transport_security(value_or_die(net::load_transport_security(files)));
  ::setenv("TGRACK_TLS_CA", files.ca.c_str(), 1);
  ::setenv("TGRACK_TLS_CERT", files.cert.c_str(), 1);
  ::setenv("TGRACK_TLS_KEY", files.key.c_str(), 1);
  ::unsetenv("TGRACK_INSECURE");
}

void use_plain_text() {
  net::TransportSecurity plain_text;
  plain_text.insecure = true;
  net::set_transport_security(plain_text);
  for (const char* name : {"TGRACK_TLS_CA", "TGRACK_TLS_CERT", "TGRACK_TLS_KEY"}) ::unsetenv(name);
  ::setenv("TGRACK_INSECURE", "1", 1);
}

}  // namespace tg::testing
