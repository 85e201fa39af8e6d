// Which devices a tgd owns and how they are linked. open_backend takes every device's lock
// first (a second daemon fails before it touches a device), then opens the devices and builds
// the link policy between them:
//   hip   AMD GPUs through the HIP runtime, from the HIP plugin (daemon/hip_plugin_loader.h); locks keyed by render node ("renderD128"); links
//         from the KFD topology under kfd_root.
//   cpu   N virtual cpu devices; links from a --topology JSON config (devices/topology/
//         topology_config.h), else host-staged between every pair: cpu devices of one daemon
//         copy through the daemon's own memory, the class with no peer path.
//   auto  hip when the plugin loads and an AMD GPU is present, else cpu (the reason is
//         returned for the log).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "devices/device.h"
#include "devices/device_lock.h"
#include "devices/topology/link_policy.h"

namespace tg {

struct BackendConfig {
  std::string backend = "auto";  // "hip", "cpu" or "auto".
  std::string lock_dir;          // Where <device>.lock files go; created if missing.
  int cpu_devices = 2;
  uint64_t device_memory = uint64_t{512} << 20;
  int worker_threads = 1;
  std::string hive_id;           // Hive of every cpu device when no topology file names one.
  std::string kfd_root = "/sys/class/kfd/kfd/topology";
  std::string topology_file;     // cpu only; "" = host-staged between every pair.
  std::string hip_plugin;        // "" = $TGRACK_HIP_PLUGIN, else the installed place.
};

struct Backend {
  std::string name;              // "hip" or "cpu": what was opened.
  std::string why;               // For auto: why this backend, e.g. "no AMD GPU found (...)".
  std::vector<DeviceLock> locks;  // Held for as long as the devices exist.
  std::vector<std::unique_ptr<Device>> devices;
  LinkPolicy links{LinkMatrix()};
  std::string links_source;      // "kfd <root>", "config <file>" or "default".
};

// UNAVAILABLE with the backend's one-line message for hip without an AMD GPU, or without a
// plugin that loads (the message names the plugin and the missing library); INVALID_ARGUMENT for an unknown backend, a bad topology file or one whose
// device count differs from cpu_devices; FAILED_PRECONDITION naming the device and the
// holder's pid when another process holds a lock.
absl::StatusOr<Backend> open_backend(const BackendConfig& config);

// One line per device pair: the link it uses and why, fallbacks named.
std::vector<std::string> describe_links(const LinkPolicy& links);

}  // namespace tg
