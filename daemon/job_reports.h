// JobReports: the runs clients drive directly on this daemon (under a grant, without the
// controller), kept until a heartbeat hands them to the controller, so tgctl jobs, metrics,
// drain and cancel see them. A Run records one from start to end; take() gives the finished
// runs (removed) and the running ones (kept); a report names the grant's tenant and, once
// finished, what the run used (tgrack.v1.JobUsage). restore() puts back what a failed heartbeat
// could not deliver. While the controller is away the oldest finished runs beyond a bound are
// dropped, so memory stays bounded. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "tgrack/v1/controller.pb.h"
#include "tgrack/v1/grant.pb.h"
#include "tgrack/v1/node.pb.h"

namespace tg {

class JobReports {
 public:
  // One run, recorded as running from construction to finish().
  class Run {
   public:
    Run(JobReports& reports, const tgrack::v1::RunFragmentsRequest& request,
        const tgrack::v1::Grant& grant);
    void finish(const absl::Status& status, const tgrack::v1::JobUsage& usage);

   private:
    JobReports& reports_;
    std::string key_;
    std::chrono::steady_clock::time_point started_;
  };

  struct Batch {
    std::vector<tgrack::v1::JobInfo> finished;
    std::vector<tgrack::v1::JobInfo> running;
  };
  Batch take();
  void restore(std::vector<tgrack::v1::JobInfo> finished);

 private:
  static constexpr size_t kFinishedKept = 10000;
  void keep_bound();  // Caller holds mu_.

  std::mutex mu_;
  uint64_t next_ = 0;
  std::map<std::string, tgrack::v1::JobInfo> running_;  // By job id and a run counter.
  std::deque<tgrack::v1::JobInfo> finished_;           // Oldest first.
};

}  // namespace tg
