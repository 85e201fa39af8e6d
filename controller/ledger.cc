#include "controller/ledger.h"

#include <ctime>
#include <limits>
#include <map>
#include <utility>

#include <absl/strings/ascii.h>

namespace tg {
namespace {

std::string outcome(tgrack::v1::JobState state) {
  switch (state) {
    case tgrack::v1::JOB_STATE_SUCCEEDED: return "succeeded";
    case tgrack::v1::JOB_STATE_CANCELLED: return "cancelled";
    case tgrack::v1::JOB_STATE_RUNNING: return "running";
    default: return "failed";
  }
}

std::string day_of(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &utc);
  return text;
}

}  // namespace

void add_usage(tgrack::v1::JobUsage& sum, const tgrack::v1::JobUsage& more) {
  sum.set_flops(sum.flops() + more.flops());
  sum.set_device_seconds(sum.device_seconds() + more.device_seconds());
  sum.set_bytes_moved(sum.bytes_moved() + more.bytes_moved());
  sum.set_peak_memory_bytes(std::max(sum.peak_memory_bytes(), more.peak_memory_bytes()));
}

absl::StatusOr<bool> Ledger::record(const tgrack::v1::JobInfo& job,
                                    const std::string& device_kind,
                                    const std::string& reported_by) {
  tgrack::v1::LedgerEntry entry;
  entry.set_job_id(job.job_id());
  entry.set_tenant(job.tenant().empty() ? "default" : job.tenant());
  *entry.mutable_devices() = job.devices();
  entry.set_device_kind(device_kind);
  *entry.mutable_usage() = job.usage();
  entry.set_started_unix_seconds(job.started_unix_seconds());
  entry.set_finished_unix_seconds(job.started_unix_seconds() + job.seconds());
  entry.set_outcome(outcome(job.state()));
  const std::string key = reported_by.empty() ? job.job_id() : job.job_id() + "@" + reported_by;
  size_t appended = 0;
  if (absl::Status status = store_.commit({}, {{"ledger", entry.SerializeAsString(), key},
                                               {"jobs", job.SerializeAsString(), key}},
                                          &appended);
      !status.ok()) {
    return status;
  }
  return appended > 0;
}

absl::StatusOr<std::vector<tgrack::v1::LedgerEntry>> Ledger::entries() const {
  auto stored = store_.log("ledger", 0, std::numeric_limits<size_t>::max());
  if (!stored.ok()) return stored.status();
  std::vector<tgrack::v1::LedgerEntry> entries;
  entries.reserve(stored->size());
  for (const StateStore::Entry& e : *stored) entries.emplace_back().ParseFromString(e.value);
  return entries;
}

absl::StatusOr<tgrack::v1::GetUsageReply> Ledger::usage(
    const std::string& scope, const tgrack::v1::GetUsageRequest& request) const {
  if (!request.by().empty() && request.by() != "device-kind" && request.by() != "day") {
    return absl::InvalidArgumentError("usage by '" + request.by() +
                                      "': expected device-kind or day");
  }
  auto all = entries();
  if (!all.ok()) return all.status();
  std::map<std::pair<std::string, std::string>, tgrack::v1::UsageRow> rows;
  for (const tgrack::v1::LedgerEntry& entry : *all) {
    if (!scope.empty() && entry.tenant() != scope) continue;
    if (!request.tenant().empty() && entry.tenant() != request.tenant()) continue;
    if (entry.finished_unix_seconds() < request.since_unix_seconds()) continue;
    const std::string key = request.by() == "device-kind" ? entry.device_kind()
                            : request.by() == "day"       ? day_of(entry.finished_unix_seconds())
                                                          : "";
    tgrack::v1::UsageRow& row = rows[{entry.tenant(), key}];
    row.set_tenant(entry.tenant());
    row.set_key(key);
    row.set_job_count(row.job_count() + 1);
    add_usage(*row.mutable_usage(), entry.usage());
  }
  tgrack::v1::GetUsageReply reply;
  for (auto& [key, row] : rows) *reply.add_rows() = std::move(row);
  return reply;
}

absl::StatusOr<tgrack::v1::JobUsage> Ledger::used(const std::string& tenant,
                                                  double since_unix_seconds) const {
  tgrack::v1::GetUsageRequest request;
  request.set_tenant(tenant);
  request.set_since_unix_seconds(since_unix_seconds);
  auto reply = usage("", request);
  if (!reply.ok()) return reply.status();
  return reply->rows().empty() ? tgrack::v1::JobUsage() : reply->rows(0).usage();
}

absl::StatusOr<std::vector<tgrack::v1::JobInfo>> Ledger::recent_jobs(size_t limit) const {
  auto stored = store_.log_tail("jobs", limit);
  if (!stored.ok()) return stored.status();
  std::vector<tgrack::v1::JobInfo> jobs;
  for (auto it = stored->rbegin(); it != stored->rend(); ++it) {
    jobs.emplace_back().ParseFromString(it->value);
  }
  return jobs;
}

}  // namespace tg
