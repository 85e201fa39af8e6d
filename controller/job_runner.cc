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

absl::StatusOr<tgrack::v1::SubmitReply> JobRunner::submit(
    const tgrack::v1::SubmitRequest& request) {
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
  absl::Status status = from_grpc(stub(choice.address).RunGraph(context.get(), run, &ran));
  {
    std::lock_guard lock(mutex_);
    --running_[device];
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
