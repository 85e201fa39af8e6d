#include "controller/job_runner.h"

#include <spdlog/spdlog.h>

#include "controller/placement.h"
#include "controller/reply_size.h"
#include "devices/graph/graph_api.h"
#include "rpc.h"

namespace tg {

JobRunner::JobRunner(const Membership& membership, NodeStubs& stubs, JobRegistry& registry,
                     std::chrono::milliseconds run_timeout)
    : membership_(membership), stubs_(stubs), registry_(registry), run_timeout_(run_timeout) {}

int JobRunner::jobs_running(const std::string& node, uint32_t index) const {
  auto it = running_.find(device_name(node, index));
  return it == running_.end() ? 0 : it->second;
}

absl::StatusOr<tgrack::v1::SubmitReply> JobRunner::submit(
    const tgrack::v1::SubmitRequest& request, std::chrono::milliseconds caller_timeout) {
  const auto submitted = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
  };
  if (metrics_ != nullptr) metrics_->job_submitted();
  QueuedJob queued(metrics_);
  auto reply = run(request, submitted, caller_timeout, queued);
  if (metrics_ != nullptr) metrics_->job_done(seconds(), reply.status().code());
  return reply;
}

absl::StatusOr<tgrack::v1::SubmitReply> JobRunner::run(
    const tgrack::v1::SubmitRequest& request, std::chrono::steady_clock::time_point submitted,
    std::chrono::milliseconds caller_timeout, QueuedJob& queued) {
  auto validated = validate_graph(request.graph());
  if (!validated.ok()) return validated.status();
  std::vector<HostTensor> feeds;
  std::vector<std::string> names;
  for (const tgrack::v1::NamedTensor& feed : request.feeds()) {
    auto tensor = HostTensor::from_proto(feed.tensor(), "feed '" + feed.name() + "'");
    if (!tensor.ok()) return tensor.status();
    feeds.push_back(std::move(*tensor));
    names.push_back(feed.name());
  }
  if (absl::Status status = check_feeds(request.graph(), *validated, feeds, names); !status.ok()) {
    return status;
  }
  std::vector<std::pair<std::string, TensorType>> returned;
  for (const std::string& output : request.graph().outputs()) {
    returned.emplace_back(output, validated->types.at(output));
  }
  if (absl::Status status = check_returned_outputs(returned); !status.ok()) return status;

  const std::string job_id = registry_.next_id();
  PlacementChoice choice;
  {
    std::lock_guard lock(mutex_);
    auto placed = place(membership_.nodes(), request.placement(),
                        [this](const std::string& node, uint32_t index) {
                          return jobs_running(node, index);
                        });
    if (!placed.ok()) return placed.status();
    choice = *placed;
    ++running_[device_name(choice.node, choice.index)];
  }
  const std::string device = device_name(choice.node, choice.index);
  spdlog::debug("{}: {} node(s) on {}", job_id, request.graph().nodes_size(), device);

  tgrack::v1::RunGraphRequest run;
  run.set_device_index(choice.index);
  *run.mutable_graph() = request.graph();
  *run.mutable_feeds() = request.feeds();
  run.set_job_id(job_id);
  tgrack::v1::DeviceRef ref;
  ref.set_node(choice.node);
  ref.set_index(choice.index);
  const auto stop_on_daemon = [this, address = choice.address, job_id](const std::string& reason) {
    tgrack::v1::CancelJobRequest cancel;
    cancel.set_job_id(job_id);
    cancel.set_reason(reason);
    tgrack::v1::CancelJobReply reply;
    auto deadline = context_with_deadline(std::chrono::seconds(2));
    stubs_.at(address).CancelJob(deadline.get(), cancel, &reply);
  };
  registry_.start(job_id, {ref}, "", "", stop_on_daemon);
  queued.started();
  if (metrics_ != nullptr) {
    metrics_->job_scheduled(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count());
  }
  const bool caller_first = caller_timeout < run_timeout_;
  auto ran = stubs_.run_graph(choice.address, choice.call_port, run,
                              caller_first ? caller_timeout : run_timeout_);
  absl::Status status = ran.status();
  if (caller_first && absl::IsDeadlineExceeded(status)) {  // The daemon may still be at it.
    stop_on_daemon("deadline exceeded: the caller's deadline passed");
  }
  const std::string cancelled_because = registry_.finish(job_id, status);
  {
    std::lock_guard lock(mutex_);
    --running_[device];
  }
  if (!cancelled_because.empty()) {
    spdlog::warn("{} on {}: {}", job_id, device, cancelled_because);
    return absl::CancelledError(job_id + " on " + device + " " + cancelled_because);
  }
  if (!status.ok()) {
    std::string context_text = job_id + " on " + device;
    if (status.code() == absl::StatusCode::kUnavailable) {
      context_text += ": node '" + choice.node + "' at " + choice.address + " is unreachable";
    }
    spdlog::warn("{}: {}", context_text, status.ToString());
    return absl::Status(status.code(), context_text + ": " + std::string(status.message()));
  }

  tgrack::v1::SubmitReply reply;
  *reply.mutable_outputs() = std::move(*ran->mutable_outputs());
  reply.mutable_device()->set_node(choice.node);
  reply.mutable_device()->set_index(choice.index);
  *reply.add_devices() = reply.device();
  reply.set_job_id(job_id);
  return reply;
}

}  // namespace tg
