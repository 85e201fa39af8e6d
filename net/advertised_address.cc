#include "net/advertised_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "net/host_port.h"

namespace tg {
namespace {

std::string strip_brackets(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

std::string port_of(const std::string& host_port) {
  absl::StatusOr<net::HostPort> parsed = net::parse_host_port(host_port);
  return parsed.ok() ? std::to_string(parsed->port) : "";
}

bool is_loopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) != 0;
  }
  return false;
}

std::string numeric(const sockaddr* address, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = {};
  if (getnameinfo(address, length, text, sizeof(text), nullptr, 0, NI_NUMERICHOST) != 0) return "";
  return address->sa_family == AF_INET6 ? "[" + std::string(text) + "]" : text;
}

struct Resolved {
  std::vector<sockaddr_storage> addresses;
  std::vector<socklen_t> lengths;
};

Resolved resolve(const std::string& host, const std::string& port) {
  Resolved resolved;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(strip_brackets(host).c_str(), port.empty() ? nullptr : port.c_str(), &hints,
                  &list) != 0) {
    return resolved;
  }
  for (addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    sockaddr_storage storage{};
    std::memcpy(&storage, entry->ai_addr, entry->ai_addrlen);
    resolved.addresses.push_back(storage);
    resolved.lengths.push_back(entry->ai_addrlen);
  }
  freeaddrinfo(list);
  return resolved;
}

// The source address of a route toward host:port: a connected UDP socket sends nothing.
std::string route_source(const std::string& host_port) {
  const Resolved peer = resolve(host_of(host_port), port_of(host_port));
  for (size_t i = 0; i < peer.addresses.size(); ++i) {
    const auto* address = reinterpret_cast<const sockaddr*>(&peer.addresses[i]);
    const int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    const bool routed = connect(fd, address, peer.lengths[i]) == 0 &&
                        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
    close(fd);
    if (routed) return numeric(reinterpret_cast<const sockaddr*>(&local), length);
  }
  return "";
}

std::string first_interface_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* entry = list; entry != nullptr && found.empty(); entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_UP) == 0 || is_loopback(entry->ifa_addr)) continue;
    found = numeric(entry->ifa_addr, sizeof(sockaddr_in));
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

std::string host_of(const std::string& host_port) {
  absl::StatusOr<net::HostPort> parsed = net::parse_host_port(host_port);
  if (!parsed.ok()) return host_port;  // A host alone.
  return parsed->host.find(':') == std::string::npos ? parsed->host : "[" + parsed->host + "]";
}

bool is_wildcard_host(const std::string& host) {
  const std::string bare = strip_brackets(host);
  return bare.empty() || bare == "0.0.0.0" || bare == "::";
}

bool is_loopback_host(const std::string& host) {
  const Resolved resolved = resolve(host, "");
  if (resolved.addresses.empty()) return false;
  for (const sockaddr_storage& address : resolved.addresses) {
    if (!is_loopback(reinterpret_cast<const sockaddr*>(&address))) return false;
  }
  return true;
}

std::string advertised_host(const std::string& advertise, const std::string& listen_host,
                            const std::string& toward) {
  if (!advertise.empty()) return advertise;
  if (!is_wildcard_host(listen_host)) return listen_host;
  if (!toward.empty()) {
    if (std::string routed = route_source(toward); !routed.empty()) return routed;
  }
  if (std::string local = first_interface_address(); !local.empty()) return local;
  return "127.0.0.1";
}

bool loopback_to_remote(const std::string& advertised, const std::string& peer) {
  if (host_of(peer).empty()) return false;  // No peer named: nobody to mislead.
  return is_loopback_host(host_of(advertised)) && !is_loopback_host(host_of(peer));
}

}  // namespace tg
