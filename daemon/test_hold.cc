#include "daemon/test_hold.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "tgrack/v1/graph.pb.h"

namespace tg {

absl::Status test_hold_allowed(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  const char* enabled = std::getenv(kTestHoldEnv);
  if (enabled != nullptr && std::string(enabled) == "1") return absl::OkStatus();
  return absl::FailedPreconditionError(std::string("--test-hold-dir is for tests only: set ") +
                                       kTestHoldEnv + "=1 in the environment to use it");
}

Event HoldingDevice::launch(const Kernel& kernel, std::span<const Buffer> inputs, Buffer output) {
  if (kernel.node != nullptr && kernel.node->name().rfind(kTestHoldPrefix, 0) == 0 &&
      !hold(kernel)) {
    return Event::done(absl::CancelledError(
        "node '" + kernel.node->name() + "': stopped while held, its run was cancelled"));
  }
  return device_->launch(kernel, inputs, output);
}

bool HoldingDevice::hold(const Kernel& kernel) {
  const std::string& node_name = kernel.node->name();
  const auto end = std::find_if(node_name.begin(), node_name.end(), [](char c) {
    return !std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-';
  });
  const std::string key(node_name.begin(), end);
  const std::filesystem::path held = std::filesystem::path(dir_) / (key + ".held");
  const std::filesystem::path release = std::filesystem::path(dir_) / (key + ".release");
  std::ofstream(held) << properties().name << "\n";
  spdlog::warn("test hold: node '{}' on {} waits for {}", node_name, properties().name,
               release.string());
  const auto until = std::chrono::steady_clock::now() + kMaxTestHold;
  std::error_code error;
  while (!std::filesystem::exists(release, error)) {
    if (kernel.stop_requested()) {
      std::ofstream(std::filesystem::path(dir_) / (key + ".stopped")) << properties().name << "\n";
      spdlog::warn("test hold: node '{}' on {} stopped: its run was cancelled", node_name,
                   properties().name);
      return false;
    }
    if (std::chrono::steady_clock::now() >= until) {
      spdlog::warn("test hold: node '{}' was never released; running it after {} s", node_name,
                   kMaxTestHold.count());
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace tg
