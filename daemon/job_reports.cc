#include "daemon/job_reports.h"

#include <absl/strings/str_cat.h>

namespace tg {

namespace v1 = tgrack::v1;

JobReports::Run::Run(JobReports& reports, const v1::RunFragmentsRequest& request,
                     const v1::Grant& grant)
    : reports_(reports), started_(std::chrono::steady_clock::now()) {
  v1::JobInfo info;
  info.set_job_id(request.job_id());
  info.set_state(v1::JOB_STATE_RUNNING);
  info.set_plan_id(request.plan_id());
  info.set_session(grant.session());
  info.set_tenant(grant.tenant());
  info.set_started_unix_seconds(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (const v1::FragmentRun& run : request.runs()) {
    v1::DeviceRef* device = info.add_devices();
    device->set_node(grant.node());
    device->set_index(run.device_index());
  }
  std::lock_guard lock(reports_.mu_);
  key_ = absl::StrCat(request.job_id(), "#", reports_.next_++);
  reports_.running_.emplace(key_, std::move(info));
}

void JobReports::Run::finish(const absl::Status& status, const v1::JobUsage& usage) {
  std::lock_guard lock(reports_.mu_);
  auto node = reports_.running_.extract(key_);
  if (node.empty()) return;
  v1::JobInfo& info = node.mapped();
  info.set_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  info.set_state(status.ok()                 ? v1::JOB_STATE_SUCCEEDED
                 : absl::IsCancelled(status) ? v1::JOB_STATE_CANCELLED
                                             : v1::JOB_STATE_FAILED);
  info.set_error(std::string(status.message()));
  *info.mutable_usage() = usage;
  reports_.finished_.push_back(std::move(info));
  reports_.keep_bound();
}

JobReports::Batch JobReports::take() {
  std::lock_guard lock(mu_);
  Batch batch;
  batch.finished.assign(std::make_move_iterator(finished_.begin()),
                        std::make_move_iterator(finished_.end()));
  finished_.clear();
  for (const auto& [key, info] : running_) batch.running.push_back(info);
  return batch;
}

void JobReports::restore(std::vector<v1::JobInfo> finished) {
  std::lock_guard lock(mu_);
  finished_.insert(finished_.begin(), std::make_move_iterator(finished.begin()),
                   std::make_move_iterator(finished.end()));
  keep_bound();
}

void JobReports::keep_bound() {
  while (finished_.size() > kFinishedKept) finished_.pop_front();
}

}  // namespace tg
