#include "daemon/daemon.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "collectives/collective_runtime.h"
#include "daemon/node_service.h"
#include "daemon/registrar.h"
#include "devices/cpu/cpu_device.h"
#include "devices/graph/graph_api.h"
#include "devices/units.h"
#include "rpc.h"

#ifndef TGRACK_VERSION
#define TGRACK_VERSION "unknown"
#endif

namespace tg {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "localhost";
  return buffer;
}

// Writes via a temporary file and rename, so a reader never sees a partial address.
absl::Status write_port_file(const std::string& path, const std::string& address) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << address << "\n";
    if (!out.flush()) return absl::InternalError("cannot write port file " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return absl::InternalError("cannot write port file " + path + ": " + error.message());
  return absl::OkStatus();
}

// The address peers should dial: a wildcard listen host is replaced by the host name.
std::string advertised_address(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = host_name();
  return host + ":" + std::to_string(port);
}

}  // namespace

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::create(DaemonConfig config) {
  if (config.cpu_devices < 0) return absl::InvalidArgumentError("--cpu-devices must be >= 0");
  if (config.state_dir.empty()) return absl::InvalidArgumentError("--state-dir is required");
  if (config.name.empty()) config.name = host_name();

  const std::filesystem::path lock_dir = std::filesystem::path(config.state_dir) / "locks";
  std::error_code error;
  std::filesystem::create_directories(lock_dir, error);
  if (error) {
    return absl::FailedPreconditionError("cannot create " + lock_dir.string() + ": " +
                                         error.message());
  }

  std::unique_ptr<Daemon> daemon(new Daemon(std::move(config)));
  const DaemonConfig& c = daemon->config_;
  // Every lock first: a second daemon must fail before it touches any device.
  for (int i = 0; i < c.cpu_devices; ++i) {
    const std::string device = "cpu" + std::to_string(i);
    auto lock = DeviceLock::acquire((lock_dir / (device + ".lock")).string(), device);
    if (!lock.ok()) return lock.status();
    daemon->locks_.push_back(std::move(*lock));
  }
  for (int i = 0; i < c.cpu_devices; ++i) {
    daemon->devices_.push_back(std::make_unique<CpuDevice>(
        "cpu" + std::to_string(i), c.device_memory, c.worker_threads, std::string()));
  }
  return daemon;
}

Daemon::~Daemon() { stop(); }

absl::Status Daemon::start() {
  collectives_ = std::make_unique<coll::CollectiveRuntime>(config_.name, devices());
  const size_t colon = config_.data_listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("--data-listen needs HOST:PORT");
  if (absl::Status status = collectives_->start(config_.data_listen.substr(0, colon),
                                                std::atoi(config_.data_listen.c_str() + colon + 1));
      !status.ok()) {
    return status;
  }
  if (config_.data_address.empty()) config_.data_address = collectives_->data_address();
  service_ = std::make_unique<NodeServiceImpl>(*this);
  grpc::ServerBuilder builder;
  configure_server(builder);
  int port = 0;
  builder.AddListeningPort(config_.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen on " + config_.listen_address);
  }
  address_ = advertised_address(config_.listen_address, port);
  spdlog::info("node '{}' serving on {} with {} cpu device(s) of {} each", config_.name,
               address_, devices_.size(), format_bytes(config_.device_memory));
  if (!config_.port_file.empty()) {
    if (absl::Status status = write_port_file(config_.port_file, address_); !status.ok()) {
      return status;
    }
  }
  registrar_ = std::make_unique<Registrar>(config_.controller_address,
                                           [this] { return node_info(); });
  registrar_->start();
  return absl::OkStatus();
}

void Daemon::stop() {
  std::lock_guard lock(stop_mutex_);
  if (registrar_) registrar_->stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
  registrar_.reset();
  collectives_.reset();
}

std::vector<Device*> Daemon::devices() const {
  std::vector<Device*> result;
  for (const auto& device : devices_) result.push_back(device.get());
  return result;
}

tgrack::v1::NodeInfo Daemon::node_info() const {
  tgrack::v1::NodeInfo node;
  node.set_name(config_.name);
  node.set_address(address_);
  node.set_data_address(config_.data_address);
  node.set_pid(static_cast<uint32_t>(getpid()));
  node.set_version(TGRACK_VERSION);
  for (size_t i = 0; i < devices_.size(); ++i) {
    const Device& device = *devices_[i];
    const DeviceProperties& properties = device.properties();
    const DeviceHealth health = device.health();
    tgrack::v1::DeviceInfo* info = node.add_devices();
    info->mutable_ref()->set_node(config_.name);
    info->mutable_ref()->set_index(static_cast<uint32_t>(i));
    info->set_kind(properties.kind);
    info->set_name(properties.name);
    info->set_memory_bytes(properties.memory_bytes);
    info->set_memory_used_bytes(device.memory_used());
    info->set_peak_flops(properties.peak_flops);
    info->set_memory_bandwidth(properties.memory_bandwidth);
    info->set_health(health.healthy ? tgrack::v1::HEALTH_HEALTHY : tgrack::v1::HEALTH_UNHEALTHY);
    info->set_health_reason(health.reason);
    info->set_hive_id(properties.hive_id);
  }
  return node;
}

absl::StatusOr<std::vector<HostTensor>> Daemon::run_graph(
    uint32_t device_index, const tgrack::v1::Graph& graph, const std::vector<HostTensor>& feeds,
    const std::vector<std::string>& feed_names, const std::string& job_id) {
  if (device_index >= devices_.size()) {
    return absl::NotFoundError("node '" + config_.name + "' has no device " +
                               std::to_string(device_index) + " (it has " +
                               std::to_string(devices_.size()) + ")");
  }
  auto outputs = tg::run_graph(*devices_[device_index], graph, feeds, feed_names);
  if (!outputs.ok()) {
    spdlog::warn("job {} on device {}: {}", job_id, device_index, outputs.status().ToString());
  } else {
    spdlog::debug("job {} ran on device {}", job_id, device_index);
  }
  return outputs;
}

}  // namespace tg
