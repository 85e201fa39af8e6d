// HOST:PORT as every tgrack address is written: a name, an IPv4 address, or an IPv6 address
// in brackets ("[::1]:7072"). parse_host_port splits one (the host without brackets) and
// refuses anything else with INVALID_ARGUMENT naming the text; join_host_port writes one,
// bracketing an IPv6 host.
#pragma once

#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg::net {

struct HostPort {
  std::string host;  // "" for an empty host (":7072": any address).
  int port = 0;      // 0..65535.
};

absl::StatusOr<HostPort> parse_host_port(std::string_view text);
std::string join_host_port(std::string_view host, int port);

}  // namespace tg::net
