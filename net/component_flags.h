// The transport flags tgd and tgcontroller share: --tls-cert, --tls-key, --tls-ca or
// --insecure, --max-message-size and --max-calls-per-client. add() registers them on a
// program's command line; apply(), after parsing, sets this process's transport security,
// message limit and calls per client, or says why the TLS flags cannot be used. Components
// are known by their certificates: they show no bearer token, whatever the environment holds.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <absl/status/status.h>

#include "devices/units.h"
#include "net/bearer_token.h"
#include "net/flag_checks.h"
#include "net/call_limits.h"
#include "net/transport_security.h"
#include "net/rpc.h"

namespace tg::net {

struct ComponentFlags {
  TlsFiles tls;
  std::string max_message_size = "64M";
  int max_calls_per_client = kDefaultCallsPerClient;

  void add(CLI::App& app) {
    add_tls_flags(app, tls);
    app.add_option("--max-message-size", max_message_size,
                   "Largest gRPC message served or sent (up to 1G); larger ones are refused "
                   "with RESOURCE_EXHAUSTED")
        ->capture_default_str()
        ->check(flags::byte_size(1 << 10, kMaxMessageBytes));
    app.add_option("--max-calls-per-client", max_calls_per_client,
                   "Calls one client certificate may have open at once; more are refused with "
                   "RESOURCE_EXHAUSTED (the pool's controller and nodes are not bounded)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }

  absl::Status apply() const {
    auto security = component_security(tls);
    if (!security.ok()) return security.status();
    set_transport_security(std::move(*security));
    set_message_limit(*parse_bytes(max_message_size));  // Checked by the flag's validator.
    set_calls_per_client(max_calls_per_client);
    set_bearer_token("");
    return absl::OkStatus();
  }
};

}  // namespace tg::net
