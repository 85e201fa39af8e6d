#include "net/host_port.h"

#include <absl/status/status.h>
#include <absl/strings/numbers.h>

namespace tg::net {

absl::StatusOr<HostPort> parse_host_port(std::string_view text) {
  const auto refuse = [&] {
    return absl::InvalidArgumentError("'" + std::string(text) +
                                      "' is not HOST:PORT (IPv6 as [ADDRESS]:PORT) with a "
                                      "port from 0 to 65535");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return refuse();
  std::string_view host = text.substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return refuse();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return refuse();  // An IPv6 address without brackets: where does it end?
  }
  int port = -1;
  if (!absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) || port < 0 || port > 65535) {
    return refuse();
  }
  return HostPort{std::string(host), port};
}

std::string join_host_port(std::string_view host, int port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace tg::net
