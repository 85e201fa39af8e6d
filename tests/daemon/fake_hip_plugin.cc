// A stand-in for libtgrack-hip.so: the real entry point and table, on a host with no GPU.
// Built as the version of tgrack (FAKE_PLUGIN_VERSION) and with the libraries the test
// chooses, to show what tgd does with each kind of plugin.
#include "devices/hip/hip_plugin.h"

#ifdef FAKE_PLUGIN_NEEDS_LIBRARY
extern "C" int tgrack_test_rocm_stand_in();
#endif

namespace {

absl::Status devices_present(const std::string& dev_root) {
#ifdef FAKE_PLUGIN_NEEDS_LIBRARY
  (void)tgrack_test_rocm_stand_in();
#endif
  return absl::UnavailableError("hip backend: no AMD GPU found (" + dev_root + "/kfd missing)");
}

absl::StatusOr<std::vector<std::unique_ptr<tg::Device>>> open_devices(const std::string&) {
  return absl::UnavailableError("hip backend: no AMD GPU found");
}

constexpr tg::HipPlugin kPlugin{FAKE_PLUGIN_VERSION, &devices_present, &open_devices};

}  // namespace

extern "C" __attribute__((visibility("default"))) const tg::HipPlugin* tgrack_hip_plugin() {
  return &kPlugin;
}
