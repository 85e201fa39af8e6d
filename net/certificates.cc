#include "net/certificates.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <absl/strings/str_join.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace tg::net {
namespace {

struct Free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* cert) const { X509_free(cert); }
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;
using Extension = std::unique_ptr<X509_EXTENSION, Free>;

constexpr long kDay = 24L * 60 * 60;

absl::Status openssl_error(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char reason[256] = "unknown reason";
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  ERR_clear_error();
  return absl::InternalError(what + ": " + reason);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<std::string> key_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return openssl_error("writing a private key");
  }
  return bio_text(bio.get());
}

absl::StatusOr<std::string> cert_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return openssl_error("writing a certificate");
  return bio_text(bio.get());
}

absl::StatusOr<KeyPair> to_pems(X509* cert, EVP_PKEY* key) {
  auto cert_text = cert_pem(cert);
  if (!cert_text.ok()) return cert_text.status();
  auto key_text = key_pem(key);
  if (!key_text.ok()) return key_text.status();
  return KeyPair{std::move(*cert_text), std::move(*key_text)};
}

// A certificate for `subject_name` with a fresh key, valid from an hour ago for `days`.
absl::StatusOr<std::pair<Cert, Key>> new_certificate(std::string_view role, std::string_view name,
                                                     long days) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("making an EC key");
  Cert cert(X509_new());
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof(serial)) != 1) return openssl_error("making a certificate");
  serial[0] &= 0x7f;  // A positive serial number.
  BIGNUM* number = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
  BN_free(number);
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * kDay);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string organization = "tgrack", unit(role), common(name);
  for (auto [field, value] : {std::pair{"O", &organization}, std::pair{"OU", &unit},
                              std::pair{"CN", &common}}) {
    if (!X509_NAME_add_entry_by_txt(subject, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value->c_str()), -1, -1,
                                    0)) {
      return absl::InvalidArgumentError("'" + *value + "' cannot be a certificate's " + field);
    }
  }
  return std::pair{std::move(cert), std::move(key)};
}

absl::Status add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  Extension extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension) {
    ERR_clear_error();
    return absl::InvalidArgumentError("'" + value + "' is not a valid " + OBJ_nid2sn(nid));
  }
  if (!X509_add_ext(cert, extension.get(), -1)) return openssl_error("adding an extension");
  return absl::OkStatus();
}

absl::StatusOr<std::pair<Cert, Key>> read_authority(const KeyPair& authority) {
  Bio cert_bio(BIO_new_mem_buf(authority.cert_pem.data(), static_cast<int>(authority.cert_pem.size())));
  Cert cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  Bio key_bio(BIO_new_mem_buf(authority.key_pem.data(), static_cast<int>(authority.key_pem.size())));
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!cert || !key) return openssl_error("reading the CA");
  return std::pair{std::move(cert), std::move(key)};
}

absl::Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  {
    std::ofstream out(path, std::ios::trunc);
    if (!out) return absl::InternalError("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return absl::InternalError("cannot chmod " + path + ": " + std::strerror(errno));
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> loopback_hosts() { return {"localhost", "127.0.0.1", "::1"}; }

absl::StatusOr<KeyPair> make_authority(std::string_view name) {
  auto made = new_certificate("ca", name, 3650);
  if (!made.ok()) return made.status();
  auto& [cert, key] = *made;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = add_extension(cert.get(), cert.get(), nid, value); !s.ok()) return s;
  }
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return openssl_error("signing the CA");
  return to_pems(cert.get(), key.get());
}

absl::StatusOr<KeyPair> issue_certificate(const KeyPair& authority, Role role,
                                          std::string_view name,
                                          const std::vector<std::string>& hosts) {
  auto issuer = read_authority(authority);
  if (!issuer.ok()) return issuer.status();
  auto made = new_certificate(role_name(role), name, 730);
  if (!made.ok()) return made.status();
  auto& [cert, key] = *made;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer->first.get()));
  std::vector<std::string> names = {"URI:" + role_uri(role, name)};
  for (const std::string& host : hosts) {
    unsigned char address[16];
    const bool ip = inet_pton(AF_INET, host.c_str(), address) == 1 ||
                    inet_pton(AF_INET6, host.c_str(), address) == 1;
    names.push_back((ip ? "IP:" : "DNS:") + host);
  }
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
        std::pair{NID_key_usage, std::string("critical,digitalSignature,keyAgreement")},
        std::pair{NID_ext_key_usage, std::string("serverAuth,clientAuth")},
        std::pair{NID_authority_key_identifier, std::string("keyid")},
        std::pair{NID_subject_alt_name, absl::StrJoin(names, ",")}}) {
    if (absl::Status s = add_extension(cert.get(), issuer->first.get(), nid, value); !s.ok()) {
      return s;
    }
  }
  if (!X509_sign(cert.get(), issuer->second.get(), EVP_sha256())) {
    return openssl_error("signing a certificate");
  }
  return to_pems(cert.get(), key.get());
}

absl::Status write_key_pair(const std::string& dir, const std::string& stem, const KeyPair& pair) {
  if (absl::Status s = write_file(dir + "/" + stem + ".key", pair.key_pem, 0600); !s.ok()) return s;
  return write_file(dir + "/" + stem + ".pem", pair.cert_pem, 0644);
}

absl::Status write_pool_certificates(const std::string& dir, const std::vector<std::string>& nodes,
                                     const std::vector<std::string>& hosts) {
  for (const std::string& node : nodes) {
    if (node.empty() || node.find('/') != std::string::npos || node == "ca" ||
        node == "controller" || node == "client") {
      return absl::InvalidArgumentError(
          "'" + node + "' cannot be a node's certificate name (empty, holds '/', or is ca, "
          "controller or client)");
    }
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError("cannot make " + dir + ": " + error.message());
  if (std::filesystem::exists(dir + "/ca.pem")) {
    return absl::FailedPreconditionError(dir + "/ca.pem exists already; nothing was written");
  }
  auto authority = make_authority("tgrack pool CA");
  if (!authority.ok()) return authority.status();
  std::vector<std::tuple<std::string, Role, std::string>> issued = {
      {"controller", Role::kController, "controller"}, {"client", Role::kClient, "client"}};
  for (const std::string& node : nodes) issued.emplace_back(node, Role::kNode, node);
  for (const auto& [stem, role, name] : issued) {
    auto pair = issue_certificate(*authority, role, name, hosts);
    if (!pair.ok()) return pair.status();
    if (absl::Status s = write_key_pair(dir, stem, *pair); !s.ok()) return s;
  }
  return write_key_pair(dir, "ca", *authority);
}

}  // namespace tg::net
