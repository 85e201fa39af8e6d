// tgctl certs init DIR: a pool's CA and the certificates of its controller, nodes and clients
// (net/certificates.h), for tgcontroller/tgd --tls-cert/--tls-key/--tls-ca and tgctl.
#include <iostream>
#include <memory>

#include <absl/strings/str_join.h>

#include "client/tgctl/command.h"
#include "net/certificates.h"

namespace tg::tgctl {
namespace {

struct CertsInit {
  std::string dir;
  std::vector<std::string> nodes;
  std::vector<std::string> hosts = net::loopback_hosts();
};

absl::Status run_certs_init(const CertsInit& init) {
  if (absl::Status s = net::write_pool_certificates(init.dir, init.nodes, init.hosts); !s.ok()) {
    return s;
  }
  std::cout << "wrote " << init.dir << ": ca.pem, controller.pem, client.pem"
            << (init.nodes.empty() ? "" : ", ") << absl::StrJoin(init.nodes, ".pem, ")
            << (init.nodes.empty() ? "" : ".pem") << " (each with its .key) for hosts "
            << absl::StrJoin(init.hosts, ", ") << "\n";
  return absl::OkStatus();
}

}  // namespace

void add_certs_command(CLI::App& app, const GlobalOptions&, Action& action) {
  CLI::App* certs = app.add_subcommand("certs", "Certificates for a pool's TLS");
  certs->require_subcommand(1);
  CLI::App* init_command = certs->add_subcommand(
      "init", "Make a CA (ca.pem, ca.key) and certificates for the controller, each node and a "
              "client in DIR; keys are readable by their owner only");
  auto init = std::make_shared<CertsInit>();
  init_command->add_option("dir", init->dir, "Directory to write (made when missing)")->required();
  init_command->add_option("--nodes", init->nodes, "Node names, one certificate each (a,b,...)")
      ->delimiter(',');
  init_command->add_option("--hosts", init->hosts,
                           "Host names and IP addresses the pool serves on (a,b,...)")
      ->delimiter(',')
      ->capture_default_str();
  init_command->callback([&action, init] { action = [init] { return run_certs_init(*init); }; });
}

}  // namespace tg::tgctl
