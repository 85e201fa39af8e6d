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
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <absl/status/statusor.h>

#include "controller/membership.h"
#include "tgrack/v1/controller.pb.h"
#include "tgrack/v1/node.grpc.pb.h"

namespace tg {

class JobRunner {
 public:
  // `membership` must outlive the runner.
  JobRunner(const Membership& membership, std::chrono::milliseconds run_timeout);

  absl::StatusOr<tgrack::v1::SubmitReply> submit(const tgrack::v1::SubmitRequest& request);

 private:
  tgrack::v1::NodeService::Stub& stub(const std::string& address);
  int jobs_running(const std::string& node, uint32_t index) const;  // Caller holds mutex_.

  const Membership& membership_;
  const std::chrono::milliseconds run_timeout_;
  std::atomic<uint64_t> next_job_{1};
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<tgrack::v1::NodeService::Stub>> stubs_;  // By address.
  std::map<std::string, int> running_;  // By device_name().
};

}  // namespace tg
