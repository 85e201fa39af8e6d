#include "controller/job_runner.h"

#include <spdlog/spdlog.h>

#include "controller/placement.h"
#include "devices/graph/graph_api.h"
#include "rpc.h"

namespace tg {

JobRunner::JobRunner(const Membership& membership, std::chrono::milliseconds run_timeout)
    : membership_(membership), run_timeout_(run_timeout) {}

tgrack::v1::NodeService::Stub& JobRunner::stub(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto& stub = stubs_[address];
  if (!stub) stub = tgrack::v1::NodeService::NewStub(make_channel(address));
  return *stub;
}

int JobRunner::jobs_running(const std::string& node, uint32_t index) const {
  auto it = running_.find(device_name(node, index));
  return it == running_.end() ? 0 : it->second;
}

std::pair<int, int> JobRunner::drain(const std::string& node,
                                     std::chrono::milliseconds deadline) {
  std::unique_lock lock(mutex_);
  const auto on_node = [&] {
    int count = 0;
    for (const auto& [id, job] : active_) count += job.node == node ? 1 : 0;
    return count;
  };
  const int before = on_node();
  if (finished_.wait_for(lock, deadline, [&] { return on_node() == 0; })) return {before, 0};
  int cancelled = 0;
  for (auto& [id, job] : active_) {
    if (job.node != node) continue;
    job.cancelled_because = "cancelled: node '" + node + "' is being drained and the drain "
                            "deadline of " + std::to_string(deadline.count()) + " ms passed";
    job.context->TryCancel();
    ++cancelled;
  }
  return {before - cancelled, cancelled};
}

absl::StatusOr<tgrack::v1::SubmitReply> JobRunner::submit(
    const tgrack::v1::SubmitRequest& request) {
  const auto submitted = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count();
  };
  if (metrics_ != nullptr) metrics_->job_submitted();
  auto reply = run(request, submitted);
  if (metrics_ != nullptr) metrics_->job_done(seconds(), reply.status().code());
  return reply;
}

absl::StatusOr<tgrack::v1::SubmitReply> JobRunner::run(
    const tgrack::v1::SubmitRequest& request, std::chrono::steady_clock::time_point submitted) {
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

  const std::string job_id = "job-" + std::to_string(next_job_++);
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
  spdlog::info("{}: {} node(s) on {}", job_id, request.graph().nodes_size(), device);

  tgrack::v1::RunGraphRequest run;
  run.set_device_index(choice.index);
  *run.mutable_graph() = request.graph();
  *run.mutable_feeds() = request.feeds();
  run.set_job_id(job_id);
  tgrack::v1::RunGraphReply ran;
  auto context = context_with_deadline(run_timeout_);
  {
    std::lock_guard lock(mutex_);
    active_[job_id] = Active{choice.node, context.get(), ""};
  }
  if (metrics_ != nullptr) {
    metrics_->job_scheduled(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - submitted).count());
  }
  absl::Status status = from_grpc(stub(choice.address).RunGraph(context.get(), run, &ran));
  std::string cancelled_because;
  {
    std::lock_guard lock(mutex_);
    --running_[device];
    cancelled_because = active_[job_id].cancelled_because;
    active_.erase(job_id);
  }
  finished_.notify_all();
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
  *reply.mutable_outputs() = std::move(*ran.mutable_outputs());
  reply.mutable_device()->set_node(choice.node);
  reply.mutable_device()->set_index(choice.index);
  reply.set_job_id(job_id);
  return reply;
}

}  // namespace tg
