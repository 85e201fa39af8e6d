#include "controller/job_registry.h"

#include <algorithm>
#include <set>

#include "devices/job_usage.h"
#include "net/random_id.h"

namespace tg {

namespace {
double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
bool in_scope(const std::string& scope, const tgrack::v1::JobInfo& job) {
  return scope.empty() || scope == (job.tenant().empty() ? "default" : job.tenant());
}
}  // namespace

void JobRegistry::restore(std::vector<tgrack::v1::JobInfo> finished) {
  std::lock_guard lock(mu_);
  for (tgrack::v1::JobInfo& job : finished) {
    if (finished_.size() >= history_) break;
    finished_.push_back(std::move(job));
  }
}

std::set<JobRegistry::Device> JobRegistry::devices_held(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  std::set<Device> held;
  for (const auto& [id, job] : running_) {
    if (!in_scope(tenant, job.info)) continue;
    for (const tgrack::v1::DeviceRef& d : job.info.devices()) held.emplace(d.node(), d.index());
  }
  return held;
}

std::string JobRegistry::next_id() { return random_id("job-"); }

void JobRegistry::start(const std::string& job_id, std::vector<tgrack::v1::DeviceRef> devices,
                        const std::string& plan_id, const std::string& session, CancelFn cancel,
                        const std::string& tenant) {
  Job job;
  job.info.set_job_id(job_id);
  job.info.set_tenant(tenant);
  job.info.set_state(tgrack::v1::JOB_STATE_RUNNING);
  for (tgrack::v1::DeviceRef& d : devices) *job.info.add_devices() = std::move(d);
  job.info.set_plan_id(plan_id);
  job.info.set_session(session);
  job.info.set_started_unix_seconds(unix_seconds());
  job.started = std::chrono::steady_clock::now();
  job.cancel = std::move(cancel);
  std::lock_guard lock(mu_);
  running_[job_id] = std::move(job);
}

std::string JobRegistry::finish(const std::string& job_id, const absl::Status& status,
                                const tgrack::v1::JobUsage& usage) {
  std::string reason;
  tgrack::v1::JobInfo done;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(job_id);
    if (it == running_.end()) return "";
    Job& job = it->second;
    reason = job.cancelled_because;
    job.info.set_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count());
    *job.info.mutable_usage() = usage;
    if (!reason.empty()) {
      job.info.set_state(tgrack::v1::JOB_STATE_CANCELLED);
      job.info.set_error(reason);
    } else if (status.ok()) {
      job.info.set_state(tgrack::v1::JOB_STATE_SUCCEEDED);
    } else {
      job.info.set_state(tgrack::v1::JOB_STATE_FAILED);
      job.info.set_error(std::string(status.message()));
    }
    done = job.info;
    finished_.push_front(std::move(job.info));
    if (finished_.size() > history_) finished_.pop_back();
    running_.erase(it);
  }
  finished_cv_.notify_all();
  if (on_finished_) on_finished_(done, "");
  return reason;
}

std::vector<tgrack::v1::JobInfo> JobRegistry::report(const std::string& node,
                                                     std::vector<tgrack::v1::JobInfo> running,
                                                     std::vector<tgrack::v1::JobInfo> finished,
                                                     NodeCancelFn cancel_on_node) {
  {
    std::lock_guard lock(mu_);
    std::erase_if(finished, [&](const tgrack::v1::JobInfo& job) {
      const bool seen = !reported_finished_.emplace(job.job_id(), node).second;
      if (!seen) reported_order_.emplace_back(job.job_id(), node);
      return seen;
    });
    while (reported_order_.size() > kReportsRemembered) {
      reported_finished_.erase(reported_order_.front());
      reported_order_.pop_front();
    }
  }
  if (on_finished_) {
    for (const tgrack::v1::JobInfo& job : finished) on_finished_(job, node);
  }
  std::vector<tgrack::v1::JobInfo> fresh = finished;
  {
    std::lock_guard lock(mu_);
    ++reports_[node];
    std::erase_if(running_, [&](const auto& entry) {
      const Job& job = entry.second;
      return job.reported_by == node &&
             std::none_of(running.begin(), running.end(),
                          [&](const auto& info) { return info.job_id() == entry.first; });
    });
    const double now_unix = unix_seconds();
    for (tgrack::v1::JobInfo& info : running) {
      if (running_.contains(info.job_id())) continue;
      Job job;
      job.started = std::chrono::steady_clock::now() -
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(now_unix - info.started_unix_seconds()));
      job.reported_by = node;
      job.cancel = [cancel_on_node, id = info.job_id(),
                    tenant = info.tenant()](const std::string& reason) {
        cancel_on_node(id, tenant, reason);
      };
      job.info = std::move(info);
      running_.emplace(job.info.job_id(), std::move(job));
    }
    for (tgrack::v1::JobInfo& info : finished) {
      if (auto it = running_.find(info.job_id());
          it != running_.end() && it->second.reported_by == node) {
        if (!it->second.cancelled_because.empty() && info.error().empty()) {
          info.set_error(it->second.cancelled_because);
        }
        running_.erase(it);
      }
      // A job over several daemons is reported by each: one entry, with all their devices.
      auto same = std::find_if(finished_.begin(),
                               finished_.begin() + std::min<size_t>(finished_.size(), 64),
                               [&](const auto& known) { return known.job_id() == info.job_id(); });
      if (same != finished_.begin() + std::min<size_t>(finished_.size(), 64)) {
        for (const auto& device : info.devices()) *same->add_devices() = device;
        same->set_seconds(std::max(same->seconds(), info.seconds()));
        add_usage(*same->mutable_usage(), info.usage());
        if (same->state() == tgrack::v1::JOB_STATE_SUCCEEDED) {
          same->set_state(info.state());
          same->set_error(info.error());
        }
        continue;
      }
      finished_.push_front(std::move(info));
      if (finished_.size() > history_) finished_.pop_back();
    }
  }
  finished_cv_.notify_all();
  return fresh;
}

