// libtgrack-hip.so's entry point: the HIP backend's table for tgd (hip_plugin.h).
#include "devices/hip/hip_plugin.h"

#include "devices/hip/hip_device.h"

#ifndef TGRACK_VERSION
#error "TGRACK_VERSION must name the tgrack version the plugin belongs to"
#endif

namespace tg {
namespace {

absl::Status devices_present(const std::string& dev_root) { return hip_devices_present(dev_root); }

absl::StatusOr<std::vector<std::unique_ptr<Device>>> open_devices(const std::string& kfd_root) {
  HipOpenOptions options;
  options.kfd_topology_root = kfd_root;
  return open_hip_devices(options);
}

constexpr HipPlugin kPlugin{TGRACK_VERSION, &devices_present, &open_devices};

}  // namespace
}  // namespace tg

extern "C" __attribute__((visibility("default"))) const tg::HipPlugin* tgrack_hip_plugin() {
  return &tg::kPlugin;
}
