#include "controller/controller_server.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "net/advertised_address.h"
#include "net/rpc.h"

namespace tg {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "localhost";
  return buffer;
}

}  // namespace

ControllerServer::ControllerServer(const ControllerConfig& config, GrantSigner signer)
    : metrics_(host_name()),
      membership_(config.down_after, Membership::Clock::now, config.forget_down_after),
      collectives_([this] { return membership_.nodes(); }),
      signer_(std::move(signer)),
      plans_(membership_, collectives_, stubs_, registry_, config.job_timeout, signer_,
             config.grant_lifetime),
      sessions_([this](const auto& pieces) { plans_.free_pieces(pieces); },
                [this](const auto& plan_ids) { plans_.drop_all(plan_ids); }),
      service_({membership_, plans_, registry_, sessions_, collectives_, stubs_, signer_},
               config.heartbeat_interval, &metrics_) {
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
  if (!config.state_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(config.state_dir, error);
    if (error) {
      return absl::FailedPreconditionError("--state-dir " + config.state_dir + ": " + error.message());
    }
  }
  auto signer = config.state_dir.empty()
                    ? GrantSigner::generate()
                    : GrantSigner::load_or_create(config.state_dir + "/grant-key.pem");
  if (!signer.ok()) return signer.status();
  std::unique_ptr<ControllerServer> server(new ControllerServer(config, *std::move(signer)));
  grpc::ServerBuilder builder;
  configure_server(builder);
  int port = 0;
  add_listening_port(builder, config.listen_address, &port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return listen_failure(config.listen_address);
  }
  const std::string host = host_of(config.listen_address);
  const std::string shown_host = advertised_host(config.advertise, host, "");
  server->address_ = shown_host + ":" + std::to_string(port);
  spdlog::info("tgcontroller serving on {} (heartbeat {} ms, down after {} ms, grants for {} s)",
               server->address_, config.heartbeat_interval.count(), config.down_after.count(),
               config.grant_lifetime.count() / 1000);
  if (!config.port_file.empty()) {
    if (absl::Status status = write_port_file(config.port_file, server->address_); !status.ok()) {
      return status;
    }
  }
  if (!config.metrics_address.empty()) {
    if (absl::Status status = server->metrics_.serve(config.metrics_address); !status.ok()) {
      return absl::Status(status.code(), "--metrics: " + std::string(status.message()));
    }
    const std::string metrics_host = host_of(config.metrics_address);
    const std::string metrics =
        (is_wildcard_host(metrics_host) ? shown_host : metrics_host) + ":" +
        std::to_string(server->metrics_.port());
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
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
}

}  // namespace tg
