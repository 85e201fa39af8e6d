#include "daemon/daemon.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "collectives/collective_runtime.h"
#include "daemon/backend.h"
#include "daemon/child_process.h"
#include "daemon/daemon_metrics.h"
#include "daemon/fragment_runner.h"
#include "daemon/call_watch.h"
#include "daemon/job_cancels.h"
#include "daemon/tensor_store.h"
#include "daemon/transfer_mailbox.h"
#include "daemon/node_service.h"
#include "daemon/registrar.h"
#include "daemon/test_hold.h"
#include "daemon/timed_device.h"
#include "devices/cpu/cpu_device.h"
#include "devices/dtype.h"
#include "devices/graph/executor.h"
#include "devices/topology/topology_proto.h"
#include "devices/units.h"
#include "net/advertised_address.h"
#include "net/host_port.h"
#include "daemon/daemon_addresses.h"
#include "net/rpc.h"

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

// The address peers should dial: a wildcard listen host is replaced by `advertised_host`.
std::string advertised_address(const std::string& listen, int port,
                               const std::string& advertised_host) {
  std::string host = host_of(listen);
  if (is_wildcard_host(host)) host = advertised_host;
  return host + ":" + std::to_string(port);
}

// COLLECTIVE_ALL_REDUCE -> all_reduce, as metrics label collectives.
std::string collective_label(tgrack::v1::CollectiveKind kind) {
  std::string name = tgrack::v1::CollectiveKind_Name(kind);
  if (name.rfind("COLLECTIVE_", 0) == 0) name = name.substr(11);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::create(DaemonConfig config) {
  if (config.cpu_devices < 0) return absl::InvalidArgumentError("--cpu-devices must be >= 0");
  if (config.state_dir.empty()) return absl::InvalidArgumentError("--state-dir is required");
  if (config.name.empty()) config.name = host_name();
  if (absl::Status allowed = test_hold_allowed(config.test_hold_dir); !allowed.ok()) return allowed;

  std::unique_ptr<Daemon> daemon(new Daemon(std::move(config)));
  const DaemonConfig& c = daemon->config_;
  BackendConfig backend_config;
  backend_config.backend = c.backend;
  backend_config.lock_dir =
      c.lock_dir.empty() ? (std::filesystem::path(c.state_dir) / "locks").string() : c.lock_dir;
  backend_config.cpu_devices = c.cpu_devices;
  backend_config.device_memory = c.device_memory;
  backend_config.worker_threads = c.worker_threads;
  backend_config.hive_id = c.hive_id;
  backend_config.kfd_root = c.kfd_root;
  backend_config.topology_file = c.topology_file;
  backend_config.hip_plugin = c.hip_plugin;
  auto backend = open_backend(backend_config);
  if (!backend.ok()) return backend.status();
  if (c.backend == "auto") {
    spdlog::info("backend auto: using {} devices ({})", backend->name, backend->why);
  }
  daemon->locks_ = std::move(backend->locks);
  daemon->devices_ = std::move(backend->devices);
  if (!c.test_hold_dir.empty()) {
    std::filesystem::create_directories(c.test_hold_dir);
    spdlog::warn("test hold enabled: kernels of nodes named {}* wait for release files in {}",
                 kTestHoldPrefix, c.test_hold_dir);
    for (auto& device : daemon->devices_) {
      device = std::make_unique<HoldingDevice>(std::move(device), c.test_hold_dir);
    }
  }
  daemon->links_ = std::make_shared<const LinkPolicy>(std::move(backend->links));
  daemon->links_source_ = backend->links_source;
  daemon->backend_name_ = backend->name;
  for (const std::string& line : describe_links(*daemon->links_)) {
    spdlog::info("link {} (from {})", line, daemon->links_source_);
  }
  const size_t count = daemon->devices_.size();
  daemon->running_.assign(count, 0);
  daemon->resetting_.assign(count, false);
  daemon->unhealthy_.assign(count, "");
  daemon->metrics_ = std::make_unique<DaemonMetrics>(c.name);
  daemon->tensors_ = std::make_unique<TensorStore>(c.name, daemon->devices());
  daemon->mailbox_ = std::make_unique<TransferMailbox>();
  daemon->cancels_ = std::make_unique<JobCancels>();
  daemon->call_watch_ = std::make_unique<CallWatch>();
  for (size_t i = 0; i < count; ++i) {
    daemon->metrics_->device_added(std::to_string(i), backend->name);
  }
  // Pairs that fell back from XGMI, once per pair, labelled "a-b".
  for (size_t a = 0; a < count; ++a) {
    for (size_t b = a + 1; b < count; ++b) {
      const LinkClass used = daemon->links_->choose(a, b);
      if (used == LinkClass::kXgmi) continue;
      daemon->metrics_->link_fallback(std::to_string(a) + "-" + std::to_string(b), "xgmi",
                                      link_class_name(used));
    }
  }
  daemon->sample_metrics();
  return daemon;
}

Daemon::~Daemon() { stop(); }

absl::Status Daemon::start() {
  auto addresses = daemon_addresses(config_);
  if (!addresses.ok()) return addresses.status();
  if (!config_.metrics_address.empty()) {
    if (absl::Status status = metrics_->serve(config_.metrics_address); !status.ok()) {
      return absl::Status(status.code(), "--metrics: " + std::string(status.message()));
    }
    const std::string metrics_address =
        advertised_address(config_.metrics_address, metrics_->port(), addresses->node_host);
    spdlog::info("metrics on http://{}/metrics", metrics_address);
    if (!config_.metrics_port_file.empty()) {
      if (absl::Status status = write_port_file(config_.metrics_port_file, metrics_address);
          !status.ok()) {
        return status;
      }
    }
  }
  if (!config_.health_probe.empty()) probe_thread_ = std::thread([this] { probe_loop(); });
  coll::CommOptions comm_options;
  comm_options.tcp.listener.max_connections = config_.max_data_connections;
  comm_options.tcp.tls = config_.data_tls;
  comm_options.tcp.listener.require_tls = config_.data_tls;
  // Default cpu links say nothing measured: the cost model keeps its own local figures.
  if (links_source_ != "default") comm_options.links = links_;
  comm_options.stall_after = config_.collective_stall_after;
  comm_options.keepalive_interval = config_.collective_keepalive_interval;
  comm_options.dead_after = config_.collective_dead_after;
  comm_options.on_stall = [this](const coll::StallReport& report) {
    const size_t slash = report.device.rfind('/');
    metrics_->collective_stall(slash == std::string::npos ? report.device : report.device.substr(slash + 1),
                               report.peer_device, coll::peer_state_name(report.verdict.state));
  };
  collectives_ = std::make_unique<coll::CollectiveRuntime>(config_.name, devices(), comm_options);
  absl::StatusOr<net::HostPort> data_listen = net::parse_host_port(addresses->data_listen);
  if (!data_listen.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data-listen: ", data_listen.status().message()));
  }
  if (absl::Status status = collectives_->start(data_listen->host, data_listen->port,
                                                addresses->data_host);
      !status.ok()) {
    return status;
  }
  if (config_.data_address.empty()) config_.data_address = collectives_->data_address();
  FragmentRunnerDeps deps;
  deps.node_name = config_.name;
  deps.enter_device = [this](uint32_t index, const std::string& job_id,
                             const std::string& tenant) {
    return enter_device(index, job_id, tenant);
  };
  deps.device_count = devices_.size();
  deps.store = tensors_.get();
  deps.mailbox = mailbox_.get();
  deps.cancels = cancels_.get();
  deps.call_watch = call_watch_.get();
  deps.collectives = collectives_.get();
  deps.fragment_done = [this](double seconds, absl::StatusCode code) {
    metrics_->fragment_done(seconds, code);
  };
  deps.transfer_done = [this](const std::string& peer, const std::string& kind, uint64_t bytes,
                              double seconds, absl::StatusCode code) {
    if (code == absl::StatusCode::kOk) {
      metrics_->transfer_done(peer, kind, bytes, seconds);
    } else {
      metrics_->link_error(peer, kind, code);
    }
  };
  fragments_ = std::make_unique<FragmentRunner>(std::move(deps));
  service_ = std::make_unique<NodeServiceImpl>(NodeServiceImpl::Parts{
      config_.name, *this, *fragments_, *tensors_, *cancels_, job_reports_, grants_, *collectives_,
      kernel_stats_});
  grpc::ServerBuilder builder;
  configure_server(builder);
  int port = 0;
  add_listening_port(builder, config_.listen_address, &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return listen_failure(config_.listen_address);
  }
  address_ = addresses->node_host + ":" + std::to_string(port);
  const uint64_t device_memory = devices_.empty() ? 0 : devices_[0]->properties().memory_bytes;
  spdlog::info("node '{}' serving on {} with {} {} device(s) of {} each", config_.name, address_,
               devices_.size(), backend_name_,
               format_bytes(device_memory));
  if (!config_.port_file.empty()) {
    if (absl::Status status = write_port_file(config_.port_file, address_); !status.ok()) {
      return status;
    }
  }
  Registrar::Hooks hooks;
  hooks.describe = [this] {
    sample_metrics();
    return node_info();
  };
  hooks.registered = [this](const tgrack::v1::RegisterReply& reply) {
    if (absl::Status status = grants_.trust(reply.grant_public_key()); !status.ok()) {
      spdlog::error("the controller's grant key: {}", status.ToString());
    }
  };
  hooks.heartbeat_answered = [this](const tgrack::v1::HeartbeatReply& reply) {
    grants_.set_revoked({reply.revoked_token_ids().begin(), reply.revoked_token_ids().end()});
  };
  hooks.reports = &job_reports_;
  registrar_ = std::make_unique<Registrar>(config_.controller_address, std::move(hooks));
  registrar_->start();
  return absl::OkStatus();
}

void Daemon::stop() {
  std::lock_guard lock(stop_mutex_);
  {
    std::lock_guard state(state_mutex_);
    stopping_ = true;
    if (probe_child_ != nullptr) probe_child_->kill();
  }
  probe_wake_.notify_all();
  if (probe_thread_.joinable()) probe_thread_.join();
  if (registrar_) registrar_->stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
  registrar_.reset();
  fragments_.reset();
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
  node.set_rack(config_.rack);
  node.set_data_address(config_.data_address);
  node.set_pid(static_cast<uint32_t>(getpid()));
  node.set_version(TGRACK_VERSION);
  *node.mutable_topology() = topology_to_proto(*links_, links_source_);
  for (size_t i = 0; i < devices_.size(); ++i) {
    const Device& device = *devices_[i];
    const DeviceProperties& properties = device.properties();
    const DeviceHealth health = health_of(i);
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

absl::StatusOr<std::shared_ptr<Device>> Daemon::enter_device(uint32_t index,
                                                             const std::string& job_id,
                                                             const std::string& tenant) {
  if (index >= devices_.size()) {
    return absl::NotFoundError("node '" + config_.name + "' has no device " +
                               std::to_string(index) + " (it has " +
                               std::to_string(devices_.size()) + ")");
  }
  {
    std::lock_guard lock(state_mutex_);
    if (resetting_[index]) {
      return absl::UnavailableError("device " + config_.name + "/" + std::to_string(index) +
                                    " is being reset; job " + job_id + " refused");
    }
    ++running_[index];
  }
  const std::string label = std::to_string(index);
  auto* timed = new TimedDevice(
      *devices_[index],
      [this, label, index, tenant](const std::string& op, double seconds, uint64_t bytes) {
        metrics_->kernel_ran(label, op, seconds, bytes);
        kernel_stats_.kernel_ran(index, tenant, op, seconds, bytes);
      },
      [this, label, index, tenant](uint64_t bytes, double seconds) {
        metrics_->bytes_copied(label, bytes);
        kernel_stats_.bytes_copied(index, tenant, bytes);
        kernel_stats_.add_busy_seconds(index, seconds);
      });
  return std::shared_ptr<Device>(timed, [this, index](Device* device) {
    delete device;
    {
      std::lock_guard lock(state_mutex_);
      --running_[index];
    }
    idle_.notify_all();
  });
}

}  // namespace tg

namespace tg {

int Daemon::metrics_port() const { return metrics_->port(); }

DeviceHealth Daemon::health_of(size_t index) const {
  DeviceHealth health = devices_[index]->health();
  if (!health.healthy) return health;
  std::lock_guard lock(state_mutex_);
  if (!unhealthy_[index].empty()) return {false, unhealthy_[index]};
  if (!probe_failure_.empty()) return {false, probe_failure_};
  return health;
}

void Daemon::sample_metrics() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_sample_).count();
  last_sample_ = now;
  for (size_t i = 0; i < devices_.size(); ++i) {
    const std::string label = std::to_string(i);
    metrics_->device_memory(label, devices_[i]->memory_used(),
                            devices_[i]->properties().memory_bytes);
    metrics_->device_health(label, health_of(i).healthy);
    const double busy = kernel_stats_.take_busy_seconds(static_cast<uint32_t>(i));
    metrics_->device_busy(label, elapsed > 0 ? std::min(1.0, busy / elapsed) : 0.0);
  }
  if (collectives_ == nullptr) return;
  std::map<std::pair<std::string, std::string>, uint64_t> errors;  // By peer and transport.
  for (const auto& link : collectives_->link_stats()) {
    metrics_->link_totals(std::to_string(link.device), link.peer_device, link.transport,
                          link.counters.sent_bytes, link.counters.received_bytes);
    errors[{link.peer_device, link.transport}] += link.counters.errors;
  }
  for (const auto& [link, total] : errors) metrics_->link_error_total(link.first, link.second, total);
  const coll::tcp::ListenerCounters data = collectives_->data_connections();
  metrics_->data_connections(data.held, {{"over_limit", data.over_limit},
                                         {"malformed", data.malformed},
                                         {"unauthenticated", data.unauthenticated},
                                         {"handshake_timeout", data.handshake_timeouts}});
}

absl::Status Daemon::join_collective(const tgrack::v1::JoinCommunicatorRequest& request) {
  absl::Status status = collectives_->join(request);
  if (status.ok()) {
    std::lock_guard lock(state_mutex_);
    world_sizes_[request.spec().comm_id()] = request.spec().ranks_size();
  }
  return status;
}

absl::StatusOr<tgrack::v1::RunCollectiveReply> Daemon::run_collective(
    const tgrack::v1::RunCollectiveRequest& request) {
  auto reply = collectives_->run(request);
  if (!reply.ok()) {
    spdlog::warn("collective on communicator {} failed: {}", request.comm_id(),
                 std::string(reply.status().message()));
  }
  if (!reply.ok() || reply->results().empty()) return reply;
  double seconds = 0;
  for (const auto& result : reply->results()) seconds = std::max(seconds, result.seconds_per_iter());
  const uint64_t bytes = request.count() * dtype_size(request.dtype());
  int ranks = reply->results_size();
  {
    std::lock_guard lock(state_mutex_);
    if (auto it = world_sizes_.find(request.comm_id()); it != world_sizes_.end()) ranks = it->second;
  }
  metrics_->collective_done(collective_label(request.kind()), reply->algorithm(), ranks, bytes,
                            seconds);
  return reply;
}

absl::Status Daemon::reset_devices(const std::vector<uint32_t>& indices,
                                   std::chrono::milliseconds drain_timeout,
                                   const std::string& reason) {
  for (uint32_t index : indices) {
    if (index >= devices_.size()) {
      return absl::NotFoundError("node '" + config_.name + "' has no device " +
                                 std::to_string(index) + " to reset");
    }
  }
  const auto names = [&] {
    std::string text;
    for (uint32_t index : indices) {
      text += (text.empty() ? "" : ", ") + config_.name + "/" + std::to_string(index);
    }
    return text;
  }();
  std::unique_lock lock(state_mutex_);
  for (uint32_t index : indices) {
    if (resetting_[index]) {
      return absl::FailedPreconditionError("device " + config_.name + "/" +
                                           std::to_string(index) + " is already being reset");
    }
  }
  for (uint32_t index : indices) resetting_[index] = true;
  const auto drain_deadline = std::chrono::steady_clock::now() + drain_timeout;
  const bool drained = idle_.wait_for(lock, drain_timeout, [&] {
    for (uint32_t index : indices) {
      if (running_[index] > 0) return false;
    }
    return true;
  });
  if (!drained) {
    for (uint32_t index : indices) resetting_[index] = false;
    return absl::DeadlineExceededError("reset of " + names + ": work still running after " +
                                       std::to_string(drain_timeout.count()) +
                                       " ms of draining; nothing was reset");
  }
  lock.unlock();
  // Collectives on these devices get the rest of the drain timeout, then their communicators
  // fail; none starts there until the reset is over.
  std::unique_ptr<coll::CollectiveRuntime::Fence> fence;
  if (collectives_ != nullptr) {
    fence = collectives_->fence(indices, drain_deadline, "reset of " + names + " (" + reason + ")");
    for (const std::string& comm : fence->cancelled()) {
      spdlog::warn("reset of {}: failed communicator {}, still running after {} ms", names, comm,
                   drain_timeout.count());
    }
  }
  spdlog::info("resetting {} ({})", names, reason);
  for (uint32_t index : indices) tensors_->drop_device(index);  // Their memory goes.

  std::vector<absl::Status> results(indices.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < indices.size(); ++k) {
    threads.emplace_back([&, k] { results[k] = devices_[indices[k]]->reset(); });
  }
  for (std::thread& thread : threads) thread.join();

  absl::Status first;
  lock.lock();
  for (size_t k = 0; k < indices.size(); ++k) {
    const uint32_t index = indices[k];
    const std::string device = config_.name + "/" + std::to_string(index);
    resetting_[index] = false;
    if (results[k].ok()) {
      unhealthy_[index].clear();
    } else {
      unhealthy_[index] = "reset failed: " + std::string(results[k].message());
      if (first.ok()) {
        first = absl::Status(results[k].code(), "reset of " + device + ": " +
                                                    std::string(results[k].message()));
      }
    }
  }
  lock.unlock();
  for (uint32_t index : indices) {
    metrics_->device_reset(std::to_string(index));
    metrics_->device_health(std::to_string(index), health_of(index).healthy);
  }
  if (first.ok()) spdlog::info("reset of {} done; back in service", names);
  return first;
}

void Daemon::probe_loop() {
  for (;;) {
    ChildOptions options;
    options.argv = {"/bin/sh", "-c", config_.health_probe};
    options.timeout = absl::FromChrono(config_.health_probe_timeout);
    std::string failure;
    auto child = ChildProcess::start(options);
    if (!child.ok()) {
      failure = "health probe cannot start: " + std::string(child.status().message());
    } else {
      {
        std::lock_guard lock(state_mutex_);
        if (stopping_) return;
        probe_child_ = child->get();
      }
      auto result = (*child)->wait();
      {
        std::lock_guard lock(state_mutex_);
        probe_child_ = nullptr;
      }
      if (!result.ok()) {
        failure = "health probe failed: " + std::string(result.status().message());
      } else if (!result->succeeded()) {
        failure = "health probe '" + config_.health_probe + "' exited with " +
                  std::to_string(result->exit_code) + ": " + result->stderr_text.substr(0, 200);
      }
    }
    std::unique_lock lock(state_mutex_);
    if (failure != probe_failure_) {
      if (!failure.empty()) spdlog::warn("{}", failure);
      probe_failure_ = failure;
    }
    if (probe_wake_.wait_for(lock, config_.health_probe_interval, [&] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace tg
