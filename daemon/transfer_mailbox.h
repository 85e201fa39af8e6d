// TransferMailbox: values sent to this daemon's devices (SEND -> RECV), keyed by job id and
// transfer key. A value may arrive before its receiver asks for it: it is kept until taken,
// until its job ends here (end_job) or until it has waited `ttl`, whichever comes first.
//
// Thread-safe. take() blocks, bounded by its timeout and woken by its run's cancellation.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "daemon/job_cancels.h"
#include "devices/tensor.h"

namespace tg {

class TransferMailbox {
 public:
  explicit TransferMailbox(std::chrono::milliseconds ttl = std::chrono::seconds(60)) : ttl_(ttl) {}

  // Leaves `value` for (job_id, key). ALREADY_EXISTS naming the key and job when a value is
  // already waiting under it (keys are unique within a run).
  absl::Status put(const std::string& job_id, const std::string& key, HostTensor value);

  // Takes the value for (job_id, key), waiting up to `timeout` for it. DEADLINE_EXCEEDED
  // naming the key, the job and `sender` (the sending device, "node/index") when nothing
  // arrives in time; the cancelling status of `cancel` (may be null) when it is cancelled.
  absl::StatusOr<HostTensor> take(const std::string& job_id, const std::string& key,
                                  const std::string& sender, std::chrono::milliseconds timeout,
                                  CancelToken* cancel);

  // Drops the values of `job_id` nobody took: its run on this daemon is over.
  void end_job(const std::string& job_id);

  // Values waiting now (after dropping expired ones).
  size_t pending();
  // take() calls waiting now for a value that has not arrived.
  size_t waiting();

 private:
  using Clock = std::chrono::steady_clock;
  void expire(Clock::time_point now);  // Caller holds mu_.

  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::condition_variable arrived_;
  // (job_id, key) -> value and when it arrived. Guarded by mu_.
  std::map<std::pair<std::string, std::string>, std::pair<HostTensor, Clock::time_point>> values_;
  size_t waiting_ = 0;  // Guarded by mu_.
};

}  // namespace tg
