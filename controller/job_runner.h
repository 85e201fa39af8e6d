// JobRunner: runs submitted graphs on the pool.
//
// submit() validates the graph and its feeds (INVALID_ARGUMENT naming the node or input,
// before anything is placed or run), places it (placement.h), forwards it to the chosen
// daemon's RunGraph under `run_timeout`, and returns the outputs, the device and a job id.
// A daemon that cannot be reached gives UNAVAILABLE naming the node and its address; errors
// the daemon returns keep their code and gain the job id and device as context. Jobs are
// recorded in the JobRegistry; cancelling one (tgctl cancel, a drain's deadline) stops it on
// its daemon and fails it with CANCELLED and the reason. The daemon's run is bounded by the
// caller's timeout too: when that passes first the job fails with DEADLINE_EXCEEDED and is
// stopped on its daemon. Thread-safe; jobs run concurrently.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "controller/controller_metrics.h"
#include "controller/job_registry.h"
#include "controller/membership.h"
#include "controller/node_stubs.h"
#include "tgrack/v1/controller.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class JobRunner {
 public:
  // Every argument must outlive the runner.
  JobRunner(const Membership& membership, NodeStubs& stubs, JobRegistry& registry,
            std::chrono::milliseconds run_timeout);

  absl::StatusOr<tgrack::v1::SubmitReply> submit(
      const tgrack::v1::SubmitRequest& request,
      std::chrono::milliseconds caller_timeout = std::chrono::milliseconds::max());

  // Records jobs in `metrics` (which must outlive the runner); none by default.
  void set_metrics(ControllerMetrics* metrics) { metrics_ = metrics; }

 private:
  int jobs_running(const std::string& node, uint32_t index) const;  // Caller holds mutex_.
  absl::StatusOr<tgrack::v1::SubmitReply> run(const tgrack::v1::SubmitRequest& request,
                                              std::chrono::steady_clock::time_point submitted,
                                              std::chrono::milliseconds caller_timeout,
                                              QueuedJob& queued);

  const Membership& membership_;
  NodeStubs& stubs_;
  JobRegistry& registry_;
  const std::chrono::milliseconds run_timeout_;
  mutable std::mutex mutex_;
  std::map<std::string, int> running_;  // By device_name().
  ControllerMetrics* metrics_ = nullptr;
};

}  // namespace tg