int JobRegistry::running_on(const std::string& node, uint32_t index) const {
  std::lock_guard lock(mu_);
  int count = 0;
  for (const auto& [id, job] : running_) {
    count += std::count_if(job.info.devices().begin(), job.info.devices().end(),
                           [&](const auto& d) { return d.node() == node && d.index() == index; });
  }
  return count;
}

absl::Status JobRegistry::cancel(const std::string& job_id, const std::string& reason,
                                 const std::string& scope) {
  CancelFn fn;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(job_id);
    if (it == running_.end() || !in_scope(scope, it->second.info)) {
      const bool known = std::any_of(finished_.begin(), finished_.end(), [&](const auto& info) {
        return info.job_id() == job_id && in_scope(scope, info);
      });
      return absl::NotFoundError("job '" + job_id + "' is not running" +
                                 (known ? " (it has finished)" : " (unknown job)"));
    }
    if (!it->second.cancelled_because.empty()) return absl::OkStatus();
    it->second.cancelled_because = reason.empty() ? "cancelled by the user" : reason;
    fn = it->second.cancel;
  }
  if (fn) fn(reason.empty() ? "cancelled by the user" : reason);
  return absl::OkStatus();
}

bool JobRegistry::touches(const Job& job, const std::string& node) const {
  return std::any_of(job.info.devices().begin(), job.info.devices().end(),
                     [&](const tgrack::v1::DeviceRef& d) { return d.node() == node; });
}

std::pair<int, int> JobRegistry::drain(const std::string& node,
                                       std::chrono::milliseconds deadline,
                                       std::chrono::milliseconds report_wait) {
  std::vector<std::string> late;
  int before = 0;
  {
    std::unique_lock lock(mu_);
    const uint64_t seen = reports_[node];
    // Every job known on the node from the drain's start on: one may finish while the
    // node's reports are awaited.
    std::set<std::string> known;
    auto on_node = [&] {
      int count = 0;
      for (const auto& [id, job] : running_) {
        if (!touches(job, node)) continue;
        known.insert(id);
        ++count;
      }
      return count;
    };
    on_node();
    finished_cv_.wait_for(lock, report_wait, [&] {
      on_node();
      return reports_[node] >= seen + 2;
    });
    on_node();
    before = static_cast<int>(known.size());
    if (finished_cv_.wait_for(lock, deadline, [&] { return on_node() == 0; })) return {before, 0};
    for (const auto& [id, job] : running_) {
      if (touches(job, node)) late.push_back(id);
    }
  }
  const std::string reason = "cancelled: node '" + node + "' is being drained and the drain "
                             "deadline of " + std::to_string(deadline.count()) + " ms passed";
  int cancelled = 0;
  for (const std::string& id : late) cancelled += cancel(id, reason).ok() ? 1 : 0;
  return {before - cancelled, cancelled};
}

std::vector<tgrack::v1::JobInfo> JobRegistry::list(bool running_only,
                                                   const std::string& scope) const {
  std::lock_guard lock(mu_);
  std::vector<const Job*> running;
  for (const auto& [id, job] : running_) {
    if (in_scope(scope, job.info)) running.push_back(&job);
  }
  std::sort(running.begin(), running.end(),
            [](const Job* a, const Job* b) { return a->started < b->started; });
  std::vector<tgrack::v1::JobInfo> out;
  const auto now = std::chrono::steady_clock::now();
  for (const Job* job : running) {
    out.push_back(job->info);
    out.back().set_seconds(std::chrono::duration<double>(now - job->started).count());
  }
  if (!running_only) {
    for (const tgrack::v1::JobInfo& info : finished_) {
      if (in_scope(scope, info)) out.push_back(info);
    }
  }
  return out;
}

size_t JobRegistry::running() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

}  // namespace tg
