#include "controller/controller_server.h"

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "rpc.h"

namespace tg {

ControllerServer::ControllerServer(const ControllerConfig& config)
    : membership_(config.down_after),
      jobs_(membership_, config.job_timeout),
      service_(membership_, jobs_, config.heartbeat_interval) {}

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
  builder.AddListeningPort(config.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError("cannot listen on " + config.listen_address);
  }
  server->address_ =
      config.listen_address.substr(0, config.listen_address.rfind(':')) + ":" + std::to_string(port);
  spdlog::info("tgcontroller serving on {} (heartbeat {} ms, down after {} ms)", server->address_,
               config.heartbeat_interval.count(), config.down_after.count());
  if (!config.port_file.empty()) {
    const std::string temporary = config.port_file + ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << server->address_ << "\n";
      if (!out.flush()) return absl::InternalError("cannot write port file " + temporary);
    }
    std::error_code error;
    std::filesystem::rename(temporary, config.port_file, error);
    if (error) return absl::InternalError("cannot write port file " + config.port_file);
  }
  return server;
}

ControllerServer::~ControllerServer() { stop(); }

void ControllerServer::stop() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_.reset();
}

}  // namespace tg
