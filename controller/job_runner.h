// JobRunner: runs submitted graphs on the pool.
//
// submit() validates the graph and its feeds (INVALID_ARGUMENT naming the node or input,
// before anything is placed or run), places it (placement.h), forwards it to the chosen
// daemon's RunGraph under `run_timeout`, and returns the outputs, the device and a job id.
// A daemon that cannot be reached gives UNAVAILABLE naming the node and its address; errors
// the daemon returns keep their code and gain the job id and device as context.
// Thread-safe; jobs run concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <utility>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "controller/controller_metrics.h"
#include "controller/membership.h"
#include "tgrack/v1/controller.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class JobRunner {
 public:
  // `membership` must outlive the runner.
  JobRunner(const Membership& membership, std::chrono::milliseconds run_timeout);

  absl::StatusOr<tgrack::v1::SubmitReply> submit(const tgrack::v1::SubmitRequest& request);

  // Records jobs in `metrics` (which must outlive the runner); none by default.
  void set_metrics(ControllerMetrics* metrics) { metrics_ = metrics; }

  // Waits up to `deadline` for the jobs running on `node` to finish, then cancels the rest:
  // each fails with CANCELLED naming the node and the drain. The caller cordons the node
  // first so no new job lands there. Returns {finished, cancelled}.
  std::pair<int, int> drain(const std::string& node, std::chrono::milliseconds deadline);

 private:
  tgrack::v1::NodeService::Stub& stub(const std::string& address);
  int jobs_running(const std::string& node, uint32_t index) const;  // Caller holds mutex_.
  absl::StatusOr<tgrack::v1::SubmitReply> run(const tgrack::v1::SubmitRequest& request,
                                              std::chrono::steady_clock::time_point submitted);

  const Membership& membership_;
  const std::chrono::milliseconds run_timeout_;
  std::atomic<uint64_t> next_job_{1};
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;  // By address.
  std::map<std::string, int> running_;  // By device_name().
  struct Active {
    std::string node;
    grpc::ClientContext* context = nullptr;
    std::string cancelled_because;  // Set when a drain cancels the job.
  };
  std::map<std::string, Active> active_;  // By job id; guarded by mutex_.
  std::condition_variable finished_;
  ControllerMetrics* metrics_ = nullptr;
};

}  // namespace tg
