// Ledger: what every finished job used, by tenant, kept in the StateStore ("ledger" log, and
// the job itself in the "jobs" log, in the same transaction). A job over several daemons is
// reported by each of them and recorded once per daemon: its entries sum to the job's usage.
// An entry is keyed by its job and reporting daemon, so a report the daemon sends again
// (its heartbeat's reply was lost) is not recorded twice, also across controller restarts.
// usage() sums entries by tenant and by device kind or day; used() is what quotas compare
// against. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include "controller/state_store.h"
#include "tgrack/v1/controller.pb.h"

namespace tg {

class Ledger {
 public:
  explicit Ledger(StateStore& store) : store_(store) {}  // `store` must outlive it.

  // Records a finished job as `reported_by` reported it ("" = the controller ran it);
  // `device_kind` is the kind of its first device. True when recorded now, false when that
  // report was recorded before.
  absl::StatusOr<bool> record(const tgrack::v1::JobInfo& job, const std::string& device_kind,
                              const std::string& reported_by = "");
  // The sums asked for, over the entries of `scope` ("" = every tenant).
  absl::StatusOr<tgrack::v1::GetUsageReply> usage(const std::string& scope,
                                                  const tgrack::v1::GetUsageRequest& request) const;
  // What `tenant`'s jobs finished at or after `since_unix_seconds` used in all.
  absl::StatusOr<tgrack::v1::JobUsage> used(const std::string& tenant,
                                            double since_unix_seconds) const;
  // The newest `limit` finished jobs, newest first (job history across restarts).
  absl::StatusOr<std::vector<tgrack::v1::JobInfo>> recent_jobs(size_t limit) const;

 private:
  absl::StatusOr<std::vector<tgrack::v1::LedgerEntry>> entries() const;

  StateStore& store_;
};

// Adds `more` to `sum` (peak memory: the larger of the two).
void add_usage(tgrack::v1::JobUsage& sum, const tgrack::v1::JobUsage& more);

}  // namespace tg
