// The addresses a daemon listens on and advertises, from its flags:
//   node service: --advertise, else the --listen host unless it is a wildcard, else the local
//                 address routed toward the controller (net/advertised_address.h);
//   data plane:   --data-listen, default the --listen host with port 0; advertised as its own
//                 host when that names one, else as the node service's advertised host.
// A loopback address advertised while the controller is on another host is refused with
// FAILED_PRECONDITION naming the flag to set: ranks there would dial themselves.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace tg {

struct DaemonConfig;

struct DaemonAddresses {
  std::string node_host;    // Advertised host of the NodeService.
  std::string data_listen;  // HOST:PORT the data plane binds.
  std::string data_host;    // Advertised host of the data plane.
};

absl::StatusOr<DaemonAddresses> daemon_addresses(const DaemonConfig& config);

}  // namespace tg
