// JobRegistry: every graph job the controller runs, running and recently finished, for
// tgctl jobs, tgctl cancel and drains.
//
// A runner calls start() before it sends work to daemons (with a function that stops the
// job's work there) and finish() with its outcome. cancel() records the reason and calls
// that function once; the runner then reports CANCELLED with the reason. drain() waits for
// the jobs touching a node and cancels those still running at the deadline. The last
// `history` finished jobs are kept. Jobs that clients run on daemons directly (under grants)
// arrive through report(), from the daemons' heartbeats. Thread-safe; the cancel function is
// called without the registry's lock held. Every job belongs to a tenant; calls given a
// tenant `scope` ("" = every tenant) see only its jobs, and answer for another tenant's job
// exactly as for one that does not exist. Each finished job goes to the on_finished hook
// (the ledger), called without the lock held. A daemon's report of a finished job that it
// sends again (its heartbeat's reply was lost) counts once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include "tgrack/v1/controller.pb.h"

namespace tg {

class JobRegistry {
 public:
  using CancelFn = std::function<void(const std::string& reason)>;

  explicit JobRegistry(size_t history = 1000) : history_(history) {}

  // `reported_by`: the node whose daemon reported the job; "" = the controller ran it.
  using FinishedFn =
      std::function<void(const tgrack::v1::JobInfo& job, const std::string& reported_by)>;
  // Set before the first job starts.
  void set_on_finished(FinishedFn on_finished) { on_finished_ = std::move(on_finished); }
  // Jobs that finished before a restart, newest first, listed after those finished since.
  void restore(std::vector<tgrack::v1::JobInfo> finished);

  // A new job id: "job-" and 128 random bits, so a tenant cannot guess another's.
  std::string next_id();
  void start(const std::string& job_id, std::vector<tgrack::v1::DeviceRef> devices,
             const std::string& plan_id, const std::string& session, CancelFn cancel,
             const std::string& tenant = "default");
  // Records the outcome and what the job used (summed over its daemons). Returns the cancel
  // reason when the job was cancelled, else "".
  std::string finish(const std::string& job_id, const absl::Status& status,
                     const tgrack::v1::JobUsage& usage = {});

  // Jobs clients ran directly on `node`, as its daemon reported them: those running now
  // (replacing the node's earlier report) and those finished since. `cancel_on_node` stops
  // a reported running job (of `tenant`) on that daemon. A job reported finished by several
  // daemons is one entry: their devices joined, their usage summed.
  // Returns the finished jobs it had not been told of by that node before.
  using NodeCancelFn = std::function<void(const std::string& job_id, const std::string& tenant,
                                          const std::string& reason)>;
  std::vector<tgrack::v1::JobInfo> report(const std::string& node,
                                          std::vector<tgrack::v1::JobInfo> running,
                                          std::vector<tgrack::v1::JobInfo> finished,
                                          NodeCancelFn cancel_on_node);
  // Jobs running on device `index` of `node` (for placement).
  int running_on(const std::string& node, uint32_t index) const;

  // NOT_FOUND naming the job when it is not running.
  absl::Status cancel(const std::string& job_id, const std::string& reason,
                      const std::string& scope = "");
  // A device as (node, index).
  using Device = std::pair<std::string, uint32_t>;
  // The distinct devices the running jobs of `tenant` hold.
  std::set<Device> devices_held(const std::string& tenant) const;
  // Waits up to `deadline` for the running jobs on `node`; cancels the rest with a reason
  // naming the node and the drain. Returns {finished, cancelled}. Jobs clients run directly
  // are known from the node's reports, so it first waits (up to `report_wait`) for two more
  // reports from the node: the second was taken after the drain began.
  std::pair<int, int> drain(const std::string& node, std::chrono::milliseconds deadline,
                            std::chrono::milliseconds report_wait = std::chrono::milliseconds(0));

  // Running jobs first (oldest first), then finished ones (newest first).
  std::vector<tgrack::v1::JobInfo> list(bool running_only, const std::string& scope = "") const;
  size_t running() const;

 private:
  struct Job {
    tgrack::v1::JobInfo info;
    std::chrono::steady_clock::time_point started;
    CancelFn cancel;
    std::string cancelled_because;
    std::string reported_by;  // The node whose daemon reported it; "" = run by the controller.
  };
  bool touches(const Job& job, const std::string& node) const;

  static constexpr size_t kReportsRemembered = 16384;
  const size_t history_;
  FinishedFn on_finished_;
  mutable std::mutex mu_;
  std::condition_variable finished_cv_;
  std::map<std::string, Job> running_;
  std::map<std::string, uint64_t> reports_;  // Reports received, by node.
  std::deque<tgrack::v1::JobInfo> finished_;  // Newest first.
  // Finished jobs as (job id, node) the nodes reported, the oldest first out.
  std::set<std::pair<std::string, std::string>> reported_finished_;
  std::deque<std::pair<std::string, std::string>> reported_order_;
};

}  // namespace tg
