#include "controller/controller_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <absl/strings/ascii.h>
#include <spdlog/spdlog.h>

#include "controller/sqlite_store.h"
#include "net/advertised_address.h"
#include "net/rpc.h"

namespace tg {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "localhost";
  return buffer;
}

// Makes tenant "admin" with an admin token when the store holds none, and hands the token
// over as the header says.
absl::Status bootstrap_admin(Tenants& tenants, const ControllerConfig& config) {
  if (tenants.has_admin()) return absl::OkStatus();
  tgrack::v1::CreateTenantRequest request;
  request.set_name("admin");
  request.set_role(tgrack::v1::TOKEN_ROLE_ADMIN);
  auto created = tenants.tenant("admin").ok() ? [&]() -> absl::StatusOr<std::string> {
    auto rotated = tenants.rotate("admin");
    if (!rotated.ok()) return rotated.status();
    return rotated->token();
  }()
                                              : [&]() -> absl::StatusOr<std::string> {
    auto made = tenants.create(request);
    if (!made.ok()) return made.status();
    return made->token();
  }();
  if (!created.ok()) return created.status();
  const std::string file = !config.bootstrap_admin_token_file.empty()
                               ? config.bootstrap_admin_token_file
                           : !config.state_dir.empty() ? config.state_dir + "/admin-token"
                                                       : "";
  if (file.empty()) {
    spdlog::warn("admin token (shown once; pass --state-dir or --bootstrap-admin-token-file "
                 "to have it in a file): {}", *created);
    return absl::OkStatus();
  }
  const std::string temporary = file + ".tmp";
  {
    const mode_t old_mask = ::umask(077);
    std::ofstream out(temporary, std::ios::trunc);
    out << *created << "\n";
    out.close();
    ::umask(old_mask);
    if (!out) return absl::FailedPreconditionError("cannot write the admin token to " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, file, error);
  if (error) return absl::FailedPreconditionError("admin token file " + file + ": " + error.message());
  spdlog::info("made tenant 'admin' and wrote its admin token to {}", file);
  return absl::OkStatus();
}

}  // namespace

ControllerServer::ControllerServer(const ControllerConfig& config, GrantSigner signer,
                                   std::unique_ptr<StateStore> store,
                                   std::unique_ptr<Tenants> tenants)
    : store_(std::move(store)),
      tenants_(std::move(tenants)),
      audit_(*store_),
      ledger_(*store_),
      metrics_(host_name()),
      membership_(config.down_after, Membership::Clock::now, config.forget_down_after),
      collectives_([this] { return membership_.nodes(); }),
      signer_(std::move(signer)),
      plans_(membership_, collectives_, stubs_, registry_, config.job_timeout, signer_,
             config.grant_lifetime),
      sessions_([this](const auto& pieces) { plans_.free_pieces(pieces); },
                [this](const auto& plan_ids) { plans_.drop_all(plan_ids); }),
      service_({membership_, plans_, registry_, sessions_, collectives_, stubs_, signer_,
                *tenants_, audit_, ledger_, *store_},
               config.heartbeat_interval, &metrics_) {
  plans_.set_metrics(&metrics_);
  plans_.set_sessions(&sessions_);
  plans_.set_tenants(tenants_.get());
  if (auto nodes = store_->table("nodes"); nodes.ok()) {
    std::vector<tgrack::v1::NodeInfo> known;
    for (const auto& [name, bytes] : *nodes) known.emplace_back().ParseFromString(bytes);
    membership_.restore(known);
  } else {
    spdlog::error("node list: {}", nodes.status().ToString());
  }
  if (auto history = ledger_.recent_jobs(1000); history.ok()) {
    registry_.restore(*std::move(history));
  } else {
    spdlog::error("job history: {}", history.status().ToString());
  }
  registry_.set_on_finished(
      [this](const tgrack::v1::JobInfo& job, const std::string& reported_by) {
        record_finished(job, reported_by);
      });
}

void ControllerServer::record_finished(const tgrack::v1::JobInfo& job,
                                       const std::string& reported_by) {
  std::string kind;
  if (job.devices_size() > 0) {
    if (auto node = membership_.node(job.devices(0).node()); node.ok()) {
      for (const tgrack::v1::DeviceInfo& device : node->devices()) {
        if (device.ref().index() != job.devices(0).index()) continue;
        kind = absl::AsciiStrToLower(  // DEVICE_KIND_CPU -> "cpu"
            tgrack::v1::DeviceKind_Name(device.kind()).substr(sizeof("DEVICE_KIND_") - 1));
      }
    }
  }
  if (auto recorded = ledger_.record(job, kind, reported_by); !recorded.ok()) {
    spdlog::error("ledger: job {} not recorded: {}", job.job_id(), recorded.status().ToString());
  }
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
  auto store = SqliteStore::open(config.state_dir.empty() ? "" : config.state_dir + "/state.db");
  if (!store.ok()) return store.status();
  auto tenants = Tenants::load(**store);
  if (!tenants.ok()) return tenants.status();
  if (absl::Status status = bootstrap_admin(**tenants, config); !status.ok()) return status;
  std::unique_ptr<ControllerServer> server(new ControllerServer(
      config, *std::move(signer), *std::move(store), *std::move(tenants)));
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
