// The HIP backend as a plugin. libtgrack-hip.so holds every piece of tgrack that needs the
// ROCm runtime (libamdhip64, librocm_smi64); tgd loads it with dlopen (daemon/hip_plugin_
// loader.h) only when it looks for GPUs, so tgd itself links no ROCm library and runs on a
// host without one. The plugin exports one C symbol, kHipPluginEntry, that returns the table
// below. C++ types cross the boundary, so a plugin is only used by the tgd of its own version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "devices/device.h"

namespace tg {

inline constexpr char kHipPluginEntry[] = "tgrack_hip_plugin";
inline constexpr char kHipPluginFile[] = "libtgrack-hip.so";

struct HipPlugin {
  const char* version;  // The tgrack version it was built as (TGRACK_VERSION).
  // OK when HIP sees an AMD GPU; UNAVAILABLE with one line "hip backend: ..." otherwise.
  absl::Status (*devices_present)(const std::string& dev_root);
  // Every GPU, hive ids from the KFD topology under kfd_root.
  absl::StatusOr<std::vector<std::unique_ptr<Device>>> (*open_devices)(const std::string& kfd_root);
};

// The type of kHipPluginEntry: extern "C" const HipPlugin* tgrack_hip_plugin().
using HipPluginEntry = const HipPlugin* (*)();

}  // namespace tg
