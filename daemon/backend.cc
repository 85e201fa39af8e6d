#include "daemon/backend.h"

#include <filesystem>

#include <absl/strings/str_cat.h>

#include "daemon/hip_plugin_loader.h"
#include "devices/cpu/cpu_device.h"
#include "devices/topology/kfd_topology.h"
#include "devices/topology/topology_config.h"

namespace tg {
namespace {

absl::Status lock_device(const BackendConfig& config, const std::string& device, Backend& out) {
  auto lock = DeviceLock::acquire(
      (std::filesystem::path(config.lock_dir) / (device + ".lock")).string(), device);
  if (!lock.ok()) return lock.status();
  out.locks.push_back(std::move(*lock));
  return absl::OkStatus();
}

// The HIP plugin when it loads and HIP sees a GPU; otherwise UNAVAILABLE with the one-line
// reason (plugin missing, a ROCm library missing, no GPU).
absl::StatusOr<const HipPlugin*> hip_available(const BackendConfig& config) {
  auto plugin = load_hip_plugin(hip_plugin_path(config.hip_plugin));
  if (!plugin.ok()) return plugin.status();
  if (absl::Status present = (*plugin)->devices_present("/dev"); !present.ok()) return present;
  return plugin;
}

absl::StatusOr<Backend> open_hip(const BackendConfig& config, const HipPlugin& plugin) {
  auto topology = read_kfd_topology(config.kfd_root);
  if (!topology.ok()) {
    return absl::Status(topology.status().code(),
                        absl::StrCat("hip backend: ", topology.status().message()));
  }
  auto matrix = link_matrix_from_kfd(*topology);
  if (!matrix.ok()) return matrix.status();
  Backend out;
  out.name = "hip";
  for (const KfdNode& node : topology->nodes) {
    if (!node.is_gpu()) continue;
    if (absl::Status s = lock_device(config, absl::StrCat("renderD", node.drm_render_minor), out);
        !s.ok()) {
      return s;
    }
  }
  auto devices = plugin.open_devices(config.kfd_root);
  if (!devices.ok()) return devices.status();
  if (devices->size() != matrix->size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("hip backend: KFD topology under ", config.kfd_root, " lists ",
                     matrix->size(), " GPUs but HIP opened ", devices->size()));
  }
  out.devices = std::move(*devices);
  out.links = LinkPolicy(std::move(*matrix));
  out.links_source = absl::StrCat("kfd ", config.kfd_root);
  return out;
}

absl::StatusOr<Backend> open_cpu(const BackendConfig& config) {
  LinkMatrix matrix;
  Backend out;
  out.name = "cpu";
  if (!config.topology_file.empty()) {
    auto loaded = load_topology_config(config.topology_file);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--topology: ", loaded.status().message()));
    }
    if (loaded->size() != static_cast<size_t>(config.cpu_devices)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--topology ", config.topology_file, " describes ", loaded->size(),
          " device(s) but --cpu-devices is ", config.cpu_devices));
    }
    matrix = std::move(*loaded);
    out.links_source = absl::StrCat("config ", config.topology_file);
  } else {
    std::vector<TopologyDevice> devices(config.cpu_devices);
    for (int i = 0; i < config.cpu_devices; ++i) {
      devices[i].name = absl::StrCat("cpu", i);
      devices[i].hive_id = config.hive_id;
    }
    matrix = LinkMatrix(std::move(devices));  // Every pair host-staged.
    out.links_source = "default";
  }
  for (const TopologyDevice& device : matrix.devices()) {
    if (absl::Status s = lock_device(config, device.name, out); !s.ok()) return s;
  }
  for (const TopologyDevice& device : matrix.devices()) {
    out.devices.push_back(std::make_unique<CpuDevice>(device.name, config.device_memory,
                                                      config.worker_threads, device.hive_id));
  }
  out.links = LinkPolicy(std::move(matrix));
  return out;
}

}  // namespace

absl::StatusOr<Backend> open_backend(const BackendConfig& config) {
  std::error_code error;
  std::filesystem::create_directories(config.lock_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create lock directory ", config.lock_dir, ": ", error.message()));
  }
  if (config.backend == "cpu") return open_cpu(config);
  if (config.backend == "hip") {
    auto plugin = hip_available(config);
    if (!plugin.ok()) return plugin.status();
    return open_hip(config, **plugin);
  }
  if (config.backend != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown backend '", config.backend, "'; expected hip, cpu or auto"));
  }
  auto plugin = hip_available(config);
  if (!plugin.ok()) {
    auto cpu = open_cpu(config);
    if (cpu.ok()) cpu->why = std::string(plugin.status().message());
    return cpu;
  }
  auto hip = open_hip(config, **plugin);
  if (hip.ok()) hip->why = "an AMD GPU is present";
  return hip;
}

std::vector<std::string> describe_links(const LinkPolicy& links) {
  std::vector<std::string> lines;
  for (size_t a = 0; a < links.size(); ++a) {
    for (size_t b = a + 1; b < links.size(); ++b) {
      std::string line = links.explain(a, b);
      const LinkClass chosen = links.choose(a, b);
      if (chosen == LinkClass::kPcie) absl::StrAppend(&line, " [fallback XGMI -> PCIe peer]");
      if (chosen == LinkClass::kHost) {
        absl::StrAppend(&line, " [fallback XGMI -> PCIe peer -> host-staged]");
      }
      lines.push_back(std::move(line));
    }
  }
  return lines;
}

}  // namespace tg
