#include "daemon/registrar.h"

#include <algorithm>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "net/transport_security.h"
#include "net/rpc.h"

namespace tg {
namespace {

// A channel that reconnects quickly after the controller comes back: gRPC's default
// backoff (up to two minutes) would leave the node unregistered long after a restart.
std::shared_ptr<grpc::Channel> controller_channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(message_limit());
  args.SetMaxSendMessageSize(message_limit());
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(address, net::channel_credentials(), args);
}

}  // namespace

Registrar::Registrar(std::string controller_address, Hooks hooks)
    : controller_address_(std::move(controller_address)),
      hooks_(std::move(hooks)),
      stub_(tgrack::v1::ControllerService::NewStub(controller_channel(controller_address_))) {}

Registrar::~Registrar() { stop(); }

void Registrar::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Registrar::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Registrar::registered() const {
  std::lock_guard lock(mutex_);
  return registered_;
}

bool Registrar::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void Registrar::loop() {
  absl::StatusCode last_error = absl::StatusCode::kOk;  // Log each kind of failure once.
  while (true) {
    absl::Status status = registered() ? heartbeat_once() : register_once();
    if (status.ok()) {
      last_error = absl::StatusCode::kOk;
    } else if (status.code() == absl::StatusCode::kNotFound) {
      spdlog::warn("controller {} no longer knows this node ({}); registering again",
                   controller_address_, std::string(status.message()));
      continue;
    } else if (status.code() != last_error) {
      spdlog::warn("controller {}: {}; retrying every {} ms", controller_address_,
                   status.ToString(), interval_.count());
      last_error = status.code();
    }
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mutex_);
      delay = interval_;
    }
    if (!pause(delay)) return;
  }
}

absl::Status Registrar::register_once() {
  tgrack::v1::RegisterRequest request;
  *request.mutable_node() = hooks_.describe();
  tgrack::v1::RegisterReply reply;
  auto context = context_with_deadline(std::chrono::milliseconds(2000));
  absl::Status status = from_grpc(stub_->Register(context.get(), request, &reply));
  if (!status.ok()) return status;
  if (hooks_.registered) hooks_.registered(reply);
  std::lock_guard lock(mutex_);
  registered_ = true;
  incarnation_ = reply.incarnation();
  interval_ = std::chrono::milliseconds(std::max<uint32_t>(reply.heartbeat_interval_ms(), 10));
  spdlog::info("registered as '{}' with controller {} (heartbeat every {} ms)",
               request.node().name(), controller_address_, interval_.count());
  return absl::OkStatus();
}

absl::Status Registrar::heartbeat_once() {
  tgrack::v1::HeartbeatRequest request;
  tgrack::v1::NodeInfo node = hooks_.describe();
  request.set_node_name(node.name());
  *request.mutable_devices() = node.devices();
  JobReports::Batch reports;
  if (hooks_.reports != nullptr) reports = hooks_.reports->take();
  for (tgrack::v1::JobInfo& job : reports.finished) *request.add_finished_jobs() = std::move(job);
  for (tgrack::v1::JobInfo& job : reports.running) *request.add_running_jobs() = std::move(job);
  std::chrono::milliseconds deadline;
  {
    std::lock_guard lock(mutex_);
    request.set_incarnation(incarnation_);
    deadline = std::clamp(interval_ * 2, std::chrono::milliseconds(200),
                          std::chrono::milliseconds(2000));
  }
  tgrack::v1::HeartbeatReply reply;
  auto context = context_with_deadline(deadline);
  absl::Status status = from_grpc(stub_->Heartbeat(context.get(), request, &reply));
  if (!status.ok() && hooks_.reports != nullptr) {
    auto& finished = *request.mutable_finished_jobs();
    hooks_.reports->restore(std::vector<tgrack::v1::JobInfo>(
        std::make_move_iterator(finished.begin()), std::make_move_iterator(finished.end())));
  }
  if (status.code() == absl::StatusCode::kNotFound) {
    std::lock_guard lock(mutex_);
    registered_ = false;
  }
  if (status.ok() && hooks_.heartbeat_answered) hooks_.heartbeat_answered(reply);
  return status;
}

}  // namespace tg
