#include "daemon/job_cancels.h"

#include <algorithm>
#include <vector>

namespace tg {
namespace {

constexpr std::chrono::seconds kRememberCancelled{60};

}  // namespace

void CancelToken::cancel(absl::Status why) {
  std::vector<std::function<void()>> run;
  std::lock_guard running(running_);
  {
    std::lock_guard lock(mu_);
    if (!status_.ok() || why.ok()) return;
    status_ = std::move(why);
    stopped_.store(true, std::memory_order_relaxed);
    for (auto& [handle, fn] : callbacks_) run.push_back(fn);
  }
  for (auto& fn : run) fn();
}

absl::Status CancelToken::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

uint64_t CancelToken::on_cancel(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (status_.ok()) {
      callbacks_[next_] = std::move(fn);
      return next_++;
    }
  }
  fn();
  return 0;
}

void CancelToken::remove(uint64_t handle) {
  std::lock_guard running(running_);
  std::lock_guard lock(mu_);
  callbacks_.erase(handle);
}

JobCancels::Scope::~Scope() { owner_->leave(job_id_, token_); }

void JobCancels::forget_old(std::chrono::steady_clock::time_point now) {
  std::erase_if(recent_,
                [&](const auto& entry) { return now - entry.second.when > kRememberCancelled; });
}

std::unique_ptr<JobCancels::Scope> JobCancels::enter(const std::string& job_id,
                                                     const std::string& tenant) {
  auto token = std::make_shared<CancelToken>();
  std::lock_guard lock(mu_);
  forget_old(std::chrono::steady_clock::now());
  auto [begin, end] = recent_.equal_range(job_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second.tenant.empty() || it->second.tenant == tenant) token->cancel(it->second.why);
  }
  running_.emplace(job_id, Run{token, tenant});
  return std::make_unique<Scope>(this, job_id, token);
}

bool JobCancels::cancel(const std::string& job_id, const std::string& reason,
                        const std::string& tenant) {
  const absl::Status why = absl::CancelledError(
      "cancelled: " + (reason.empty() ? std::string("no reason given") : reason));
  std::vector<std::shared_ptr<CancelToken>> tokens;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    forget_old(now);
    auto [first, last] = recent_.equal_range(job_id);
    if (std::none_of(first, last,
                     [&](const auto& entry) { return entry.second.tenant == tenant; })) {
      recent_.emplace(job_id, Cancelled{why, tenant, now});  // The first reason stands.
    }
    auto [begin, end] = running_.equal_range(job_id);
    for (auto it = begin; it != end; ++it) {
      if (tenant.empty() || it->second.tenant == tenant) tokens.push_back(it->second.token);
    }
  }
  for (auto& token : tokens) token->cancel(why);
  return !tokens.empty();
}

void JobCancels::leave(const std::string& job_id, const std::shared_ptr<CancelToken>& token) {
  std::lock_guard lock(mu_);
  auto [begin, end] = running_.equal_range(job_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second.token == token) {
      running_.erase(it);
      return;
    }
  }
}

}  // namespace tg
