#include "controller/controller_server.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "call_methods.h"
#include "rpc.h"

namespace tg {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "localhost";
  return buffer;
}

}  // namespace

ControllerServer::ControllerServer(const ControllerConfig& config)
    : metrics_(host_name()),
      membership_(config.down_after),
      collectives_([this] { return membership_.nodes(); }),
      jobs_(membership_, stubs_, registry_, config.job_timeout),
      plans_(membership_, collectives_, stubs_, registry_, config.job_timeout),
      sessions_([this](const auto& pieces) { plans_.free_pieces(pieces); },
                [this](const auto& plan_ids) { plans_.drop_all(plan_ids); }),
      service_({membership_, jobs_, plans_, registry_, sessions_, collectives_},
               config.heartbeat_interval, &metrics_),
      calls_(config.call_limits) {
  jobs_.set_metrics(&metrics_);
  plans_.set_metrics(&metrics_);
  plans_.set_sessions(&sessions_);
}

void ControllerServer::sample_loop() {
  std::unique_lock lock(sample_mutex_);
  do {
    std::map<std::string, int64_t> nodes, devices;
    for (const tgrack::v1::NodeInfo& node : membership_.nodes()) {
      const bool up = node.state() != tgrack::v1::NODE_STATE_DOWN;
      ++nodes[!up ? "down" : node.cordoned() ? "cordoned" : "up"];
      metrics_.node_up(node.name(), up);
      for (const tgrack::v1::DeviceInfo& device : node.devices()) {
        ++devices[device.health() == tgrack::v1::HEALTH_UNHEALTHY ? "unhealthy" : "healthy"];
      }
    }
    metrics_.nodes_by_state(nodes);
    metrics_.devices_by_state(devices);
    metrics_.jobs_running(static_cast<int64_t>(registry_.running()));
  } while (!sample_wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; }));
}

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::start(
    const ControllerConfig& config) {
  if (config.heartbeat_interval.count() <= 0 || config.down_after <= config.heartbeat_interval) {
    return absl::InvalidArgumentError(
        "--down-after must be longer than --heartbeat-interval, and both positive");
  }
  std::unique_ptr<ControllerServer> server(new ControllerServer(config));
  grpc::ServerBuilder builder;
  configure_server(builder);
  int port = 0;
  add_listening_port(builder, config.listen_address, &port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return listen_failure(config.listen_address);
  }
  const std::string host = config.listen_address.substr(0, config.listen_address.rfind(':'));
  server->address_ = host + ":" + std::to_string(port);
  server->calls_.handle<tgrack::v1::SubmitRequest>(
      kCallSubmit, "Submit",
      [raw = server.get()](const tgrack::v1::SubmitRequest& request) {
        return raw->service_.submit(request);
      });
  if (absl::Status status = server->calls_.start(host, config.call_port); !status.ok()) {
    return status;
  }
  server->service_.set_call_port(server->calls_.port());
  spdlog::info("tgcontroller serving on {}, Submit socket calls on port {} (heartbeat {} ms, "
               "down after {} ms)",
               server->address_, server->calls_.port(), config.heartbeat_interval.count(),
               config.down_after.count());
  if (!config.port_file.empty()) {
    if (absl::Status status = write_port_file(config.port_file, server->address_); !status.ok()) {
      return status;
    }
  }
  if (!config.metrics_address.empty()) {
    if (absl::Status status = server->metrics_.serve(config.metrics_address); !status.ok()) {
      return absl::Status(status.code(), "--metrics: " + std::string(status.message()));
    }
    const std::string metrics = config.metrics_address.substr(0, config.metrics_address.rfind(':')) +
                                ":" + std::to_string(server->metrics_.port());
    spdlog::info("metrics on http://{}/metrics", metrics);
    if (!config.metrics_port_file.empty()) {
      if (absl::Status status = write_port_file(config.metrics_port_file, metrics); !status.ok()) {
        return status;
      }
    }
  }
  server->sampler_ = std::thread([raw = server.get()] { raw->sample_loop(); });
  return server;
}

ControllerServer::~ControllerServer() { stop(); }

void ControllerServer::stop() {
  {
    std::lock_guard lock(sample_mutex_);
    stopping_ = true;
  }
  sample_wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  calls_.stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
}

}  // namespace tg
