// Which address a server tells peers on other hosts to dial, and the refusal to tell a
// remote peer a loopback address (which would send it to itself).
//
//   advertised_host(advertise, listen_host, toward)
//     `advertise` when set; else `listen_host` unless it is a wildcard (0.0.0.0, ::, "");
//     else the local address the kernel routes from toward `toward` (HOST:PORT, e.g. the
//     controller); else the first non-loopback interface address; else 127.0.0.1.
//     Never the host name: Debian maps it to 127.0.1.1.
//   loopback_to_remote(advertised, peer)
//     true when `advertised` (HOST or HOST:PORT) is a loopback address and `peer`
//     (HOST:PORT, "" = none) is not: the peer could never dial it back.
//   is_loopback_host(host)
//     127.0.0.0/8, ::1, or a name that resolves to loopback addresses only.
#pragma once

#include <string>

namespace tg {

std::string host_of(const std::string& host_port);
bool is_wildcard_host(const std::string& host);
bool is_loopback_host(const std::string& host);
std::string advertised_host(const std::string& advertise, const std::string& listen_host,
                            const std::string& toward);
bool loopback_to_remote(const std::string& advertised, const std::string& peer);

}  // namespace tg
