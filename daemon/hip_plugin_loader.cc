#include "daemon/hip_plugin_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include <absl/strings/str_cat.h>

#ifndef TGRACK_VERSION
#define TGRACK_VERSION "unknown"
#endif
#ifndef TGRACK_HIP_PLUGIN_DIR
#define TGRACK_HIP_PLUGIN_DIR "../lib/tgrack"
#endif

namespace tg {
namespace {

absl::StatusOr<const HipPlugin*> open_plugin(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return absl::UnavailableError(absl::StrCat(
        "hip backend: plugin ", path, " is not installed (it comes with the HIP build of tgrack; "
        "--hip-plugin or $", kHipPluginEnv, " name another place)"));
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return absl::UnavailableError(absl::StrCat("hip backend: cannot load plugin ", path, ": ",
                                               why != nullptr ? why : "unknown dlopen error",
                                               " (is the ROCm runtime installed?)"));
  }
  auto entry = reinterpret_cast<HipPluginEntry>(::dlsym(handle, kHipPluginEntry));
  if (entry == nullptr) {
    return absl::UnavailableError(absl::StrCat("hip backend: plugin ", path, " has no entry point ",
                                               kHipPluginEntry, "; not a tgrack HIP plugin"));
  }
  const HipPlugin* plugin = entry();
  if (plugin == nullptr || plugin->version == nullptr ||
      std::string(plugin->version) != TGRACK_VERSION) {
    return absl::UnavailableError(absl::StrCat(
        "hip backend: plugin ", path, " belongs to tgrack ",
        plugin != nullptr && plugin->version != nullptr ? plugin->version : "(none)",
        ", this tgd is ", TGRACK_VERSION, "; install both from one package version"));
  }
  return plugin;
}

}  // namespace

std::string default_hip_plugin_path() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path dir = error ? std::filesystem::path(".") : self.parent_path();
  return (dir / TGRACK_HIP_PLUGIN_DIR / kHipPluginFile).lexically_normal().string();
}

std::string hip_plugin_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(kHipPluginEnv); env != nullptr && *env != '\0') return env;
  return default_hip_plugin_path();
}

absl::StatusOr<const HipPlugin*> load_hip_plugin(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, absl::StatusOr<const HipPlugin*>> loaded;
  std::lock_guard lock(mutex);
  auto it = loaded.find(path);
  if (it == loaded.end()) it = loaded.emplace(path, open_plugin(path)).first;
  return it->second;
}

}  // namespace tg
