#include "daemon/daemon_addresses.h"

#include <absl/strings/str_cat.h>

#include "net/advertised_address.h"
#include "daemon/daemon.h"

namespace tg {

absl::StatusOr<DaemonAddresses> daemon_addresses(const DaemonConfig& config) {
  DaemonAddresses addresses;
  const std::string listen_host = host_of(config.listen_address);
  addresses.node_host = advertised_host(config.advertise, listen_host, config.controller_address);
  if (loopback_to_remote(addresses.node_host, config.controller_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--advertise: this daemon would advertise the loopback address ", addresses.node_host,
        " (from ", config.advertise.empty() ? "--listen " + config.listen_address : "--advertise",
        ") to the controller at ", config.controller_address,
        " on another host, which could not dial it back; set --advertise HOST to an address of "
        "this host that the other hosts reach"));
  }
  addresses.data_listen =
      config.data_listen.empty() ? listen_host + ":0" : config.data_listen;
  const std::string data_host = host_of(addresses.data_listen);
  const bool data_names_host = !config.data_listen.empty() && !is_wildcard_host(data_host);
  addresses.data_host = data_names_host ? data_host : addresses.node_host;
  if (loopback_to_remote(addresses.data_host, config.controller_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-listen: the collectives' data port ", addresses.data_listen,
        " is a loopback address but the controller at ", config.controller_address,
        " is on another host, so ranks there could not dial it; leave --data-listen out to "
        "follow --listen and --advertise, or give it an address the other hosts reach"));
  }
  return addresses;
}

}  // namespace tg
