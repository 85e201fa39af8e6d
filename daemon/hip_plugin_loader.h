// Finds and loads the HIP backend's plugin (devices/hip/hip_plugin.h) for tgd.
//   path     --hip-plugin, else $TGRACK_HIP_PLUGIN, else the installed place relative to the
//            running tgd: <tgd's dir>/TGRACK_HIP_PLUGIN_DIR/libtgrack-hip.so (the build puts
//            the plugin in the same place relative to build/daemon/tgd).
//   load     dlopen once per path per process, never closed (the devices it makes live on).
// Every failure is UNAVAILABLE with one line starting "hip backend: " that names the plugin
// and why: not installed, a library it needs is missing (dlopen's own words name it, e.g.
// "libamdhip64.so.6: cannot open shared object file"), no entry point, another version.
#pragma once

#include <string>

#include <absl/status/statusor.h>

#include "devices/hip/hip_plugin.h"

namespace tg {

inline constexpr char kHipPluginEnv[] = "TGRACK_HIP_PLUGIN";

// The path to load: `flag` if set, else $TGRACK_HIP_PLUGIN if set, else the default.
std::string hip_plugin_path(const std::string& flag);

// The default: next to the running binary, where `cmake --install` and the packages put it.
std::string default_hip_plugin_path();

absl::StatusOr<const HipPlugin*> load_hip_plugin(const std::string& path);

}  // namespace tg
