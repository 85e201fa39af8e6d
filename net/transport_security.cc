#include "net/transport_security.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <tuple>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

namespace tg::net {
namespace {

absl::StatusOr<std::string> read_pem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(std::string(flag) + ": cannot read '" + path + "'");
  }
  return text.str();
}

struct ProcessSecurity {
  std::shared_ptr<const TransportSecurity> security;
  std::shared_ptr<grpc::ChannelCredentials> channel;
};

ProcessSecurity make_process_security(TransportSecurity security) {
  ProcessSecurity made;
  if (security.insecure) {
    made.channel = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions channel;
    channel.pem_root_certs = security.ca_pem;
    channel.pem_private_key = security.key_pem;
    channel.pem_cert_chain = security.cert_pem;
    made.channel = grpc::SslCredentials(channel);
  }
  made.security = std::make_shared<const TransportSecurity>(std::move(security));
  return made;
}

void warn_if_plain_text(const TransportSecurity& security) {
  if (security.insecure) {
    spdlog::warn("--insecure: gRPC in plain text, unauthenticated; anyone who reaches a port "
                 "can call it");
  }
}

std::mutex& state_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::optional<ProcessSecurity>& state() {
  static std::optional<ProcessSecurity> current;
  return current;
}

ProcessSecurity current() {
  std::lock_guard lock(state_mutex());
  if (!state()) {
    auto security = load_transport_security(with_environment({}));
    if (!security.ok()) {
      spdlog::error("TGRACK_TLS_*: {}", std::string(security.status().message()));
      security = TransportSecurity{};
    }
    warn_if_plain_text(*security);
    state() = make_process_security(std::move(*security));
  }
  return *state();  // A copy: a later set_transport_security() leaves it whole.
}

}  // namespace

void add_tls_flags(CLI::App& app, TlsFiles& files) {
  app.add_option("--tls-cert", files.cert, "This process's certificate (PEM), signed by --tls-ca");
  app.add_option("--tls-key", files.key, "The private key of --tls-cert (PEM)");
  app.add_option("--tls-ca", files.ca, "The pool's CA certificate (PEM): peers must be signed by it");
  app.add_flag("--insecure", files.insecure,
               "Plain-text gRPC without authentication (instead of the TLS flags)");
}

TlsFiles with_environment(TlsFiles files) {
  if (files.insecure) return files;  // --insecure wins over TGRACK_TLS_*.
  auto fill = [](std::string& field, const char* name) {
    if (const char* value = std::getenv(name); field.empty() && value != nullptr) field = value;
  };
  fill(files.cert, "TGRACK_TLS_CERT");
  fill(files.key, "TGRACK_TLS_KEY");
  fill(files.ca, "TGRACK_TLS_CA");
  const char* insecure = std::getenv("TGRACK_INSECURE");
  if (files.cert.empty() && files.key.empty() && files.ca.empty() && insecure != nullptr) {
    files.insecure = std::string(insecure) == "1";  // TLS files, given or set, win over it.
  }
  return files;
}

absl::StatusOr<TransportSecurity> load_transport_security(const TlsFiles& files) {
  TransportSecurity security;
  if (files.insecure) {
    if (!files.cert.empty() || !files.key.empty() || !files.ca.empty()) {
      return absl::InvalidArgumentError(
          "--insecure: plain text was asked for together with --tls-cert/--tls-key/--tls-ca; "
          "give one or the other");
    }
    security.insecure = true;
    return security;
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together; one is missing");
  }
  for (auto [path, target, flag] : {std::tuple{&files.ca, &security.ca_pem, "--tls-ca"},
                                    std::tuple{&files.cert, &security.cert_pem, "--tls-cert"},
                                    std::tuple{&files.key, &security.key_pem, "--tls-key"}}) {
    if (path->empty()) continue;
    auto pem = read_pem(*path, flag);
    if (!pem.ok()) return pem.status();
    *target = std::move(*pem);
  }
  return security;
}

absl::StatusOr<TransportSecurity> component_security(const TlsFiles& files) {
  if (!files.insecure && (files.cert.empty() || files.key.empty() || files.ca.empty())) {
    return absl::InvalidArgumentError(
        "--tls-cert, --tls-key and --tls-ca are required (tgctl certs init DIR makes them), or "
        "--insecure for plain text");
  }
  return load_transport_security(files);
}

void set_transport_security(TransportSecurity security) {
  warn_if_plain_text(security);
  ProcessSecurity made = make_process_security(std::move(security));
  std::lock_guard lock(state_mutex());
  state() = std::move(made);
}

std::shared_ptr<const TransportSecurity> transport_security() { return current().security; }
std::shared_ptr<grpc::ChannelCredentials> channel_credentials() { return current().channel; }
std::shared_ptr<grpc::ServerCredentials> server_credentials() {
  const std::shared_ptr<const TransportSecurity> security = current().security;
  if (security->insecure) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions server(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  server.pem_root_certs = security->ca_pem;
  server.pem_key_cert_pairs.push_back({security->key_pem, security->cert_pem});
  return grpc::SslServerCredentials(server);
}

}  // namespace tg::net
